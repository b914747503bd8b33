"""API keys and user administration over HTTP: a key is shown once, listed without its secret,
works as X-API-Key or Bearer, acts with at most its owner's role, and dies when revoked."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest
import sqlalchemy as sa
from auth_support import (
    API,
    PASSWORD,
    AuditLog,
    Clock,
    bearer,
    client,
    login,
    make_service,
    problem_code,
    tokens_of,
)

from grekko.api.auth.service import AuthService

pytestmark = pytest.mark.asyncio


@pytest.fixture
def service(engine: sa.Engine, clock: Clock) -> AuthService:
    service = make_service(engine, clock)
    service.create_user("alice", PASSWORD, "trader")
    service.create_user("root", PASSWORD, "admin")
    return service


async def session(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    return bearer((await tokens_of(http, name))["access_token"])


async def test_key_lifecycle(
    service: AuthService, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    audit: AuditLog = []
    async with client(service, audit) as http:
        alice = await session(http, "alice")
        made = await http.post(
            f"{API}/api-keys", json={"name": "bot", "role": "viewer"}, headers=alice
        )
        assert made.status_code == 201
        assert made.headers["cache-control"] == "no-store"
        key, key_id = made.json()["key"], made.json()["key_id"]
        assert key.startswith(f"gk_{key_id}_")
        assert made.json()["role"] == "viewer"

        listed = await http.get(f"{API}/api-keys", headers=alice)
        assert [k["key_id"] for k in listed.json()] == [key_id]
        assert "key" not in listed.json()[0]
        assert key.split("_", 2)[2] not in listed.text

        clock.now += 5
        as_header = await http.get(f"{API}/auth/me", headers={"X-API-Key": key})
        assert as_header.status_code == 200
        assert (as_header.json()["via"], as_header.json()["effective_role"]) == (
            "api_key",
            "viewer",
        )
        as_bearer = await http.get(f"{API}/probe/any", headers=bearer(key))
        assert as_bearer.json() == {"user": "alice", "via": "api_key"}
        too_low = await http.get(f"{API}/probe/trader", headers={"X-API-Key": key})
        assert problem_code(too_low) == "forbidden"  # the key is a viewer, alice a trader
        listed = (await http.get(f"{API}/api-keys", headers=alice)).json()
        assert listed[0]["last_used_at"] == "2026-01-01T00:00:05.000000Z"

        revoked = await http.delete(f"{API}/api-keys/{key_id}", headers=alice)
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        dead = await http.get(f"{API}/auth/me", headers={"X-API-Key": key})
        assert dead.status_code == 401
        assert problem_code(dead) == "api_key_invalid"

    assert key not in caplog.text
    assert key.split("_", 2)[2] not in caplog.text
    stored = service.store.get_api_key(key_id)
    assert stored is not None
    assert stored.key_hash == hashlib.sha256(key.split("_", 2)[2].encode()).hexdigest()
    assert [a[1] for a in audit if a[1].startswith("api_key")] == [
        "api_key.create", "api_key.revoke",
    ]  # fmt: skip


async def test_key_role_cannot_exceed_the_user(service: AuthService) -> None:
    async with client(service) as http:
        alice = await session(http, "alice")
        admin_key = await http.post(
            f"{API}/api-keys", json={"name": "escalate", "role": "admin"}, headers=alice
        )
        assert admin_key.status_code == 403
        assert problem_code(admin_key) == "role_too_high"
        default = await http.post(f"{API}/api-keys", json={"name": "mine"}, headers=alice)
        assert default.json()["role"] == "trader"


async def test_a_key_follows_its_owner_down(service: AuthService) -> None:
    root_id = service.user_by_name("root").id
    alice_id = service.user_by_name("alice").id
    key = service.create_api_key(alice_id, "trading bot", "trader").key
    async with client(service) as http:
        assert (
            await http.get(f"{API}/probe/trader", headers={"X-API-Key": key})
        ).status_code == 200
        service.set_role(alice_id, "viewer")
        demoted = await http.get(f"{API}/probe/trader", headers={"X-API-Key": key})
        assert demoted.status_code == 403
        service.disable(alice_id)
        disabled = await http.get(f"{API}/auth/me", headers={"X-API-Key": key})
        assert problem_code(disabled) == "user_disabled"
    assert service.get_user(root_id).role.value == "admin"


async def test_forged_keys_and_key_powers(service: AuthService) -> None:
    alice_id = service.user_by_name("alice").id
    real = service.create_api_key(alice_id, "bot", "trader")
    key_id = real.info.key_id
    forged = [
        f"gk_{key_id}_{'A' * 43}",  # right id, wrong secret
        f"gk_{'0' * 16}_{real.key.split('_', 2)[2]}",  # right secret, wrong id
        "gk_short",
        real.key + "x",
    ]
    async with client(service) as http:
        for key in forged:
            answer = await http.get(f"{API}/auth/me", headers={"X-API-Key": key})
            assert problem_code(answer) == "api_key_invalid", key
        by_key = await http.post(
            f"{API}/api-keys", json={"name": "child"}, headers={"X-API-Key": real.key}
        )
        assert problem_code(by_key) == "session_required"  # a leaked key cannot mint keys
        root = await session(http, "root")
        others = await http.get(f"{API}/api-keys?all=true", headers=root)
        assert [k["key_id"] for k in others.json()] == [key_id]
        alice = await session(http, "alice")
        assert (
            problem_code(await http.get(f"{API}/api-keys?all=true", headers=alice)) == "forbidden"
        )
        mine = await http.post(f"{API}/api-keys", json={"name": "r"}, headers=root)
        stolen = await http.delete(f"{API}/api-keys/{mine.json()['key_id']}", headers=alice)
        assert problem_code(stolen) == "api_key_not_found"  # others' keys look absent
        by_admin = await http.delete(f"{API}/api-keys/{key_id}", headers=root)
        assert by_admin.status_code == 200


async def test_user_administration(service: AuthService) -> None:
    audit: AuditLog = []
    async with client(service, audit) as http:
        root = await session(http, "root")
        made = await http.post(
            f"{API}/users",
            json={"username": "Bob", "password": "another long secret", "role": "trader"},
            headers=root,
        )
        assert made.status_code == 201
        assert made.json()["username"] == "bob"
        assert "password" not in made.text
        assert "another long secret" not in made.text
        dup = await http.post(
            f"{API}/users", json={"username": "bob", "password": "x" * 12}, headers=root
        )
        assert problem_code(dup) == "username_taken"
        weak = await http.post(
            f"{API}/users", json={"username": "carl", "password": "short"}, headers=root
        )
        assert problem_code(weak) == "validation_error"
        assert (await login(http, "bob", "another long secret")).status_code == 200
        listing = await http.get(f"{API}/users", headers=root)
        assert [u["username"] for u in listing.json()] == ["alice", "root", "bob"]
        assert "hash" not in listing.text
        assert "$argon2" not in listing.text
        missing = await http.patch(f"{API}/users/999", json={"role": "viewer"}, headers=root)
        assert problem_code(missing) == "user_not_found"
        empty = await http.patch(f"{API}/users/1", json={}, headers=root)
        assert problem_code(empty) == "validation_error"
    assert ("root", "user.create", "user:bob", {"role": "trader"}) in audit


async def test_the_last_admin_stays(service: AuthService) -> None:
    root_id = service.user_by_name("root").id
    async with client(service) as http:
        root = await session(http, "root")
        for change in ({"role": "trader"}, {"disabled": True}):
            answer = await http.patch(f"{API}/users/{root_id}", json=change, headers=root)
            assert problem_code(answer) == "last_admin"
        service.create_user("second", PASSWORD, "admin")
        ok = await http.patch(f"{API}/users/{root_id}", json={"role": "trader"}, headers=root)
        assert ok.json()["role"] == "trader"


async def test_wallet_links(service: AuthService) -> None:
    alice_id = service.user_by_name("alice").id
    root_id = service.user_by_name("root").id
    address = "0x" + "Ab" * 20
    async with client(service) as http:
        alice = await session(http, "alice")
        own = await http.post(
            f"{API}/users/{alice_id}/wallet", json={"address": address}, headers=alice
        )
        assert own.json()["wallet_address"] == address.lower()
        other = await http.post(
            f"{API}/users/{root_id}/wallet", json={"address": "0x" + "cd" * 20}, headers=alice
        )
        assert problem_code(other) == "forbidden"
        root = await session(http, "root")
        taken = await http.post(
            f"{API}/users/{root_id}/wallet", json={"address": address}, headers=root
        )
        assert problem_code(taken) == "wallet_taken"
        bad = await http.post(
            f"{API}/users/{root_id}/wallet", json={"address": "0x12"}, headers=root
        )
        assert problem_code(bad) == "validation_error"
