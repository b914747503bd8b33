"""`grekko up` as a user runs it: a real process, real uvicorn on a free port, real HTTP and
WebSocket clients; then the logs of the whole session are searched for every secret it handled."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets

pytestmark = pytest.mark.slow
SECRET_VALUE = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"  # noqa: S105 - planted to be searched for
TRADER_PASSWORD = "trader password 1234"  # noqa: S105 - a test user's password


def grekko() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, port: int) -> None:
        env = {**os.environ, "GREKKO_RISK__MAX_ORDERS_PER_SECOND": "1000"}
        self.port = port
        self.proc = subprocess.Popen(
            [
                *grekko(),
                "up",
                "--no-devnet",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--speed",
                "200",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"grekko up did not become ready: {self.proc.stderr}")

    def stop(self) -> tuple[str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        return out, err


def login(url: str, username: str, password: str) -> str:
    answer = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def first_order_event(url: str, token: str, submit: object) -> dict[str, object]:
    ws_url = url.replace("http", "ws") + "/ws"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"op": "auth", "token": token}))
        assert json.loads(await ws.recv())["ok"] is True
        await ws.send(json.dumps({"op": "subscribe", "topics": ["orders"]}))
        assert json.loads(await ws.recv())["op"] == "subscribed"
        await asyncio.to_thread(submit)  # type: ignore[arg-type]
        while True:  # the replay's strategy trades too: wait for the manual order's event
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["op"] == "event" and str(frame["data"].get("client_order_id", "")).startswith(
                "M-"
            ):
                return frame


def test_a_full_session_serves_trades_streams_and_leaks_no_secret(tmp_path: Path) -> None:
    server = Server(tmp_path, free_port())
    url = server.url
    try:
        admin_password = re.search(r"password (\S+)", server.proc.stderr.readline()).group(1)  # type: ignore[union-attr]
        admin = {"Authorization": f"Bearer {login(url, 'admin', admin_password)}"}
        created = httpx.post(
            f"{url}/api/v1/users",
            json={"username": "tess", "password": TRADER_PASSWORD, "role": "trader"},
            headers=admin,
        )
        assert created.status_code in (200, 201), created.text
        trader_token = login(url, "tess", TRADER_PASSWORD)
        trader = {"Authorization": f"Bearer {trader_token}"}
        key = httpx.post(
            f"{url}/api/v1/api-keys", json={"name": "bot", "role": "viewer"}, headers=trader
        )
        assert key.status_code in (200, 201), key.text
        api_key = key.json()["key"]
        stored = httpx.put(
            f"{url}/api/v1/secrets/exchange/coinbase/api_secret",
            json={"value": SECRET_VALUE},
            headers=admin,
        )
        assert stored.status_code == 204
        assert httpx.get(f"{url}/api/v1/secrets", headers=admin).json() == [
            "exchange/coinbase/api_secret"
        ]

        order = {
            "instrument_id": "BTC/USDT@paper",
            "side": "buy",
            "type": "market",
            "quantity": "0.001",
        }
        answers: list[httpx.Response] = []

        def submit() -> None:
            headers = {**trader, "Idempotency-Key": "order-1"}
            # a retry with the same key: the same order, not a second one
            answers.extend(
                httpx.post(f"{url}/api/v1/orders", json=order, headers=headers) for _ in range(2)
            )

        event = asyncio.run(first_order_event(url, trader_token, submit))
        assert answers[0].status_code == 201, answers[0].text
        assert answers[1].json() == answers[0].json()
        assert answers[1].headers["idempotent-replay"] == "true"
        assert event["topic"] == "orders"
        cid = answers[0].json()["client_order_id"]
        assert event["data"]["client_order_id"] == cid  # type: ignore[index]
        mine = httpx.get(f"{url}/api/v1/orders?limit=1000", headers={"X-API-Key": api_key}).json()
        assert [o["client_order_id"] for o in mine].count(cid) == 1
        assert httpx.get(f"{url}/api/v1/audit/verify", headers=admin).json()["ok"] is True
        metrics = httpx.get(f"{url}/metrics", headers={"X-API-Key": api_key}).text
        assert (
            'grekko_http_requests_total{method="POST",route="/api/v1/orders",status="201"}'
            in metrics
        )
        assert "grekko_ws_clients" in metrics
    finally:
        out, err = server.stop()

    logs = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*"))
    for secret in (SECRET_VALUE, TRADER_PASSWORD, admin_password, api_key, trader_token):
        assert secret not in logs
        assert secret not in out
    assert admin_password not in err.split("\n", 1)[-1]  # shown once, on the first line only
    assert json.loads(out)["session"]["orders"] >= 1
