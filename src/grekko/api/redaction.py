"""Log redaction: no secret reaches a log file, whatever code logged it and however.

Two sources of what to mask: values registered at run time (`register(value)`: the vault, the
auth service and the wallet code register what they handle) and value shapes that are secrets
whoever made them (grekko.domain.audit.redact_text: JWTs, gk_ API keys, 0x + 64 hex private keys,
PEM private keys, password=... / api_key: ... assignments, Bearer credentials), plus the
WalletConnect pairing key in a `wc:` URI (symKey=<64 hex>), which opens that pairing's messages.
A 0x + 64 hex transaction hash looks exactly like a private key and is masked in logs too.

A record is redacted by formatting it (msg % args) and replacing msg with the masked text and
args with None, so no formatter can put a raw argument back. String `extra` fields and the
traceback text are masked too; when a traceback held a secret, exc_info is dropped and the
masked traceback text (exc_text) is kept, which stdlib formatters print as before.

`install_redaction` puts the filter on the named loggers and their current handlers, and also
wraps the log record factory, because a logger's filters never see records propagated up from
its children (a filter on the root logger alone would miss "grekko.api"). Values shorter than
MIN_SECRET_LENGTH are not registered: masking "1234" everywhere would garble every log line.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from grekko.domain.audit import REDACTED, redact_text

MIN_SECRET_LENGTH = 6
DEFAULT_LOGGERS = (
    "",
    "grekko",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "fastapi",
    "sqlalchemy",
    "httpx",
)
WC_SYM_KEY_PATTERN = re.compile(r"(?i)(\bsymKey=)[0-9a-f]{64}(?![0-9a-f])")
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class SecretRegistry:
    """The exact values to mask, matched longest first; thread-safe."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            self._rebuild()

    def forget(self, value: str) -> None:
        with self._lock:
            self._values.discard(value)
            self._rebuild()

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(REDACTED, text)

    def _rebuild(self) -> None:
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None


default_registry = SecretRegistry()


def register(value: str) -> None:
    """Mask this value in every log record from now on (the process-wide registry)."""
    default_registry.register(value)


def redact(text: str, registry: SecretRegistry | None = None) -> str:
    """Registered values first (a registered value may contain a pattern), then the patterns."""
    text = redact_text((registry if registry is not None else default_registry).redact(text))
    return WC_SYM_KEY_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)


class RedactionFilter(logging.Filter):
    """Masks secrets in a record in place; never drops a record and never raises."""

    def __init__(self, registry: SecretRegistry | None = None) -> None:
        super().__init__()
        self.registry = registry if registry is not None else default_registry

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self.redact_record(record)
        except Exception:
            record.msg = "[log record dropped by redaction: it could not be formatted]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True

    def redact_record(self, record: logging.LogRecord) -> None:
        masked = self._mask(_message(record))
        record.msg = masked
        record.args = None
        self._redact_traceback(record)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self._mask(value))

    def _redact_traceback(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            masked = self._mask(record.exc_text)
            if masked != record.exc_text:
                record.exc_text = masked
                record.exc_info = None

    def _mask(self, text: str) -> str:
        return redact(text, self.registry)


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return " ".join([str(record.msg), *map(repr, args)])


_installed: dict[str, Any] = {}


def install_redaction(
    logger_names: Iterable[str] = DEFAULT_LOGGERS,
    *,
    registry: SecretRegistry | None = None,
    record_factory: bool = True,
) -> RedactionFilter:
    """Redact on these loggers, their handlers and (record_factory) every record made.

    Call it again after logging is (re)configured, e.g. after uvicorn's dictConfig, so new
    handlers get the filter too; it is idempotent.
    """
    logger_names = tuple(logger_names)
    flt = _installed.get("filter")
    if not isinstance(flt, RedactionFilter) or (
        registry is not None and flt.registry is not registry
    ):
        if isinstance(flt, RedactionFilter):
            _remove_filter(logger_names, flt)
        flt = RedactionFilter(registry)
        _installed["filter"] = flt
    for name in logger_names:
        logger = logging.getLogger(name)
        _add_filter(logger, flt)
        for handler in logger.handlers:
            _add_filter(handler, flt)
    if record_factory:
        _wrap_record_factory(flt)
    return flt


def uninstall_redaction(logger_names: Iterable[str] = DEFAULT_LOGGERS) -> None:
    """Undo install_redaction (tests)."""
    _installed.pop("current", None)
    flt = _installed.pop("filter", None)
    original = _installed.pop("factory", None)
    if original is not None:
        logging.setLogRecordFactory(original)
    if isinstance(flt, RedactionFilter):
        _remove_filter(logger_names, flt)


def _remove_filter(logger_names: Iterable[str], flt: logging.Filter) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        logger.removeFilter(flt)
        for handler in logger.handlers:
            handler.removeFilter(flt)


def _add_filter(target: logging.Filterer, flt: logging.Filter) -> None:
    if flt not in target.filters:
        target.addFilter(flt)


def _wrap_record_factory(flt: RedactionFilter) -> None:
    if "factory" in _installed:
        _installed["current"] = flt
        return
    original: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    _installed["factory"] = original
    _installed["current"] = flt

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        current = _installed.get("current")
        if isinstance(current, RedactionFilter):
            current.filter(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
