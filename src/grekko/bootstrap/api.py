"""Wiring for `grekko up` serving the platform: the paper session plus the API around it.

Everything shares the event store's database (one SQLite file in the data dir by default):
users and tokens, the audit log, secrets, idempotency keys, news. The kernel, the replay and
every request run on one event loop; see PaperSession.run_async.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from grekko.core.errors import ConfigError
from grekko.settings import Settings

log = logging.getLogger("grekko.up")


@dataclass
class Platform:
    app: Any  # FastAPI
    session: Any  # PaperSession
    admin_password: str | None  # set only on the first start, to be shown once
    closers: list[Any] = field(default_factory=list)


def master_key(settings: Settings) -> bytes:
    """GREKKO_MASTER_KEY when set; else a key file in the data dir, created once (0600).

    The key file keeps `make up` working with no setup; an operator who wants the key apart
    from the data sets GREKKO_MASTER_KEY (or uses HashiCorp Vault) instead.
    """
    from grekko.adapters.vault.local import key_from_env

    env = os.environ.get("GREKKO_MASTER_KEY")
    if env:
        return key_from_env(env)
    path = settings.data_dir / "master.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        log.warning("created %s: set GREKKO_MASTER_KEY to keep the vault key elsewhere", path)
    key = path.read_bytes()
    if len(key) != 32:
        raise ConfigError(f"{path} must hold 32 bytes; delete it only if the vault is empty")
    return key


def build_platform(
    settings: Settings, *, speed: float | None = None, max_bars: int | None = None
) -> Platform:
    from grekko.bootstrap import build_paper_session

    session = build_paper_session(settings, speed=speed, max_bars=max_bars)
    try:
        return _assemble(settings, session)
    except BaseException:
        session.close()
        raise


def _assemble(settings: Settings, session: Any) -> Platform:
    from grekko.adapters.sql.audit_store import SqlAuditLog
    from grekko.adapters.sql.bookmark_store import SqlBookmarkStore
    from grekko.adapters.sql.idempotency_store import SqlIdempotencyStore
    from grekko.api.app import create_app
    from grekko.api.desk import TradingDesk
    from grekko.api.redaction import install_redaction, redact
    from grekko.api.services import ApiServices
    from grekko.bootstrap.auth import auth_service_for
    from grekko.paper.candles import SessionCandles

    install_redaction()
    engine: sa.Engine = session.store.engine
    kernel = session.kernel
    auth = auth_service_for(settings, engine)
    admin_password = auth.ensure_admin()
    streamer, ingest_metrics = _streams(kernel, session)
    news = _news(kernel, engine)
    svc = ApiServices(
        desk=TradingDesk(kernel, remote=getattr(session, "remote", False)),
        auth=auth,
        settings=settings,
        candles=SessionCandles(session.replay, kernel.clock),
        news=news,
        bookmarks=SqlBookmarkStore(engine),
        streamer=streamer,
        ingest_metrics=ingest_metrics,
        audit=SqlAuditLog(engine, redact=redact),
        idempotency=SqlIdempotencyStore(engine),
        agents=session.agents,
        ready_checks=_ready_checks(engine, kernel),
    )
    hub, realtime_routers = _realtime(settings, kernel, svc)
    svc.extra["ws_hub"] = hub
    svc.extra["chain"] = session.chain  # None with --no-devnet
    svc.extra["vault"] = open_vault(settings, engine)
    svc.extra["coinbase"] = _coinbase(settings, kernel, svc.extra["vault"])
    limiter = _limiter(settings)
    stop = _stop_event()
    app = create_app(
        svc,
        routers=[*getattr(session, "routers", ()), _auth_router(), *realtime_routers],
        secure=lambda app: _secure(app, settings, limiter),
        background=[lambda: session.run_async(stop), *_hub_tasks(hub)],
        on_shutdown=[
            stop.set,
            hub.shutdown,
            svc.extra["coinbase"].close,
            lambda: _close_sessions(svc),
        ],
        static_dir=_static_dir(),
    )
    app.state.stop = stop
    app.state.limiter = limiter
    return Platform(app=app, session=session, admin_password=admin_password)


def _close_sessions(svc: Any) -> None:
    """WalletConnect sessions run their own threads: end them with the app."""
    registry = svc.extra.get("walletconnect")
    for session in list(getattr(registry, "sessions", {}).values()):
        session.close()


def _coinbase(settings: Settings, kernel: Any, vault: Any) -> Any:
    """Coinbase, linked later through the API (POST /api/v1/coinbase/connect)."""
    from grekko.bootstrap.coinbase import CoinbaseLink

    return CoinbaseLink(kernel, vault, settings)


def _stop_event() -> Any:
    import asyncio

    return asyncio.Event()


def _auth_router() -> Any:
    from grekko.api.auth.routes import auth_router

    return auth_router()


def _streams(kernel: Any, session: Any) -> tuple[Any, Any]:
    """One market stream per replayed instrument, fed by the kernel's bars."""
    from grekko.domain.streams import StreamDataType, StreamSpec
    from grekko.engines.streamer import DataStreamer

    streamer = DataStreamer(kernel.bus, kernel.clock)
    for iid in session.replay.instrument_ids:
        stream_id = f"market.{iid}"
        streamer.create_stream(StreamSpec(stream_id, StreamDataType.MARKET_DATA, "replay"))
        # bars carry replay time, not wall time: their age is not a lag
        streamer.relay(f"data.bars.{iid}", stream_id)
    return streamer, streamer.metrics


