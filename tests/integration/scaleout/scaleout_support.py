"""The scaled-out platform for tests: `grekko serve` processes on free ports, one PostgreSQL
database and one Redis database of the test's own, and what the processes report."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa

from e2e.e2e_support import clean_env, free_port

# two execution and two agents partitions (BTC/USDT in one, ETH/USDT in the other)
PROCESSES = ("execution-0", "execution-1", "risk", "agents-0", "agents-1", "gateway", "ingest")
PARTITIONS = 2
STANDBY = "execution-3"  # instance 3 works partition 3 % 2 = 1 too: it waits for its lease
SETTINGS = """
[replay]
strategy = "sma_cross"
quantity = 0.01

[replay.params]
fast = 3
slow = 8

[redis]
claim_idle_ms = 1500

[api]
rate_limit_user = "100000/minute"
rate_limit_ip = "100000/minute"
"""
_ADMIN = re.compile(r"created user admin with password (\S+)")


@contextmanager
def own_databases(postgres_url: str, redis_url: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database and Redis database (index 11, flushed), dropped afterwards."""
    name = f"grekko_scaleout_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    redis_db = redis_url.rsplit("/", 1)[0] + "/11"
    redis.Redis.from_url(redis_db).flushdb()
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}", redis_db
    finally:
        redis.Redis.from_url(redis_db).flushdb()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Cluster:
    data_dir: Path
    database_url: str
    redis_url: str
    ports: dict[str, int] = field(
        default_factory=lambda: {s: free_port() for s in (*PROCESSES, STANDBY)}
    )
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    admin_password: str | None = None

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "grekko.toml").write_text(SETTINGS)
        self.env = {
            **clean_env(),
            "GREKKO_DATABASE_URL": self.database_url,
            "GREKKO_REDIS__URL": self.redis_url,
            "GREKKO_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            # nobody listens there: the gateway finds agents-0 by what it announced in Redis
            "GREKKO_SERVE__AGENTS_URL": f"http://127.0.0.1:{free_port()}",
            "GREKKO_SERVE__LEASE_TTL_MS": "2000",  # a standby takes over 2 s after a death
        }

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, service: str, *extra: str, standby: bool = False) -> None:
        """service: a name of PROCESSES (or STANDBY); "execution-1" is execution's partition 1.
        A standby is waited for until it is alive (/health): it works nothing (/active 503)."""
        self.starts[service] = self.starts.get(service, 0) + 1
        log = self.data_dir / f"{service}-{self.starts[service]}.log"
        name, _, instance = service.partition("-")
        if instance:
            extra = ("--instance", instance, "--partitions", str(PARTITIONS), *extra)
        elif name == "risk":
            extra = ("--partitions", str(PARTITIONS), *extra)
        command = [
            sys.executable, "-m", "grekko.cli", "serve", name,
            "--data-dir", str(self.data_dir), "--port", str(self.ports[service]), *extra,
        ]  # fmt: skip
        with log.open("wb") as out:
            self.processes[service] = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        self.wait_ready(service, path="/health" if standby else "/ready")
        if service == "gateway" and self.admin_password is None:
            found = _ADMIN.search(log.read_text())
            assert found, f"the gateway printed no admin password:\n{self.log(service)}"
            self.admin_password = found.group(1)

    def ready(self, service: str, path: str = "/ready") -> bool:
        try:
            return httpx.get(self.url(service) + path, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, service: str, timeout_s: float = 60.0, path: str = "/ready") -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise AssertionError(f"{service} exited:\n{self.log(service)}")
            try:
                if httpx.get(self.url(service) + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{service} not ready in {timeout_s:.0f} s:\n{self.log(service)}")

    def kill(self, service: str) -> None:
        """SIGKILL: no drain, no flush, no ack."""
        process = self.processes.pop(service)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for service, process in list(self.processes.items()):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise AssertionError(f"{service} did not stop on SIGTERM") from None
        self.processes.clear()

    def log(self, service: str) -> str:
        path = self.data_dir / f"{service}-{self.starts.get(service, 1)}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def state(self, service: str) -> dict[str, Any]:
        answer = httpx.get(self.url(service) + "/state", timeout=10)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def backlog(self, service: str) -> float:
        text = httpx.get(self.url(service) + "/metrics", timeout=10).text
        found = re.findall(r"^grekko_bus_pending_entries\{[^}]*\} (\S+)$", text, re.M)
        return sum(float(v) for v in found)

    def handled(self, service: str) -> float:
        text = httpx.get(self.url(service) + "/metrics", timeout=10).text
        found = re.search(r'^grekko_bus_messages_total\{outcome="handled"\} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0


@dataclass
class EventLog:
    events: dict[str, list[str]]  # client order id -> its event types, in order
    positions: dict[str, Decimal]  # instrument -> net filled quantity
    strategies: dict[str, str]  # client order id -> strategy id
    denials: dict[str, str]  # client order id -> the risk engine's reason
    instruments: dict[str, str] = field(default_factory=dict)  # client order id -> instrument


def fold_store(database_url: str) -> EventLog:
    """From the event store alone: each order's events, strategy and denial, and positions."""
    from grekko.adapters.sql import SqlEventStore
    from grekko.domain.enums import OrderSide

    store = SqlEventStore(database_url)
    log = EventLog({}, {}, {}, {})
    events, positions = log.events, log.positions
    instrument = log.instruments
    try:
        for record in store.read_all():
            event = record.event
            coid = getattr(event, "client_order_id", None)
            if coid is None:
                continue
            events.setdefault(coid, []).append(type(event).__name__)
            if type(event).__name__ == "OrderInitialized":
                instrument[coid] = event.instrument_id  # type: ignore[attr-defined]
                log.strategies[coid] = event.strategy_id  # type: ignore[attr-defined]
            if type(event).__name__ == "OrderDenied":
                log.denials[coid] = event.reason  # type: ignore[attr-defined]
            if type(event).__name__ == "OrderFilled":
                sign = 1 if event.side is OrderSide.BUY else -1  # type: ignore[attr-defined]
                iid = instrument[coid]
                positions[iid] = positions.get(iid, Decimal(0)) + sign * event.last_qty  # type: ignore[attr-defined]
    finally:
        store.close()
    return log


class TopicListener:
    """A WebSocket client of the gateway, in a thread, keeping the event frames of one topic."""

    def __init__(self, url: str, token: str, topic: str) -> None:
        import threading

        self.frames: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._args = (url.replace("http://", "ws://") + "/ws", token, topic)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import json

        from websockets.sync.client import connect

        url, token, topic = self._args
        try:
            with connect(url, open_timeout=10) as ws:
                ws.send(json.dumps({"op": "auth", "token": token}))
                ws.send(json.dumps({"op": "subscribe", "topics": [topic]}))
                while not self._stop.is_set():
                    try:
                        frame = json.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    if frame.get("op") == "event" and frame.get("topic") == topic:
                        self.frames.append(frame)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(10)
        if self.error is not None:
            raise AssertionError(f"the WebSocket client failed: {self.error!r}")
        return self.frames
