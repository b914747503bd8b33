"""IngestService: runs sources into pipelines on one event loop, one task per source.

A source that fails (network down, file unreadable) is logged, counted and restarted after a
backoff unless it finished normally; one failing source never stops the others. Pausing a
stream also stops pulling from its source, so a paused replay resumes where it stopped instead
of skipping ahead. A timer releases conflated stream messages and flushes the quarantine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable, Coroutine
from typing import Any

from grekko.core.time import Clock
from grekko.domain.indicators import IndicatorSettings, IndicatorSnapshot
from grekko.domain.raw import RawMarketData
from grekko.domain.streams import StreamDataType, StreamSpec
from grekko.engines.bus import MessageBus
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.aggregator import VenueAggregator
from grekko.engines.ingest.enricher import Enricher
from grekko.engines.ingest.pipeline import BookSink, IngestPipeline
from grekko.engines.ingest.quarantine import Quarantine
from grekko.engines.ingest.validator import ValidationRules, Validator
from grekko.engines.streamer import DataStreamer

log = logging.getLogger("grekko.ingest")


def indicator_topic(instrument_id: str) -> str:
    return f"data.indicators.{instrument_id}"


class IngestService:
    def __init__(
        self,
        *,
        bus: MessageBus,
        clock: Clock,
        data_engine: DataEngine,
        streamer: DataStreamer,
        quarantine: Quarantine | None = None,
        indicators: IndicatorSettings | None = None,
        rules: ValidationRules | None = None,
        restart_backoff_s: float = 1.0,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.data_engine = data_engine
        self.streamer = streamer
        self.quarantine = quarantine or Quarantine()
        self.rules = rules or ValidationRules()
        self.aggregator = VenueAggregator()
        self.enricher = Enricher(self._publish_indicators, indicators)
        bus.subscribe("data.bars.*", self.enricher.on_bar, priority=100)
        self.pipelines: dict[str, IngestPipeline] = {}
        self._sources: dict[str, AsyncIterable[RawMarketData]] = {}
        self._gates: dict[str, asyncio.Event] = {}
        self._backoff = restart_backoff_s
        self.source_failures = 0
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []

    def add_background(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Another coroutine to run beside the sources (e.g. the news poller) until run() ends."""
        self._background.append(task)

    def _publish_indicators(self, snapshot: IndicatorSnapshot) -> None:
        self.bus.publish(indicator_topic(snapshot.instrument_id), snapshot)

    def add_source(
        self,
        stream_id: str,
        source: AsyncIterable[RawMarketData],
        *,
        data_type: StreamDataType = StreamDataType.MARKET_DATA,
        update_frequency_ms: int = 0,
        buffer_size: int = 1000,
        book_sink: BookSink | None = None,
        bar_interval_ns: int = 60 * 10**9,
        rules: ValidationRules | None = None,
    ) -> IngestPipeline:
        """rules: this source's validation thresholds (e.g. no staleness check on a replay)."""
        name = getattr(source, "name", type(source).__name__)
        spec = StreamSpec(stream_id, data_type, str(name), update_frequency_ms, buffer_size)
        self.streamer.create_stream(spec)
        pipeline = IngestPipeline(
            stream_id,
            clock=self.clock,
            data_engine=self.data_engine,
            streamer=self.streamer,
            enricher=self.enricher,
            quarantine=self.quarantine,
            validator=Validator(rules or self.rules, now_ns=self.clock.timestamp_ns),
            aggregator=self.aggregator,
            bar_interval_ns=bar_interval_ns,
            book_sink=book_sink,
        )
        self.pipelines[stream_id] = pipeline
        self._sources[stream_id] = source
        gate = self._gates[stream_id] = asyncio.Event()
        gate.set()
        return pipeline

    def pause(self, stream_id: str) -> None:
        self.streamer.pause(stream_id)
        if stream_id in self._gates:
            self._gates[stream_id].clear()

    def resume(self, stream_id: str) -> None:
        self.streamer.resume(stream_id)
        if stream_id in self._gates:
            self._gates[stream_id].set()

    async def run(self, *, tick_s: float = 0.05) -> None:
        """Runs every source to its end (a live source never ends) and then returns."""
        helpers = [asyncio.create_task(self._timer(tick_s))]
        helpers += [asyncio.create_task(task()) for task in self._background]
        try:
            await asyncio.gather(*(self._pump(sid) for sid in list(self._sources)))
            await asyncio.gather(*helpers[1:])
        finally:
            for task in helpers:
                task.cancel()
            self.flush()

    def flush(self) -> None:
        """At the end of a run: the last conflated messages go out, bars in progress close."""
        self.streamer.flush_due(force=True)
        self.quarantine.flush()
        self.data_engine.flush_aggregators()

    async def _timer(self, tick_s: float) -> None:
        while True:
            await asyncio.sleep(tick_s)
            self.streamer.flush_due()
            self.quarantine.flush()

    async def _pump(self, stream_id: str) -> None:
        source = self._sources[stream_id]
        pipeline = self.pipelines[stream_id]
        gate = self._gates[stream_id]
        while True:
            try:
                async for raw in source:
                    if not gate.is_set():
                        await gate.wait()
                    pipeline.push(raw)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.source_failures += 1
                log.exception(
                    "source of stream %s failed; restarting in %.1fs", stream_id, self._backoff
                )
                await asyncio.sleep(self._backoff)
