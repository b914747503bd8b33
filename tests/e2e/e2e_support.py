"""The real platform for browser tests: `grekko up` as a process on a free port, and its users.

The first start prints the generated admin password on stderr (the only place it ever appears);
it is read from there, and the admin then creates the other users through the API, as an
operator would. Restarting keeps the data dir and the port, so a page can reconnect.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
STATIC_INDEX = REPO / "src" / "grekko" / "static" / "index.html"
SCREENSHOTS = REPO / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"  # noqa: S105 - the test users' password
USERS = {"tess": "trader", "vic": "viewer"}
ROLE_USER = {"admin": "admin", "trader": "tess", "viewer": "vic"}
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
_ADMIN_PASSWORD = re.compile(r"with password\s+(\S+)")

# Every login goes through the form, so the login limit is raised; nothing else is changed
# from what `make up` runs but the replay's pace and the strategy's short windows.
SETTINGS_TOML = """
[replay]
speed = {speed}
strategy = "sma_cross"
quantity = 0.01

[replay.params]
fast = 3
slow = 8

[api]
rate_limit_user = "100000/minute"
rate_limit_ip = "100000/minute"
rate_limit_login = "1000/minute"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_settings(data_dir: Path, *, speed: float = 20.0) -> None:
    """The bundled BTC/USDT and ETH/USDT slice replayed at `speed` bars a second, SMA 3/8."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "grekko.toml").write_text(SETTINGS_TOML.format(speed=speed))


def clean_env() -> dict[str, str]:
    """The caller's environment without GREKKO_* settings that would change the platform."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("GREKKO_")}


@dataclass
class Platform:
    """One `grekko up` process serving API, WebSocket and UI on 127.0.0.1:port."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    admin_password: str | None = None
    starts: int = 0
    devnet: bool = False  # the local chain (anvil, Uniswap, Aave) in the process too

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr_path(self) -> Path:
        return self.data_dir / f"up-{self.starts}.stderr"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        command = [
            sys.executable, "-m", "grekko.cli", "up", "--devnet" if self.devnet else "--no-devnet",
            "--data-dir", str(self.data_dir), "--port", str(self.port),
        ]  # fmt: skip
        with self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=clean_env(),
                cwd=self.data_dir,
            )
        self._wait_ready()
        if self.admin_password is None:
            found = _ADMIN_PASSWORD.search(self.stderr_path.read_text())
            assert found, f"the first start printed no admin password:\n{self.stderr()}"
            self.admin_password = found.group(1)

    def stop(self) -> None:
        """Ctrl-C, as an operator would: uvicorn drains, the replay stops between bars."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
            raise AssertionError(f"grekko up did not stop on SIGINT:\n{self.stderr()}") from None

    def restart(self) -> None:
        """Stop and start again on the same data dir and port."""
        self.stop()
        self.start()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def login(self, username: str, password: str = PASSWORD) -> str:
        answer = httpx.post(
            f"{self.url}/api/v1/auth/login",
            json={"username": username, "password": password},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def admin_token(self) -> str:
        assert self.admin_password is not None
        return self.login("admin", self.admin_password)

    def create_users(self) -> None:
        """The test users of USERS, made by the admin through POST /api/v1/users."""
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        for username, role in USERS.items():
            answer = httpx.post(
                f"{self.url}/api/v1/users",
                json={"username": username, "password": PASSWORD, "role": role},
                headers=headers,
                timeout=10,
            )
            assert answer.status_code == 201, answer.text

    def credentials(self, role: str) -> tuple[str, str]:
        """(username, password) of the test user with that role."""
        username = ROLE_USER[role]
        if username == "admin":
            assert self.admin_password is not None
            return username, self.admin_password
        return username, PASSWORD

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"grekko up exited ({self.process.returncode}):\n{self.stderr()}"
                )
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(
            f"grekko up was not ready in {START_TIMEOUT_S:.0f} s:\n{self.stderr()}"
        )
