"""The official SDK as the wallet: interop/wc_wallet.mjs runs @walletconnect/sign-client in node,
driven by JSON-line commands on stdin and reporting JSON-line events on stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

INTEROP = Path(__file__).resolve().parents[3] / "interop"
SCRIPT = INTEROP / "wc_wallet.mjs"
SIGN_CLIENT = INTEROP / "node_modules" / "@walletconnect" / "sign-client" / "package.json"


class NodeWallet:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []

    async def send(self, cmd: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
        await self.process.stdin.drain()

    async def expect(self, event: str, timeout: float = 30) -> dict[str, Any]:
        """The next report named `event`; an "error" report on the way fails the test."""
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                pytest.fail(
                    f"the node wallet exited (code {self.process.returncode}) before {event}"
                )
            if not line.startswith(b'{"event":'):
                continue  # the SDK's own logging, when turned up (WC_WALLET_LOG)
            report = json.loads(line)
            self.seen.append(report)
            if report["event"] == event:
                return report
            if report["event"] == "error":
                pytest.fail(f"the node wallet failed: {report}")


@contextlib.asynccontextmanager
async def node_wallet(
    relay_url: str, private_key: str, rpc_url: str | None = None
) -> AsyncIterator[NodeWallet]:
    node = shutil.which("node")
    if node is None or not SIGN_CLIENT.exists():
        pytest.fail("node and interop/node_modules (make interop) are needed for the SDK wallet")
    env = {"PATH": os.environ.get("PATH", ""), "WC_WALLET_KEY": private_key}
    if rpc_url:
        env["WC_WALLET_RPC"] = rpc_url
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        relay_url,
        env=env,
        cwd=INTEROP,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    wallet = NodeWallet(process)
    try:
        yield wallet
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
