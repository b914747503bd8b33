"""Everything a CDP key could leak through: every logger at DEBUG, the bus, the API's answers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Witness:
    """What was logged, published and answered while it watched."""

    logs: list[str] = field(default_factory=list)
    bus: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    _handler: logging.Handler | None = None

    def debug_everywhere(self) -> None:
        """Every logger known now at DEBUG (again: the platform may have set levels meanwhile)."""
        assert self._handler is not None
        for logger in _loggers():
            logger.setLevel(logging.DEBUG)
            logger.disabled = False
            if not logger.propagate and self._handler not in logger.handlers:
                logger.addHandler(self._handler)

    def watch_bus(self, kernel: Any) -> None:
        kernel.bus.subscribe("*", lambda message: self.bus.append(repr(message)))

    async def call(self, client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
        answer = await client.request(method, path, **kw)
        self.answers.append(f"{answer.status_code} {dict(answer.headers)} {answer.text}")
        return answer

    def leaks(self, *secrets: str) -> list[str]:
        texts = {"log": self.logs, "bus": self.bus, "answer": self.answers}
        return [
            f"{where}: {text[:200]}"
            for where, found in texts.items()
            for text in found
            for secret in secrets
            if secret in text
        ]


def _loggers() -> list[logging.Logger]:
    known = logging.Logger.manager.loggerDict.values()
    return [logging.getLogger(), *(x for x in known if isinstance(x, logging.Logger))]


@contextmanager
def witness() -> Iterator[Witness]:
    seen = Witness()
    handler = seen._handler = _Lines(seen.logs)
    saved = [(x, x.level, x.disabled) for x in _loggers()]
    logging.getLogger().addHandler(handler)
    seen.debug_everywhere()
    try:
        yield seen
    finally:
        for logger in _loggers():
            if handler in logger.handlers:
                logger.removeHandler(handler)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled


def pem_parts(pem: str) -> list[str]:
    """The PEM whole and each of its base64 lines: none may show up anywhere."""
    lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return [pem, *lines]
