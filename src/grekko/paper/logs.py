"""JSON-lines logging to <data_dir>/logs/grekko.log for a long-running session.

Every stdlib logger of the kernel (grekko.*) goes through structlog's formatter, one JSON object
per line. Nothing goes to the terminal, which belongs to the live view and the final JSON.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import structlog

LOG_FILE = "grekko.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 3


def configure_file_logging(log_dir: Path, level: str = "INFO") -> logging.Handler:
    """Attach a rotating JSON handler to the `grekko` logger; returns it for `remove_handler`."""
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        log_dir / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(default=str),
            ],
            foreign_pre_chain=[
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
            ],
        )
    )
    logger = logging.getLogger("grekko")
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def remove_handler(handler: logging.Handler) -> None:
    logging.getLogger("grekko").removeHandler(handler)
    handler.close()
