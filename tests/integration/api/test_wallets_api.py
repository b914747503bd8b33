"""Wallet endpoints on a platform running without the chain: a clear 404, not an empty list."""

from __future__ import annotations

from pathlib import Path

import pytest
from platform_support import running_platform

from grekko.api.principal import Role

pytestmark = pytest.mark.asyncio


async def test_without_the_chain_there_are_no_wallets_to_list(tmp_path: Path) -> None:
    async with running_platform(tmp_path, bars=100) as h:
        answer = await h.client.get("/api/v1/wallets", headers=h.auth(Role.VIEWER))
        assert answer.status_code == 404
        assert answer.json()["code"] == "no_wallets"
        assert "--no-devnet" in answer.json()["detail"]
        unauthenticated = await h.client.get("/api/v1/wallets")
        assert unauthenticated.status_code == 401
        trader = h.auth(Role.TRADER)
        for path in ("/api/v1/metamask/network/switch", "/api/v1/walletconnect/session/status"):
            chainless = await h.client.get(path, headers=trader)
            assert (chainless.status_code, chainless.json()["code"]) == (404, "no_wallets"), path
