"""Run one engine as a child process and measure it from the outside.

Every engine (Grekko and each peer) runs in a fresh process so that imports, JIT caches and memory
from one cannot flatter another. Peak RSS comes from the kernel's rusage of the reaped child
(os.wait4), which is the same figure for every engine whatever it reports about itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

RESULT_PREFIX = "RESULT "


@dataclass(frozen=True)
class ProcessOutcome:
    """What a finished child left behind: exit code, output, wall time and peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mb: float
    timed_out: bool

    def stderr_tail(self, lines: int = 6) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


def run_measured(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout_s: float
) -> ProcessOutcome:
    """Run `cmd` to completion (killed after `timeout_s`) and return its outcome with peak RSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        killed = threading.Event()

        def kill_on_timeout() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout_s, kill_on_timeout)
        timer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall_s = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ProcessOutcome(
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
            wall_s=wall_s,
            peak_rss_mb=rusage.ru_maxrss / 1024.0,  # Linux reports KiB
            timed_out=killed.is_set(),
        )


def parse_result_line(stdout: str) -> dict[str, object] | None:
    """The last `RESULT {json}` line a benchmark script printed, decoded; None if there is none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                decoded = json.loads(line[len(RESULT_PREFIX) :])
            except ValueError:
                return None
            return decoded if isinstance(decoded, dict) else None
    return None


def child_env(**overrides: str) -> dict[str, str]:
    """The current environment minus anything that would point a child at the wrong venv."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env.update(overrides)
    return env
