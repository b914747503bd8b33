"""The scaled-out platform for the scale-out benchmark: `grekko serve` processes on free ports over
a PostgreSQL database and a Redis database of the benchmark's own, and what they report.

Several processes of one service share its consumer group (the group is the service's name), so
a second risk or execution process is only another `grekko serve risk --port P`.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SETTINGS = """
[replay]
strategy = "sma_cross"
quantity = 0.01

[replay.params]
fast = 3
slow = 8

[api]
rate_limit_user = "10000000/minute"
rate_limit_ip = "10000000/minute"
"""
_ADMIN = re.compile(r"created user admin with password (\S+)")
START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at url, else why not."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return f"PostgreSQL not reachable at {url} ({type(getattr(exc, 'orig', None) or exc).__name__})"
    finally:
        engine.dispose()
    return None


def redis_reachable(url: str) -> str | None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {url} ({type(exc).__name__})"
    finally:
        client.close()
    return None


@contextmanager
def postgres_database(admin_url: str, prefix: str = "grekko_bench") -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def redis_database(url: str) -> Iterator[str]:
    """The Redis database of url, flushed before and after."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@dataclass
class Process:
    service: str
    instance: int
    port: int
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return f"{self.service}-{self.instance}"

    def tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Cluster:
    """The processes this benchmark started; stop() ends exactly those, by their pid."""

    data_dir: Path
    database_url: str
    redis_url: str
    processes: list[Process] = field(default_factory=list)
    admin_password: str | None = None

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "grekko.toml").write_text(SETTINGS)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.upper().startswith("GREKKO_")},
            "GREKKO_DATABASE_URL": self.database_url,
            "GREKKO_REDIS__URL": self.redis_url,
            "GREKKO_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        }

    def start(
        self, service: str, *extra: str, instance: int = 0, partitions: int = 1, wait: bool = True
    ) -> Process:
        """One `grekko serve` process; execution and agents work partition instance % partitions,
        risk and gateway replicas read bars and order notices in a group of their instance's."""
        port = free_port()
        log = self.data_dir / f"{service}-{instance}-{len(self.processes)}.log"
        if service != "ingest":
            extra = ("--instance", str(instance), "--partitions", str(partitions), *extra)
        command = [
            sys.executable, "-m", "grekko.cli", "serve", service,
            "--data-dir", str(self.data_dir), "--port", str(port), *extra,
        ]  # fmt: skip
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=REPO
            )
        process = Process(service, instance, port, popen, log)
        self.processes.append(process)
        if wait:
            self.wait_ready(process)
        return process

    def wait_ready(self, process: Process) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.service} exited:\n{process.tail()}")
            try:
                if httpx.get(process.url + "/ready", timeout=2).status_code == 200:
                    self._read_admin_password(process)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{process.service} not ready in {START_TIMEOUT_S:.0f} s")

    def _read_admin_password(self, process: Process) -> None:
        """The gateway's first start prints the generated admin password, only then."""
        if process.service != "gateway" or self.admin_password is not None:
            return
        found = _ADMIN.search(process.log.read_text())
        if found is None:
            raise RuntimeError(f"the gateway printed no admin password:\n{process.tail()}")
        self.admin_password = found.group(1)

    def first(self, service: str) -> Process:
        return next(p for p in self.processes if p.service == service)

    def stop(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.popen.wait(30)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(10)
        self.processes.clear()

    def token(self) -> str:
        answer = httpx.post(
            self.first("gateway").url + "/api/v1/auth/login",
            json={"username": "admin", "password": self.admin_password},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def metrics(self, process: Process, token: str | None = None) -> dict[str, float]:
        """The process's Prometheus samples, by name with labels (`name{a="b"}`)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        text = httpx.get(process.url + "/metrics", headers=headers, timeout=10).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def state(self, process: Process) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(process.url + "/state", timeout=10).json()
        return answer


def group_progress(client: redis.Redis, stream: str) -> dict[str, tuple[int, int, int]]:
    """Each consumer group of stream: (entries read, lag, pending) from XINFO GROUPS."""
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # the stream does not exist yet
        return {}
    out: dict[str, tuple[int, int, int]] = {}
    for info in groups:
        name = info["name"].decode() if isinstance(info["name"], bytes) else str(info["name"])
        read = int(info.get("entries-read") or 0)
        out[name] = (read, int(info.get("lag") or 0), int(info.get("pending") or 0))
    return out


def entry_ms(entry_id: bytes | str) -> int:
    """When an entry was added (Redis's clock, ms): the time part of its id."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-")[0])


def streams(client: redis.Redis, prefix: str = "grekko.") -> list[str]:
    """Every stream whose name starts with prefix (bars, requests, approvals per partition...)."""
    names = client.scan_iter(match=prefix + "*", _type="STREAM", count=1000)
    return sorted(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def stream_span_ms(client: redis.Redis, stream: str) -> tuple[int, int] | None:
    """When the stream's first and last entries were added."""
    first, last = client.xrange(stream, count=1), client.xrevrange(stream, count=1)
    if not first or not last:
        return None
    return entry_ms(first[0][0]), entry_ms(last[0][0])