def _news(kernel: Any, engine: sa.Engine) -> Any:
    """The bundled news set, stored once (duplicates are skipped on later starts)."""
    from grekko.adapters.news.replay import NewsReplay
    from grekko.adapters.sql.news_store import SqlNewsStore
    from grekko.engines.news_feed import NewsFeed
    from grekko.ml.sentiment import default_scorer

    store = SqlNewsStore(engine)
    NewsFeed(kernel.bus, store, default_scorer()).ingest(NewsReplay())
    return store


def _ready_checks(engine: sa.Engine, kernel: Any) -> dict[str, Any]:
    def database() -> bool:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT 1")).scalar() == 1

    def bus() -> bool:
        return kernel.bus.has_endpoint("risk.execute")

    def venues() -> bool:
        return bool(kernel.execution.venue_names())

    return {"database": database, "bus": bus, "venues": venues}


def _realtime(settings: Settings, kernel: Any, svc: Any) -> tuple[Any, list[Any]]:
    from grekko.api.graphql import graphql_router
    from grekko.api.ws import WebSocketHub, ws_router

    hub = WebSocketHub(
        kernel.bus,
        svc.auth,
        queue_size=settings.api.ws_queue_size,
        heartbeat_s=settings.api.ws_heartbeat_s,
    )
    return hub, [ws_router(hub), graphql_router(_graphql_resolvers(svc), svc.auth)]


def _graphql_resolvers(svc: Any) -> Any:
    from grekko.api.graphql import Resolvers, in_thread

    desk = svc.desk

    def orders(status: Any, limit: int) -> list[Any]:
        found = reversed(desk.kernel.cache.orders.values())
        return [o for o in found if status in (None, o.status)][:limit]

    return Resolvers(
        portfolio=lambda: {**desk.portfolio(), "balances": desk.balances()},
        orders=orders,
        positions=desk.positions,
        candles=svc.candles.range,
        news=in_thread(svc.news.query),
    )


def _hub_tasks(hub: Any) -> list[Any]:
    return []


def _secure(app: Any, settings: Settings, limiter: Any) -> None:
    from grekko.api.middleware import install_security

    install_security(
        app,
        cors_origins=settings.api.cors_origins,
        max_body_bytes=settings.api.max_body_bytes,
        rate_limiter=limiter,
    )


def _limiter(settings: Settings) -> Any:
    from grekko.api.ratelimit import RateLimiter

    api = settings.api
    return RateLimiter(
        api.rate_limit_storage, api.rate_limit_user, api.rate_limit_ip, api.rate_limit_login
    )


def open_vault(settings: Settings, engine: sa.Engine) -> Any:
    """The secret store settings name; every secret it reveals is masked in the logs from then on."""
    from grekko.api import redaction

    if settings.vault.backend == "hashicorp":
        from grekko.adapters.vault.hashicorp import HashiCorpVault

        token = os.environ.get("VAULT_TOKEN")
        if not settings.vault.hashicorp_url or not token:
            raise ConfigError("vault.backend = hashicorp needs vault.hashicorp_url and VAULT_TOKEN")
        return HashiCorpVault(
            settings.vault.hashicorp_url,
            token,
            settings.vault.hashicorp_mount,
            settings.vault.hashicorp_path,
            on_reveal=redaction.register,
        )
    from grekko.adapters.vault.local import LocalVault

    return LocalVault(engine, master_key(settings), on_reveal=redaction.register)


def _static_dir() -> Path:
    """Where `npm run build` in ui/ writes the web UI; until then / says how to build it."""
    return Path(__file__).resolve().parents[1] / "static"
