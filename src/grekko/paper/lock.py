"""One session per data dir: two writers would hand out the same client order ids.

An advisory lock (flock) on a file in the data dir; the OS drops it when the process dies, even
by SIGKILL, so a crashed session never blocks its restart.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grekko.core.errors import ConfigError

LOCK_FILE = "grekko-up.lock"


@contextmanager
def session_lock(data_dir: Path) -> Iterator[None]:
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another `grekko up` is running on {data_dir} (it holds {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
