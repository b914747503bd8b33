"""Contract test: schemathesis generates requests for every operation of the OpenAPI document
and checks that the API never answers 5xx and never answers outside its documented schemas.

It runs against the whole platform as bootstrap builds it (real auth, risk, paper venue, SQLite),
authenticated as an admin so every operation is reachable; 100 bars are replayed first so the
market and portfolio endpoints have data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from platform_support import FAST_LIMITS
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from grekko.bootstrap.api import build_platform
from grekko.settings import load_settings

pytestmark = pytest.mark.slow
CONTEXT: dict[str, Any] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data_dir: Path = tmp_path_factory.mktemp("contract")
    platform = build_platform(load_settings(data_dir, env=FAST_LIMITS), speed=1000, max_bars=300)
    session = platform.session
    for index, bar in zip(range(100), session.replay.bars(), strict=False):
        session.step(index, bar)
    app = platform.app
    CONTEXT["token"] = app.state.auth.login("admin", platform.admin_password).access_token
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        session.close()


def test_no_server_error_and_no_undocumented_response(api_schema: Any) -> None:
    headers = {"Authorization": f"Bearer {CONTEXT['token']}"}
    failures: list[str] = []
    operations = 0
    calls = [0]
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            calls[0] += 1
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            exercise()
        except Exception as error:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:600]}")
    assert operations >= 45
    assert calls[0] >= 5 * operations  # hypothesis really generated requests for each one
    assert failures == []
