"""IngestService: real replay sources run to completion, pause/resume, a failing source restarts."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest

from grekko.adapters.files.bars import bundled_files
from grekko.adapters.files.replay import BarReplay, TradeReplay
from grekko.adapters.files.trades import load_trades
from grekko.core.errors import ConfigError
from grekko.core.time import TestClock
from grekko.domain.indicators import IndicatorSnapshot
from grekko.domain.raw import RawBar, RawMarketData
from grekko.domain.streams import StreamMessage
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.service import IngestService
from grekko.engines.streamer import GAP_TOPIC, DataStreamer
from shared_data import shared_file

T_NOW = 1_700_000_000 * 10**9
BTC, ETH = bundled_files()
BARS = 9646


def make_service(clock: TestClock | None = None, **options: Any) -> IngestService:
    bus = MessageBus()
    clock = clock or TestClock(T_NOW)
    return IngestService(
        bus=bus,
        clock=clock,
        data_engine=DataEngine(bus, Cache()),
        streamer=DataStreamer(bus, clock),
        **options,
    )


class Collector:
    """Stream messages per stream and indicator snapshots per instrument, from the bus."""

    def __init__(self, service: IngestService) -> None:
        self.streams: dict[str, list[StreamMessage]] = defaultdict(list)
        self.indicators: dict[str, list[IndicatorSnapshot]] = defaultdict(list)
        self.gaps: list[object] = []
        service.bus.subscribe("stream.*", self._message)
        service.bus.subscribe("data.indicators.*", self._indicator)
        service.bus.subscribe(GAP_TOPIC, self.gaps.append)

    def _message(self, message: object) -> None:
        if isinstance(message, StreamMessage):
            self.streams[message.stream_id].append(message)

    def _indicator(self, snapshot: IndicatorSnapshot) -> None:
        self.indicators[snapshot.instrument_id].append(snapshot)

    def numbered(self, stream_id: str) -> bool:
        return [m.sequence_number for m in self.streams[stream_id]] == list(
            range(1, len(self.streams[stream_id]) + 1)
        )


class DroppingFeed:
    """A live-like source over real bars whose connection drops once after `drop_after` records;
    iterating again reconnects and carries on where it stopped, as a WebSocket resubscribe does."""

    name = "dropping-feed"

    def __init__(self, records: list[RawBar], drop_after: int) -> None:
        self.records = records
        self.drop_after = drop_after
        self.position = 0
        self.connects = 0

    async def __aiter__(self) -> AsyncIterator[RawMarketData]:
        self.connects += 1
        while self.position < len(self.records):
            if self.connects == 1 and self.position == self.drop_after:
                raise ConnectionResetError("feed dropped")
            record = self.records[self.position]
            self.position += 1
            yield record
            if self.position % 256 == 0:
                await asyncio.sleep(0)


async def collect(source: BarReplay) -> list[RawBar]:
    return [record async for record in source]  # type: ignore[misc]


@pytest.mark.shared
@pytest.mark.asyncio
async def test_bar_and_trade_replays_run_to_completion() -> None:
    service = make_service()
    seen = Collector(service)
    service.add_source("btc", BarReplay(BTC, venue="binance"))
    xrp = shared_file("ticks_orderbook", "binance_XRPETH_trades_2019-10-11.csv.gz")
    service.add_source("xrp", TradeReplay(xrp, symbol="XRPETH", venue="binance"))
    await asyncio.wait_for(service.run(tick_s=0.01), timeout=60)
    assert len(seen.streams["btc"]) == BARS
    assert len(seen.streams["xrp"]) == 7913
    assert seen.numbered("btc")
    assert seen.numbered("xrp")
    assert service.quarantine.total == 0
    assert len(seen.indicators["BTC/USDT@binance"]) == BARS
    minutes = {ts // 60_000 for ts in load_trades(xrp).ts}  # type: ignore[operator]
    assert len(seen.indicators["XRP/ETH@binance"]) == len(minutes)  # a bar a minute of trades
    stats = {s.stream_id: s for s in service.streamer.metrics.snapshot()}
    assert (stats["btc"].received, stats["btc"].published) == (BARS, BARS)
    assert (stats["xrp"].received, stats["xrp"].published) == (7913, 7913)
    infos = {i.spec.stream_id: i for i in service.streamer.list_streams()}
    assert infos["btc"].spec.source == f"replay:{BTC.name}"
    assert service.source_failures == 0
    assert seen.gaps == []


@pytest.mark.asyncio
async def test_a_paused_stream_stops_pulling_and_resumes_where_it_stopped() -> None:
    service = make_service()
    seen = Collector(service)
    btc = service.add_source("btc", BarReplay(BTC))
    eth = service.add_source("eth", BarReplay(ETH))
    service.pause("btc")
    run = asyncio.create_task(service.run(tick_s=0.01))

    async def eth_done() -> None:
        while eth.metrics.received < BARS:
            await asyncio.sleep(0)

    await asyncio.wait_for(eth_done(), timeout=60)
    assert btc.metrics.received == 0  # nothing pulled past the one record it holds
    assert seen.streams["btc"] == []
    assert service.streamer.list_streams()[0].paused
    assert not run.done()
    service.resume("btc")
    await asyncio.wait_for(run, timeout=60)
    assert len(seen.streams["btc"]) == BARS
    assert seen.numbered("btc")
    first = seen.streams["btc"][0].payload
    assert (first.open, first.close) == (56150.01, 56234.8)  # not skipped ahead
    assert seen.gaps == []


@pytest.mark.asyncio
async def test_a_failing_source_restarts_after_backoff_and_others_keep_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = await collect(BarReplay(BTC, venue="binance"))
    feed = DroppingFeed(records, drop_after=4000)
    service = make_service(restart_backoff_s=0.001)
    seen = Collector(service)
    service.add_source("btc-live", feed)
    service.add_source("eth", BarReplay(ETH))
    with caplog.at_level(logging.ERROR, logger="grekko.ingest"):
        await asyncio.wait_for(service.run(tick_s=0.01), timeout=60)
    assert service.source_failures == 1
    assert feed.connects == 2
    assert "source of stream btc-live failed; restarting" in caplog.text
    assert "ConnectionResetError: feed dropped" in caplog.text
    assert len(seen.streams["btc-live"]) == BARS  # nothing lost, nothing twice
    assert seen.numbered("btc-live")
    assert len(seen.streams["eth"]) == BARS
    assert service.quarantine.total == 0


@pytest.mark.asyncio
async def test_a_conflated_stream_sends_the_latest_once_its_interval_is_over() -> None:
    clock = TestClock(T_NOW)
    service = make_service(clock)
    seen = Collector(service)
    service.add_source("btc", BarReplay(BTC), update_frequency_ms=60_000)
    await asyncio.wait_for(service.run(tick_s=0.01), timeout=60)
    # the data clock stood still: the first bar went out, every later one replaced the held one,
    # and when the sources ended the run released the last held one
    last_bar = service.data_engine._cache.last_bar["BTC/USDT@replay"]
    assert [m.payload for m in seen.streams["btc"]] == [seen.streams["btc"][0].payload, last_bar]
    assert seen.streams["btc"][0].payload.close == 56234.8
    info = service.streamer.list_streams()[0]
    assert info.conflated == BARS - 2
    assert info.sequence_number == 2
    assert seen.numbered("btc")


@pytest.mark.asyncio
async def test_duplicate_stream_ids_and_no_sources() -> None:
    service = make_service()
    await asyncio.wait_for(service.run(tick_s=0.01), timeout=5)  # nothing to run: returns
    service.add_source("btc", BarReplay(BTC))
    with pytest.raises(ConfigError, match="already exists"):
        service.add_source("btc", BarReplay(ETH))
    with pytest.raises(ConfigError, match="no stream 'eth'"):
        service.pause("eth")
