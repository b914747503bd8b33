"""Run anvil in the background with its chain state kept in the data dir.

anvil is started in its own session so it outlives the `grekko devnet up` that started it; a small
JSON file (devnet/anvil.json) remembers its pid and port for status and down. `--state` makes anvil
load the chain on start and dump it on exit, so down sends SIGTERM and waits: a SIGKILL would lose
everything since the last `--state-interval` dump.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from grekko.adapters.devnet.paths import ChainError, anvil_binary

DEVNET_CHAIN_ID = 31337
HOST = "127.0.0.1"
STATE_INTERVAL_S = 30  # a crashed node loses at most this much of the chain
_POLL_S = 0.02
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class DevnetInfo:
    """What devnet/anvil.json holds about the running node."""

    pid: int
    port: int
    chain_id: int
    binary: str

    @property
    def rpc_url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class DevnetStatus:
    running: bool
    pid: int | None = None
    port: int | None = None
    rpc_url: str | None = None
    chain_id: int | None = None
    block_number: int | None = None
    state_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    response = httpx.post(url, json=body, timeout=timeout)
    response.raise_for_status()
    payload = response.json()
    if "error" in payload:
        raise ChainError(f"{method} failed at {url}: {payload['error']}")
    return payload["result"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _runs(pid: int, binary: str) -> bool:
    """Guards against a recycled pid: the process must still be the anvil we started."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return argv0.decode(errors="replace") == binary


class Devnet:
    """The devnet of one data dir: <data_dir>/devnet holds the state, the pid file and the log."""

    def __init__(
        self,
        data_dir: Path,
        *,
        chain: Path | None = None,
        chain_id: int = DEVNET_CHAIN_ID,
        state_interval_s: int = STATE_INTERVAL_S,
        fork_url: str | None = None,
        fork_block: int | None = None,
    ) -> None:
        """fork_url: start anvil as a fork of that network (its contracts, balances and prices at
        fork_block, or its head), for paper trading against real pools."""
        self.dir = Path(data_dir) / "devnet"
        self.fork_url = fork_url
        self.fork_block = fork_block
        self.chain = chain
        self.chain_id = chain_id
        self.state_interval_s = state_interval_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    @property
    def info_path(self) -> Path:
        return self.dir / "anvil.json"

    @property
    def log_path(self) -> Path:
        return self.dir / "anvil.log"

    @property
    def deployments_path(self) -> Path:
        return self.dir / "deployments.json"

    def info(self) -> DevnetInfo | None:
        """The recorded node if its process is still alive, else None."""
        try:
            data = json.loads(self.info_path.read_text())
            info = DevnetInfo(**data)
        except (OSError, ValueError, TypeError):
            return None
        return info if pid_alive(info.pid) and _runs(info.pid, info.binary) else None

    def up(self, timeout_s: float = 15.0) -> DevnetInfo:
        """Start the node unless this data dir's node already runs; returns once it answers."""
        running = self.info()
        if running is not None:
            self._wait_ready(running, timeout_s)
            return running
        binary = anvil_binary(self.chain)
        self.dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(_START_ATTEMPTS):  # another process may take the free port first
            try:
                return self._start(binary, free_port(), timeout_s)
            except ChainError:
                if attempt == _START_ATTEMPTS - 1:
                    raise
        raise ChainError("unreachable")  # pragma: no cover

    def _start(self, binary: Path, port: int, timeout_s: float) -> DevnetInfo:
        args = [
            str(binary),
            *("--host", HOST, "--port", str(port), "--chain-id", str(self.chain_id)),
            *("--state", str(self.state_path), "--state-interval", str(self.state_interval_s)),
        ]
        if self.fork_url:
            args += ["--fork-url", self.fork_url]
            if self.fork_block is not None:
                args += ["--fork-block-number", str(self.fork_block)]
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our pinned binary, arguments we built
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        info = DevnetInfo(pid=proc.pid, port=port, chain_id=self.chain_id, binary=str(binary))
        self._proc = proc
        try:
            self._wait_ready(info, timeout_s)
        except ChainError:
            self._stop(info, 2.0)
            raise
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(info)))
        tmp.replace(self.info_path)
        return info

    def _wait_ready(self, info: DevnetInfo, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if not pid_alive(info.pid):
                raise ChainError(f"anvil (pid {info.pid}) exited on start:\n{self._log_tail()}")
            try:
                chain_id = int(rpc_call(info.rpc_url, "eth_chainId", timeout=1.0), 16)
            except (httpx.HTTPError, ChainError):
                chain_id = None
            if chain_id is not None:
                if chain_id != info.chain_id:
                    raise ChainError(f"{info.rpc_url} answers chain id {chain_id}")
                return
            if time.monotonic() > deadline:
                raise ChainError(f"anvil did not answer on {info.rpc_url} in {timeout_s} s")
            time.sleep(_POLL_S)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def status(self) -> DevnetStatus:
        info = self.info()
        state = str(self.state_path) if self.state_path.exists() else None
        if info is None:
            return DevnetStatus(running=False, state_file=state)
        try:
            chain_id = int(rpc_call(info.rpc_url, "eth_chainId"), 16)
            block = int(rpc_call(info.rpc_url, "eth_blockNumber"), 16)
        except (httpx.HTTPError, ChainError):
            return DevnetStatus(running=False, pid=info.pid, port=info.port, state_file=state)
        return DevnetStatus(
            running=True,
            pid=info.pid,
            port=info.port,
            rpc_url=info.rpc_url,
            chain_id=chain_id,
            block_number=block,
            state_file=state,
        )

    def down(self, timeout_s: float = 15.0) -> bool:
        """Stop the node (it dumps its state on the way out); False if none was running."""
        info = self.info()
        stopped = info is not None and self._stop(info, timeout_s)
        self.info_path.unlink(missing_ok=True)
        return stopped

    def _stop(self, info: DevnetInfo, timeout_s: float) -> bool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGTERM)
        if self._proc is not None and self._proc.pid == info.pid:
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise ChainError(f"anvil ignored SIGTERM for {timeout_s} s; killed") from None
            finally:
                self._proc = None
            return True
        deadline = time.monotonic() + timeout_s
        while pid_alive(info.pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info.pid, signal.SIGKILL)
                raise ChainError(f"anvil ignored SIGTERM for {timeout_s} s; killed")
            time.sleep(_POLL_S)
        return True

    def reset(self, timeout_s: float = 15.0) -> None:
        """Stop the node and forget its chain: state and recorded deployments are deleted."""
        self.down(timeout_s)
        self.state_path.unlink(missing_ok=True)
        self.deployments_path.unlink(missing_ok=True)
