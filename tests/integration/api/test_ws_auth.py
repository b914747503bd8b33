"""/ws authentication over a real uvicorn: the first frame authenticates, or the socket is closed.

Close codes: 4401 for a bad credential or none in time, 4400 for anything but an auth frame first.
No credential ever comes back in a frame or reaches the logs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from realtime_support import (
    BAD_TOKEN,
    SECRETS,
    TRADER_KEY,
    VIEWER_TOKEN,
    TokenAuthenticator,
    live_server,
    make_app,
    server_log,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from grekko.api.principal import Principal
from grekko.api.ws import WebSocketHub, ws_router
from grekko.engines.bus import MessageBus


async def exchange(hub: WebSocketHub, *frames: str) -> tuple[list[dict[str, Any]], int | None]:
    """Send frames, then read until the server closes: (frames received, close code)."""
    received: list[dict[str, Any]] = []
    async with live_server(make_app(ws_router(hub))) as base, connect(f"{base}/ws") as ws:
        for frame in frames:
            await ws.send(frame)
        try:
            while True:
                received.append(json.loads(await ws.recv()))
                if received[-1].get("op") == "auth" and received[-1].get("ok"):
                    await ws.close()
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
    return received, code


@pytest.mark.asyncio
async def test_a_valid_token_answers_the_role_and_counts_a_client() -> None:
    hub = WebSocketHub(MessageBus(), TokenAuthenticator())
    async with live_server(make_app(ws_router(hub))) as base, connect(f"{base}/ws") as ws:
        await ws.send(json.dumps({"op": "auth", "token": TRADER_KEY}))
        assert json.loads(await ws.recv()) == {
            "op": "auth",
            "ok": True,
            "role": "trader",
            "user": "tom",
        }
        assert hub.clients == 1
        assert hub.stats()["connections_total"] == 1
    assert hub.stats()["auth_failures"] == 0


@pytest.mark.asyncio
async def test_a_bad_token_gets_an_error_frame_and_4401(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hub = WebSocketHub(MessageBus(), TokenAuthenticator())
    frames, code = await exchange(hub, json.dumps({"op": "auth", "token": BAD_TOKEN}))
    assert code == 4401
    assert frames == [
        {
            "op": "error",
            "code": "unauthorized",
            "title": "Authentication required",
            "detail": "invalid credential",
        }
    ]
    assert hub.stats()["auth_failures"] == 1
    assert hub.clients == 0
    assert not any(secret in server_log(caplog.records) for secret in SECRETS)


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (json.dumps({"op": "subscribe", "topics": ["orders"]}), "auth_required"),
        (json.dumps({"op": "auth"}), "auth_required"),
        (json.dumps({"op": "auth", "token": 12345}), "auth_required"),
        (json.dumps(["auth", VIEWER_TOKEN]), "bad_request"),
        ('{"op": "auth", "token": "' + VIEWER_TOKEN, "bad_request"),  # cut-off JSON
    ],
)
@pytest.mark.asyncio
async def test_anything_but_an_auth_frame_first_closes_4400(
    first: str, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = TokenAuthenticator()
    hub = WebSocketHub(MessageBus(), auth)
    frames, close_code = await exchange(
        hub, first, json.dumps({"op": "auth", "token": VIEWER_TOKEN})
    )
    assert close_code == 4400
    assert [f["code"] for f in frames] == [code]
    assert auth.calls == 0  # nothing else was read after the refusal
    assert not any(secret in json.dumps(frames) + server_log(caplog.records) for secret in SECRETS)


@pytest.mark.asyncio
async def test_no_auth_frame_within_the_timeout_closes_4401() -> None:
    hub = WebSocketHub(MessageBus(), TokenAuthenticator(), auth_timeout_s=0.2)
    frames, code = await exchange(hub)
    assert code == 4401
    assert [f["code"] for f in frames] == ["auth_timeout"]
    assert hub.stats()["auth_failures"] == 1


@pytest.mark.asyncio
async def test_an_authenticator_crash_is_an_internal_error_without_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def authenticate(self, credential: str) -> Principal:
            raise RuntimeError("database is down")

    hub = WebSocketHub(MessageBus(), Broken())
    frames, code = await exchange(hub, json.dumps({"op": "auth", "token": VIEWER_TOKEN}))
    assert code == 1011
    assert frames == [{"op": "error", "code": "internal_error", "title": "Internal server error"}]
    assert "websocket authentication failed" in caplog.text
    assert VIEWER_TOKEN not in caplog.text


@pytest.mark.asyncio
async def test_disconnect_user_closes_every_session_of_that_user() -> None:
    hub = WebSocketHub(MessageBus(), TokenAuthenticator())
    async with (
        live_server(make_app(ws_router(hub))) as base,
        connect(f"{base}/ws") as a,
        connect(f"{base}/ws") as b,
        connect(f"{base}/ws") as c,
    ):
        for ws, token in ((a, VIEWER_TOKEN), (b, VIEWER_TOKEN), (c, TRADER_KEY)):
            await ws.send(json.dumps({"op": "auth", "token": token}))
            assert json.loads(await ws.recv())["ok"] is True
        assert hub.disconnect_user(1) == 2
        for ws in (a, b):
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
        await c.send(json.dumps({"op": "ping"}))
        assert json.loads(await c.recv())["op"] == "pong"
        assert hub.clients == 1
