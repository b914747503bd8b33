"""/graphql at the edge: credentials before any GraphQL, problem+json for every HTTP error, read-only,
bounded queries, GraphiQL only when asked, and nothing internal or secret in answers or logs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from realtime_support import (
    BAD_TOKEN,
    SECRETS,
    TRADER_KEY,
    VIEWER_TOKEN,
    TokenAuthenticator,
    make_app,
    server_log,
)

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.api import graphql
from grekko.api.graphql import Resolvers, graphql_router
from grekko.domain.data import Bar

PROBLEM = "application/problem+json"
POSITIONS = "{ positions { instrumentId quantity } }"


def bundled_btc_bars() -> list[Bar]:
    path = next(p for p in bundled_files() if p.name.startswith("BTCUSDT"))
    rows = list(iter_bar_rows(load_bars(path)))[:100]
    return [Bar("BTC/USDT@binance", o, h, lo, c, v, t0, t1) for t0, t1, o, h, lo, c, v in rows]


def resolvers(**overrides: Any) -> Resolvers:
    bars = bundled_btc_bars()
    fields: dict[str, Any] = {
        "portfolio": lambda: {
            "currency": "USDT", "equity": Decimal("100000"), "realized_pnl": Decimal(0),
            "unrealized_pnl": Decimal(0), "fees": Decimal(0), "balances": {"USDT": Decimal("100000")},
        },
        "orders": lambda status, limit: [],
        "positions": lambda: [
            {"instrument_id": "BTC/USDT@paper", "quantity": Decimal("0.3"), "avg_px": Decimal("56234.80"),
             "realized_pnl": Decimal(0)}
        ],
        "candles": lambda iid, tf, start, end, limit: bars[:limit],
        "news": lambda query: [],
    }  # fmt: skip
    fields.update(overrides)
    return Resolvers(**fields)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(graphql_router(resolvers(), TokenAuthenticator()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


@pytest.mark.asyncio
async def test_no_credential_is_a_401_problem_before_any_graphql(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": POSITIONS})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["code"] == "unauthenticated"
    assert "data" not in body


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Authorization": f"Bearer {BAD_TOKEN}"}, "unauthorized"),
        ({"X-API-Key": BAD_TOKEN}, "unauthorized"),
        ({"Authorization": f"Basic {VIEWER_TOKEN}"}, "token_invalid"),
        ({"Authorization": "Bearer "}, "token_invalid"),
    ],
)
@pytest.mark.asyncio
async def test_bad_credentials_are_401_problems_that_echo_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await client.post("/graphql", json={"query": POSITIONS}, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert not any(s in response.text + server_log(caplog.records) for s in SECRETS)


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {VIEWER_TOKEN}"}, {"X-API-Key": TRADER_KEY}]
)
@pytest.mark.asyncio
async def test_every_role_reads_everything(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    query = '{ portfolio { cash } positions { quantity } orders { status } news { title } candles(instrumentId: "BTC/USDT@binance", limit: 2) { open } }'
    body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
    assert "errors" not in body
    assert body["data"]["portfolio"]["cash"] == "100000"
    assert body["data"]["positions"] == [{"quantity": "0.3"}]
    assert [c["open"] for c in body["data"]["candles"]] == [b.open for b in bundled_btc_bars()[:2]]


@pytest.mark.asyncio
async def test_there_are_no_mutations_and_no_queries_over_get(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    body = (
        await client.post(
            "/graphql", json={"query": "mutation { positions { quantity } }"}, headers=auth
        )
    ).json()
    assert body["data"] is None
    assert "mutation" in body["errors"][0]["message"].lower()
    get = await client.get("/graphql", params={"query": POSITIONS}, headers=auth)
    assert get.status_code in {400, 404, 405}
    assert get.headers["content-type"] == PROBLEM
    ide = await client.get("/graphql", headers={**auth, "Accept": "text/html"})
    assert ide.status_code == 404
    assert ide.headers["content-type"] == PROBLEM


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=b"{query",
        headers={"Authorization": f"Bearer {VIEWER_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "bad_request"


@pytest.mark.asyncio
async def test_deep_wide_or_huge_queries_are_refused_before_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(graphql, "MAX_DEPTH", 1)  # the schema itself is never deeper than 2
    calls: list[str] = []
    app = make_app(
        graphql_router(resolvers(positions=lambda: calls.append("run") or []), TokenAuthenticator())
    )
    deep = "{ portfolio { balances { currency } } }"
    aliases = "{ " + " ".join(f"a{i}: positions {{ quantity }}" for i in range(16)) + " }"
    huge = "{ positions { " + "quantity " * 2500 + "} }"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for query, words in (
            (deep, "exceeds maximum operation depth"),
            (aliases, "aliases"),
            (huge, "token"),
        ):
            body = (
                await c.post("/graphql", json={"query": query}, headers={"X-API-Key": TRADER_KEY})
            ).json()
            assert body.get("data") is None
            assert words in body["errors"][0]["message"].lower()
    assert calls == []


@pytest.mark.asyncio
async def test_unexpected_errors_are_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> list[Any]:
        raise RuntimeError("connection to db-internal.local:5432 refused")

    app = make_app(graphql_router(resolvers(positions=broken), TokenAuthenticator()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post(
            "/graphql", json={"query": POSITIONS}, headers={"X-API-Key": TRADER_KEY}
        )
    body = response.json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "db-internal" not in response.text
    assert "db-internal" in caplog.text  # the operator sees it
    assert TRADER_KEY not in server_log(caplog.records)


@pytest.mark.asyncio
async def test_graphiql_only_when_enabled_and_its_queries_still_need_credentials() -> None:
    app = make_app(graphql_router(resolvers(), TokenAuthenticator(), graphiql=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        page = await c.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        assert (await c.get("/graphql", params={"query": POSITIONS})).status_code in {400, 404, 405}
        assert (await c.post("/graphql", json={"query": POSITIONS})).status_code == 401
