"""Log redaction: registered values and secret shapes never reach a log output, however logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.adapters.vault import LocalVault
from grekko.api.redaction import (
    RedactionFilter,
    SecretRegistry,
    install_redaction,
    redact,
    uninstall_redaction,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwicm9sZSI6ImFkbWluIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
API_KEY = "gk_Zx8Q2mN4vB7cR1tY6uI0oP3aS5dF9gH"
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # noqa: S105 - the RFC 4226 example


@pytest.fixture
def registry() -> Iterator[SecretRegistry]:
    """Redaction installed on the root logger and the record factory, with a fresh registry."""
    fresh = SecretRegistry()
    install_redaction(("", "grekko", "uvicorn.access"), registry=fresh)
    yield fresh
    uninstall_redaction(("", "grekko", "uvicorn.access"))


def _assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    assert "[REDACTED]" in text


def test_registered_values_are_masked_in_message_and_args(
    registry: SecretRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register(TOTP_SECRET)
    registry.register("p4ss(word)+[x]")  # regex metacharacters are literal
    log = logging.getLogger("grekko.api.auth")
    with caplog.at_level(logging.INFO):
        log.info("enrolled totp %s for %r", TOTP_SECRET, {"user": "alice"})
        log.info(f"inline secret {TOTP_SECRET}")
        log.warning("login failed for alice with %s", "p4ss(word)+[x]")
    _assert_clean(caplog.text, TOTP_SECRET, "p4ss(word)+[x]")
    assert "for {'user': 'alice'}" in caplog.text
    assert all(record.args is None for record in caplog.records)


def test_secret_shapes_are_masked_without_registration(
    registry: SecretRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("grekko.wallets")
    with caplog.at_level(logging.INFO):
        log.info("Authorization: Bearer %s", JWT)
        log.info("created api key %s", API_KEY)
        log.info("imported key %s", PRIVATE_KEY)
        log.info("connect url=postgresql://u@db password=hunter2hunter2 sslmode=require")
        log.info("payload %s", {"api_key": API_KEY, "pk": PRIVATE_KEY})
    _assert_clean(caplog.text, JWT, API_KEY, PRIVATE_KEY, "hunter2hunter2")
    assert "sslmode=require" in caplog.text
    assert len(registry) == 0


def test_extra_fields_and_tracebacks_are_masked(
    registry: SecretRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("grekko.adapters.ccxt")
    with caplog.at_level(logging.INFO):
        log.info("request sent", extra={"auth_header": f"Bearer {JWT}"})
        try:
            raise ValueError(f"exchange refused key {API_KEY}")
        except ValueError:
            log.exception("order failed")
        try:
            raise RuntimeError("an ordinary failure")
        except RuntimeError:
            log.exception("kept intact")
    _assert_clean(caplog.text, JWT, API_KEY)
    assert "order failed" in caplog.text
    assert "ValueError: exchange refused key [REDACTED]" in caplog.text
    extra_record = caplog.records[0]
    assert JWT not in extra_record.auth_header  # type: ignore[attr-defined]
    assert caplog.records[2].exc_info is not None  # nothing secret: the traceback is untouched


def test_a_record_logged_to_an_unlisted_child_logger_is_masked(
    registry: SecretRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register("child-logger-secret")
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library.deep.inside").info("value child-logger-secret")
    _assert_clean(caplog.text, "child-logger-secret")


def test_the_filter_alone_on_a_logger_masks_its_records(caplog: pytest.LogCaptureFixture) -> None:
    own = SecretRegistry()
    own.register("only-the-filter-knows")
    flt = RedactionFilter(own)
    log = logging.getLogger("grekko.test.filter_only")
    log.addFilter(flt)
    try:
        with caplog.at_level(logging.INFO):
            log.info("secret %s and %s", "only-the-filter-knows", PRIVATE_KEY)
    finally:
        log.removeFilter(flt)
    _assert_clean(caplog.text, "only-the-filter-knows", PRIVATE_KEY)


def test_a_broken_record_never_raises(
    registry: SecretRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register("broken-record-secret")
    with caplog.at_level(logging.INFO):
        logging.getLogger("grekko").info("%d items", "broken-record-secret")
    _assert_clean(caplog.text, "broken-record-secret")
    assert "%d items" in caplog.text


def test_short_values_are_not_registered() -> None:
    own = SecretRegistry()
    own.register("1234")
    own.register("")
    assert len(own) == 0
    assert redact("order 1234 filled", own) == "order 1234 filled"
    own.register("abcdef")
    own.forget("abcdef")
    assert redact("abcdef", own) == "abcdef"


def test_uvicorn_access_lines_are_masked(
    registry: SecretRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            f"/api/v1/ws?token={JWT}",
            "1.1",
            101,
        )
    _assert_clean(caplog.text, JWT)


def test_a_value_read_from_the_vault_is_masked_in_the_json_log_file(
    registry: SecretRegistry, tmp_path: Path
) -> None:
    from grekko.paper.logs import configure_file_logging, remove_handler

    engine = build_engine(f"sqlite:///{tmp_path / 'grekko.db'}")
    upgrade_to_head(engine)
    vault = LocalVault(engine, bytes(32), on_reveal=registry.register)
    vault.put("exchange/coinbase/api_secret", "cb-api-secret-0f3a9d")
    grekko_level = logging.getLogger("grekko").level
    handler = configure_file_logging(tmp_path / "logs")
    install_redaction(("", "grekko", "uvicorn.access"), registry=registry)
    try:
        secret = LocalVault(engine, bytes(32), on_reveal=registry.register).get(
            "exchange/coinbase/api_secret"
        )
        logging.getLogger("grekko.adapters.ccxt.client").warning("signing with %s", secret)
    finally:
        remove_handler(handler)
        logging.getLogger("grekko").setLevel(grekko_level)
        engine.dispose()
    lines = (tmp_path / "logs" / "grekko.log").read_text().splitlines()
    event = json.loads(lines[-1])
    assert event["event"] == "signing with [REDACTED]"
    assert "cb-api-secret-0f3a9d" not in "\n".join(lines)
