"""`grekko up`: a paper-trading session replaying real data, with a live view, safe to kill.

The session can be killed at any moment (even SIGKILL) and started again with the same command:
it rebuilds its state from the event store and resumes after the last bar it was processing.
Ctrl-C or SIGTERM stops between bars; either way the final summary is printed as JSON on stdout,
while the view and the status lines go to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from rich.console import Console

from grekko.bootstrap import build_paper_session
from grekko.paper.lock import session_lock
from grekko.paper.logs import configure_file_logging, remove_handler
from grekko.paper.session import PaperSession
from grekko.paper.status import status_line
from grekko.paper.view import LiveView
from grekko.settings import Settings

log = logging.getLogger("grekko.up")

STATUS_EVERY_BARS = 500


def run_up(
    settings: Settings,
    *,
    speed: float | None = None,
    max_bars: int | None = None,
    view: bool = True,
    serve: bool = False,
) -> None:
    if serve:
        serve_platform(settings, speed=speed, max_bars=max_bars)
        return
    handler = configure_file_logging(settings.data_dir / "logs", settings.log_level)
    try:
        log.info("grekko up", extra={"settings": settings.redacted()})
        with session_lock(settings.data_dir):
            session = build_paper_session(settings, speed=speed, max_bars=max_bars)
            try:
                _log_restart(session)
                with _stop_on_signals() as stop:
                    if view:
                        _run_with_view(session, stop)
                    else:
                        _run_with_status_lines(session, stop)
                summary = session.summary()
            except Exception:
                log.exception("paper session failed")
                raise
            finally:
                session.close()
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
        sys.stdout.flush()
    finally:
        remove_handler(handler)


def _run_with_view(session: PaperSession, stop: threading.Event) -> None:
    with LiveView(session.status, Console(stderr=True)) as live:
        session.run(stop, live.tick)


def _run_with_status_lines(session: PaperSession, stop: threading.Event) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    last = -1

    def every_n_bars() -> None:
        nonlocal last
        processed = session.progress().processed
        if processed != last and processed % STATUS_EVERY_BARS == 0:
            last = processed
            err.print(status_line(session.status()))

    err.print(status_line(session.status()))
    session.run(stop, every_n_bars)
    if session.progress().processed != last:
        err.print(status_line(session.status()))


def _log_restart(session: PaperSession) -> None:
    restart = session.restart
    if restart.resume_index:
        log.warning(
            "resuming after bar %d: %d events recovered, %d orders restored, %d lost in flight",
            restart.resume_index - 1,
            restart.events,
            len(restart.restored_orders),
            len(restart.lost_in_flight),
            extra={"lost_in_flight": list(restart.lost_in_flight)},
        )
    else:
        log.info("new replay of %d bars", session.end)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM ask the session to stop between bars instead of raising mid-bar."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the current bar", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve_platform(
    settings: Settings, *, speed: float | None = None, max_bars: int | None = None
) -> None:
    """The platform a browser opens: API + WebSocket + GraphQL + UI, the replay running inside.

    uvicorn owns the signals: SIGINT/SIGTERM stop the server, the replay stops between bars,
    the stores close, and the final summary is printed like the terminal session's.
    """
    import uvicorn

    from grekko.bootstrap.api import build_platform

    handler = configure_file_logging(settings.data_dir / "logs", settings.log_level)
    try:
        log.info("grekko up (serving)", extra={"settings": settings.redacted()})
        with session_lock(settings.data_dir):
            platform = build_platform(settings, speed=speed, max_bars=max_bars)
            try:
                _log_restart(platform.session)
                _announce(settings, platform.admin_password)
                config = uvicorn.Config(
                    platform.app,
                    host=settings.host,
                    port=settings.port,
                    log_level="warning",
                    access_log=False,
                    server_header=False,
                )
                with _signals_end_serving_only():
                    uvicorn.Server(config).run()
                summary = platform.session.summary()
            finally:
                platform.session.close()
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
        sys.stdout.flush()
    finally:
        remove_handler(handler)


def _announce(settings: Settings, admin_password: str | None) -> None:
    err = Console(stderr=True, highlight=False)
    if admin_password is not None:
        # shown once, on the terminal only: the database keeps just its argon2 hash
        err.print(
            "[bold]First start: created user [cyan]admin[/] with password "
            f"[yellow]{admin_password}[/] (shown only now; change it after logging in)[/]"
        )
    err.print(f"Grekko is serving on http://{settings.host}:{settings.port}  (Ctrl-C stops)")


@contextmanager
def _signals_end_serving_only() -> Iterator[None]:
    """uvicorn re-raises the signal that stopped it once it is done; with no handler of ours
    that would kill the process before the summary is written and the stores are closed."""
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
