"""`grekko serve <service>`: one part of the platform per process, joined by Redis Streams and
one shared event store (PostgreSQL in a deployment).

- ingest: replays the market data slice onto the `bars` stream at the replay's pace;
- agents: the strategies; their orders go to risk as requests;
- risk: the pre-trade checks; decides each requested order once, stores the decision and
  approves it to execution;
- execution: the venue; works approved orders, stores what the venue reports;
- gateway: the API, WebSocket and UI over a kernel kept current from the store.

Each process rebuilds its kernel from the store at start, so it can be killed (SIGKILL) and
started again: what it had not acknowledged on the bus comes back to it or to a peer, and the
store says what was already done. See grekko.engines.distributed for who does what.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from grekko.core.errors import ConcurrencyError, ConfigError
from grekko.settings import Settings

log = logging.getLogger("grekko.serve")

SERVICES = ("gateway", "ingest", "agents", "risk", "execution")
DEFAULT_PORTS = {"gateway": 8000, "ingest": 8001, "agents": 8002, "risk": 8003, "execution": 8004}
VENUE = "paper"


@dataclass
class ServiceRuntime:
    """What `grekko serve` runs: consumers (stream, handler) on the loop, an optional producer,
    and the store/bus to close afterwards."""

    name: str
    settings: Settings
    streams: Any  # RedisStreamsBus
    consumer: str
    kernel: Any = None
    store: Any = None
    # (stream, handler) in the service's group, or (stream, handler, group) in a group of its own
    consumers: list[tuple[Any, ...]] = field(default_factory=list)
    producer: Callable[[asyncio.Event], Coroutine[Any, Any, None]] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)
    async_closers: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    periodic: list[tuple[float, Callable[[], object]]] = field(
        default_factory=list
    )  # (every s, job)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume (and produce) until stop is set; then flush what was published."""
        tasks = [
            asyncio.create_task(
                self.streams.consume(stream, group, self.consumer, handler, stop=stop),
                name=f"{self.name}:{stream}",
            )
            for stream, handler, group in self.groups()
        ]
        if self.producer is not None:
            tasks.append(asyncio.create_task(self.producer(stop), name=f"{self.name}:produce"))
        tasks += [
            asyncio.create_task(_every(every_s, job, stop), name=f"{self.name}:periodic")
            for every_s, job in self.periodic
        ]
        self.state["running"] = True
        try:
            done, _ = await asyncio.wait(
                [*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task in tasks and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.state["running"] = False
            await self.streams.flush()

    def groups(self) -> list[tuple[str, Callable[[Any], None], str]]:
        return [(c[0], c[1], c[2] if len(c) > 2 else self.name) for c in self.consumers]

    async def close(self) -> None:
        await self.streams.close()
        for aclose in reversed(self.async_closers):
            try:
                await aclose()
            except Exception:
                log.exception("closing %s", self.name)
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("closing %s", self.name)


async def _every(every_s: float, job: Callable[[], object], stop: asyncio.Event) -> None:
    """job() on the loop every every_s seconds until stop; a failing run is logged, not fatal."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if stop.is_set():
            return
        try:
            job()
        except Exception:
            log.exception("periodic job %r failed", job)


def build_service(
    name: str, settings: Settings, *, speed: float | None = None, max_bars: int | None = None
) -> ServiceRuntime:
    if name not in SERVICES:
        raise ConfigError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    runtime = ServiceRuntime(name, settings, open_streams(settings), consumer_name(name))
    try:
        if name == "ingest":
            _ingest(runtime, speed, max_bars)
        else:
            _trading_service(runtime)
    except BaseException:
        for closer in reversed(runtime.closers):
            closer()
        raise
    return runtime


PARTITIONED = frozenset({"execution", "agents"})


def slot(service: str, settings: Settings) -> int:
    """Which share of the work an instance takes: execution and agents work the partition
    instance % partitions (instances past the partition count are that partition's standbys,
    so a StatefulSet can scale past it); every other instance reads in a group of its own."""
    serve = settings.serve
    return serve.instance % serve.partitions if service in PARTITIONED else serve.instance


def consumer_name(service: str) -> str:
    """Unique per process: a restarted process is a new consumer, and its predecessor's
    unacknowledged entries are reclaimed from the group after claim_idle_ms."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


def open_streams(settings: Settings) -> Any:
    from grekko.adapters.redis import MessageCodec, RedisStreamsBus
    from grekko.domain.agents import AgentMessage
    from grekko.engines.distributed import AgentLimitSet

    codec = MessageCodec.default()
    codec.register(AgentLimitSet)
    codec.register(AgentMessage)
    r = settings.redis
    return RedisStreamsBus(
        r.url.get_secret_value(),
        codec=codec,
        stream_maxlen=r.stream_maxlen,
        publish_buffer=r.publish_buffer,
        claim_idle_ms=r.claim_idle_ms,
        max_attempts=r.max_attempts,
        idempotency_ttl_s=r.idempotency_ttl_s,
    )


def _ingest(runtime: ServiceRuntime, speed: float | None, max_bars: int | None) -> None:
    from grekko.bootstrap import _paper_replay
    from grekko.engines.distributed import BARS, bar_id

    _, replay = _paper_replay(runtime.settings)
    pace = runtime.settings.replay.speed if speed is None else speed
    if not pace > 0:
        raise ConfigError(f"the replay speed must be a positive number of bars a second: {pace}")
    streams = runtime.streams
    runtime.state["published"] = 0

    async def produce(stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for turn, bar in enumerate(replay.bars()):
            if max_bars is not None and turn >= max_bars:
                break
            delay = start + turn / pace - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            while True:
                try:
                    streams.publish(BARS, bar, event_id=bar_id(bar))
                    break
                except Exception as exc:  # BusBackpressure: Redis is behind; wait, lose nothing
                    log.warning("bars held back: %s", exc)
                    await asyncio.sleep(0.2)
            runtime.state["published"] += 1
        runtime.state["finished"] = True
        await stop.wait()

    runtime.producer = produce


def _trading_service(runtime: ServiceRuntime) -> None:
    """agents, risk, execution, gateway: a kernel rebuilt from the store, fed by the bus."""
    from grekko.adapters.sql import SqlEventStore
    from grekko.bootstrap import _paper_replay
    from grekko.core.time import TestClock
    from grekko.engines import distributed as d
    from grekko.engines.kernel import Kernel

    settings = runtime.settings
    instruments, replay = _paper_replay(settings)
    store = SqlEventStore(settings.database_url)
    runtime.closers.append(store.close)
    clock = TestClock(replay.first_ts_open)
    from grekko.bootstrap import risk_limits

    kernel = Kernel(
        clock, store, cash_currency=settings.paper.cash_currency, limits=risk_limits(settings.risk)
    )
    for instrument in instruments:
        kernel.add_instrument(instrument)
    runtime.kernel, runtime.store = kernel, store
    runtime.state.update(clock=clock, replay=replay)
    ensure_funded(store, settings)
    wire = {
        "agents": _agents,
        "risk": _risk,
        "execution": _execution,
        "gateway": _gateway,
    }[runtime.name]
    wire(runtime, kernel, clock, replay)
    # every process sees every bar: a group per service instance, resumed after a restart
    bars_group = f"{runtime.name}-{slot(runtime.name, settings)}"
    runtime.consumers.insert(0, (d.BARS, d.on_bars(kernel, clock), bars_group))


def _recover(runtime: ServiceRuntime, kernel: Any) -> Any:
    """The kernel from the store; from where it ended, a follower catches up now and then with
    whatever no order notice brought."""
    from grekko.engines.distributed import StoreFollower

    recovery = kernel.recover()
    follower = StoreFollower(kernel, recovery.last_position)
    runtime.state["follower"] = follower
    runtime.periodic.append((runtime.settings.serve.catch_up_ms / 1000, follower.catch_up))
    return recovery


def ensure_funded(store: Any, settings: Settings) -> None:
    """The account's starting cash, stored once whichever service starts first."""
    from grekko.domain.events import AccountFunded
    from grekko.engines.kernel import ACCOUNT_STREAM

    if store.stream_version(ACCOUNT_STREAM) > 0:
        return
    event = AccountFunded(
        ts_event=0,
        account_id="main",
        currency=settings.paper.cash_currency,
        amount=settings.paper.starting_cash,
    )
    with contextlib.suppress(ConcurrencyError):  # another service funded it first
        store.append(ACCOUNT_STREAM, [event], 0)


def _agents(runtime: ServiceRuntime, kernel: Any, clock: Any, replay: Any) -> None:
    from grekko.bootstrap import _add_paper_strategies
    from grekko.engines import distributed as d

    recovery = _recover(runtime, kernel)
    d.forward_orders(kernel, runtime.streams)
    serve = runtime.settings.serve
    mine = slot("agents", runtime.settings)
    _add_paper_strategies(
        kernel,
        runtime.settings,
        replay,
        recovery.orders_per_strategy,
        only=lambda iid: d.partition_of(iid, serve.partitions) == mine,
    )
    cfg = runtime.settings.agents
    if cfg.enabled and mine == 0:  # Spot, Gordo, Gekko; caps go to every risk process
        from grekko.bootstrap.agents import build_agent_desk
        from grekko.core.time import LiveClock

        runtime.state["agents"] = build_agent_desk(
            kernel,
            runtime.store,
            cfg.enabled,
            vote_timeout_s=cfg.vote_timeout_ms / 1000,
            confirmation_ttl_s=cfg.confirmation_ttl_s,
            ids_used=recovery.orders_per_strategy,
            confirmation_clock=LiveClock(),
            on_limit=d.share_agent_limits(runtime.streams, clock),
        )
        from grekko.bootstrap.service_agents import export_agent_messages

        export_agent_messages(kernel, runtime.streams)
    runtime.consumers.append(_order_notices(runtime))


def _order_notices(runtime: ServiceRuntime) -> tuple[Any, ...]:
    """Order notifications keep this process's projection current (the follower catches up
    with the store on each): a group per service instance (like the bars)."""
    from grekko.engines import distributed as d

    group = f"{runtime.name}-{slot(runtime.name, runtime.settings)}"
    return (d.ORDER_EVENTS, d.on_order_events(runtime.state["follower"]), group)


def _risk(runtime: ServiceRuntime, kernel: Any, clock: Any, replay: Any) -> None:
    from grekko.engines import distributed as d

    partitions = runtime.settings.serve.partitions
    kernel.add_venue(d.RemoteVenue(VENUE, runtime.streams, clock, partitions))
    _recover(runtime, kernel)
    d.export_order_events(kernel, runtime.streams)
    runtime.consumers += [
        # every risk process needs every agent's cap: a group of this process's own, from the start
        (d.AGENT_LIMITS, d.on_agent_limits(kernel), f"risk-limits-{runtime.consumer}"),
        _order_notices(runtime),
        (d.REQUESTED, d.on_requests(kernel)),
    ]


def _execution(runtime: ServiceRuntime, kernel: Any, clock: Any, replay: Any) -> None:
    """The venue's orders come back from the store: accepted ones are restored, submitted ones it
    lost in flight are sent again, and approved ones it never saw are taken when their approval
    is (re)delivered, so nothing is canceled as lost here."""
    from grekko.bootstrap import start_venue
    from grekko.engines import distributed as d

    serve = runtime.settings.serve
    venue = start_venue(kernel, VENUE, runtime.settings.paper)
    recovery = _recover(runtime, kernel)
    mine = [
        o
        for o in recovery.open_orders
        if d.partition_of(o.instrument_id, serve.partitions) == slot("execution", runtime.settings)
    ]
    venue.restore(mine)  # those of its partition it had accepted
    d.export_order_events(kernel, runtime.streams)
    resent = d.resend_in_flight(kernel, venue, mine)  # lost in flight with the last process
    if resent:
        log.info("execution: sent %d order(s) lost in flight again: %s", len(resent), resent)
    approvals = d.approved_stream(slot("execution", runtime.settings))
    runtime.consumers.append((approvals, d.on_approvals(kernel, VENUE)))
    # the other partitions' fills move the one account's cash, which fills here are checked
    # against: every order notice, caught up from the store (its own are already applied)
    runtime.consumers.append(_order_notices(runtime))


def _gateway(runtime: ServiceRuntime, kernel: Any, clock: Any, replay: Any) -> None:
    from grekko.engines import distributed as d

    kernel.add_venue(d.RemoteVenue(VENUE, runtime.streams, clock))
    _recover(runtime, kernel)
    d.forward_orders(kernel, runtime.streams)
    runtime.consumers.append(_order_notices(runtime))
    from grekko.bootstrap.service_agents import AGENT_MESSAGES, on_agent_messages

    # every gateway replica relays every agent message to its own clients: a group of its own
    group = f"gateway-{slot('gateway', runtime.settings)}"
    runtime.consumers.append((AGENT_MESSAGES, on_agent_messages(kernel), group))
