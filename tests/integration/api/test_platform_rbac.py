"""Every operation of the API, with every role and with no, expired, tampered and forged tokens.

The policy table below is the specification (viewer reads; trader trades; admin manages users,
risk limits, streams, secrets and the kill switch); the first test fails if the API grows an
operation the table does not cover, so no route can ship without an access decision.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from platform_support import Harness, running_platform

from grekko.api.principal import Role

PUBLIC = None
V, T, A = Role.VIEWER, Role.TRADER, Role.ADMIN
POLICY: dict[tuple[str, str], Role | None] = {
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): PUBLIC,
    ("GET", "/api/v1/auth/siwe/nonce"): PUBLIC,
    ("POST", "/api/v1/auth/siwe/login"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/api/v1/auth/me"): V,
    ("POST", "/api/v1/auth/mfa/enrol"): V,
    ("POST", "/api/v1/auth/mfa/verify"): V,
    ("GET", "/api/v1/api-keys"): V,
    ("POST", "/api/v1/api-keys"): V,
    ("DELETE", "/api/v1/api-keys/{key_id}"): V,
    ("POST", "/graphql"): V,
    ("GET", "/api/v1/instruments"): V,
    ("GET", "/api/v1/candles"): V,
    ("GET", "/api/v1/ticker"): V,
    ("GET", "/api/v1/orderbook"): V,
    ("GET", "/api/v1/orders"): V,
    ("GET", "/api/v1/orders/{client_order_id}"): V,
    ("GET", "/api/v1/fills"): V,
    ("GET", "/api/v1/positions"): V,
    ("GET", "/api/v1/balances"): V,
    ("GET", "/api/v1/portfolio"): V,
    ("GET", "/api/v1/risk/limits"): V,
    ("GET", "/api/v1/risk/state"): V,
    ("GET", "/api/v1/streams"): V,
    ("GET", "/api/v1/streams/{stream_id}/messages"): V,
    ("GET", "/api/v1/news"): V,
    ("GET", "/api/v1/news/bookmarks"): V,  # each user their own
    ("PUT", "/api/v1/news/bookmarks/{news_id}"): V,
    ("DELETE", "/api/v1/news/bookmarks/{news_id}"): V,
    ("GET", "/api/v1/wallets"): V,  # addresses and amounts, nothing secret
    ("GET", "/api/v1/connections"): V,  # what can be and is connected, for the caller
    ("POST", "/api/v1/walletconnect/session/create"): T,  # each trader their own session
    ("GET", "/api/v1/walletconnect/session/status"): T,
    ("DELETE", "/api/v1/walletconnect/session/disconnect"): T,
    ("POST", "/api/v1/walletconnect/request/send"): T,
    ("GET", "/api/v1/walletconnect/request/{request_id}"): T,
    ("GET", "/api/v1/events"): V,
    ("GET", "/metrics"): V,
    ("POST", "/api/v1/orders"): T,
    ("DELETE", "/api/v1/orders/{client_order_id}"): T,
    ("GET", "/api/v1/users"): A,
    ("POST", "/api/v1/users"): A,
    ("PATCH", "/api/v1/users/{user_id}"): A,
    ("POST", "/api/v1/users/{user_id}/wallet"): V,  # own wallet; others' need admin (test below)
    ("PATCH", "/api/v1/risk/limits"): A,
    ("POST", "/api/v1/risk/state"): A,
    ("POST", "/api/v1/risk/kill-switch"): A,
    ("POST", "/api/v1/streams"): A,
    ("DELETE", "/api/v1/streams/{stream_id}"): A,
    ("POST", "/api/v1/streams/{stream_id}/pause"): A,
    ("POST", "/api/v1/streams/{stream_id}/resume"): A,
    ("POST", "/api/v1/streams/{stream_id}/messages"): A,
    ("GET", "/api/v1/audit"): A,
    ("GET", "/api/v1/audit/verify"): A,
    ("GET", "/api/v1/secrets"): A,
    ("PUT", "/api/v1/secrets/{name}"): A,
    ("GET", "/api/v1/agents"): V,
    ("GET", "/api/v1/agents/{agent_id}"): V,
    ("GET", "/api/v1/agents/{agent_id}/state"): V,
    ("GET", "/api/v1/agents/{agent_id}/performance"): V,
    ("GET", "/api/v1/agents/{agent_id}/analysis"): V,
    ("GET", "/api/v1/agents/messages"): V,
    ("GET", "/api/v1/agents/proposals"): V,
    ("GET", "/api/v1/agents/proposals/{proposal_id}"): V,
    ("GET", "/api/v1/agents/confirmations"): V,
    ("POST", "/api/v1/agents/{agent_id}/propose"): T,
    ("POST", "/api/v1/agents/messages"): T,
    ("POST", "/api/v1/agents/proposals"): T,
    ("POST", "/api/v1/agents/proposals/{proposal_id}/votes"): T,
    ("POST", "/api/v1/agents/proposals/{proposal_id}/consensus"): T,
    ("POST", "/api/v1/agents/proposals/{proposal_id}/confirm"): T,
    ("POST", "/api/v1/agents/proposals/{proposal_id}/reject"): T,
    ("POST", "/api/v1/agents/{agent_id}/enable"): A,
    ("POST", "/api/v1/agents/select"): A,
    ("PUT", "/api/v1/agents/{agent_id}/config"): A,
    ("PATCH", "/api/v1/agents/{agent_id}/state"): A,
    ("DELETE", "/api/v1/secrets/{name}"): A,
    ("POST", "/api/v1/metamask/connect"): T,  # each trader their own MetaMask
    ("POST", "/api/v1/metamask/network"): T,
    ("GET", "/api/v1/metamask/network/switch"): T,
    ("GET", "/api/v1/metamask/requests"): T,
    ("POST", "/api/v1/metamask/transaction/sign"): T,
    ("POST", "/api/v1/metamask/contract/interact"): T,
    ("POST", "/api/v1/metamask/swap"): T,
    ("POST", "/api/v1/metamask/disconnect"): T,
    ("POST", "/api/v1/coinbase/connect"): A,  # exchange keys into the secrets store
    ("DELETE", "/api/v1/coinbase/connect"): A,  # and out of it
    ("POST", "/api/v1/coinbase/markets"): T,
    ("GET", "/api/v1/coinbase/markets"): T,
    ("GET", "/api/v1/coinbase/accounts"): T,
    ("POST", "/api/v1/coinbase/trade/execute"): T,
    ("POST", "/api/v1/coinbase/onramp/initiate"): T,
}
PROTECTED = sorted(k for k, role in POLICY.items() if role is not None)
CALLS = sorted(POLICY)


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_platform(tmp_path) as h:
        yield h


def concrete(path: str) -> str:
    return (
        path.replace("{key_id}", "gk_missing")
        .replace("{client_order_id}", "M-missing")
        .replace("{user_id}", "999")
        .replace("{stream_id}", "missing")
        .replace("{name}", "exchange/test/key")
        .replace("{news_id}", "0" * 64)
        .replace("{request_id}", "missing")
    )


async def call(h: Harness, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs: dict[str, object] = {"headers": headers}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    answer = await h.client.request(method, concrete(path), **kwargs)  # type: ignore[arg-type]
    return answer.status_code


@pytest.mark.asyncio
async def test_the_policy_covers_every_operation_of_the_api(harness: Harness) -> None:
    schema = harness.app.openapi()
    operations = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert operations == set(POLICY)


@pytest.mark.asyncio
async def test_every_role_on_every_operation(harness: Harness) -> None:
    wrong: list[str] = []
    for method, path in CALLS:
        needed = POLICY[(method, path)]
        for role in (V, T, A):
            status = await call(harness, method, path, harness.auth(role))
            allowed = needed is None or role.allows(needed)
            if allowed and status in (401, 403):
                wrong.append(f"{role} {method} {path}: {status}, expected access")
            if not allowed and status != 403:
                wrong.append(f"{role} {method} {path}: {status}, expected 403")
    assert wrong == []


@pytest.mark.asyncio
async def test_no_expired_tampered_or_forged_token_gets_in(harness: Harness) -> None:
    good = harness.tokens[A]
    header, payload, signature = good.split(".")
    tampered_payload = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    bad_tokens = {
        "none": None,
        "garbage": "not-a-token",
        "expired": harness.forged(A, exp=int(time.time()) - 60, iat=int(time.time()) - 3600),
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-2]}xx",
        "alg none": f"{header}.{payload}.",
    }
    wrong: list[str] = []
    for method, path in PROTECTED:
        for name, token in bad_tokens.items():
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            status = await call(harness, method, path, headers)
            if status != 401:
                wrong.append(f"{name} {method} {path}: {status}")
    assert wrong == []


@pytest.mark.asyncio
async def test_unauthenticated_answers_are_problem_json_with_a_challenge(harness: Harness) -> None:
    answer = await harness.client.get("/api/v1/portfolio")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert answer.json()["code"]


@pytest.mark.asyncio
async def test_only_an_admin_links_someone_elses_wallet(harness: Harness) -> None:
    address = {"address": "0x" + "ab" * 20}
    me = (await harness.client.get("/api/v1/auth/me", headers=harness.auth(V))).json()
    other = 1 if me["id"] != 1 else 2
    answer = await harness.client.post(
        f"/api/v1/users/{other}/wallet", json=address, headers=harness.auth(T)
    )
    assert answer.status_code == 403
    own = await harness.client.post(
        f"/api/v1/users/{me['id']}/wallet", json=address, headers=harness.auth(V)
    )
    assert own.status_code == 200, own.text
