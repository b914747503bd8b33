"""BarReplay / TradeReplay: pacing on a virtual clock, looping, rebasing, on real files."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from grekko.adapters.files.bars import bundled_files, load_bars
from grekko.adapters.files.replay import YIELD_EVERY, BarReplay, TradeReplay
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar, RawMarketData, RawTrade
from grekko.engines.ingest.normalizer import Normalizer
from grekko.engines.ingest.quarantine import Rejected
from grekko.engines.ingest.validator import Validator
from shared_data import shared_file

BTC = bundled_files()[0]
MINUTE_NS = 60 * 10**9


class VirtualTime:
    """Stands in for the event loop's clock: sleeping moves time, nothing waits for real.

    `work_s` is how long handling one record takes, to model a pipeline slower than the data.
    """

    def __init__(self, work_s: float = 0.0) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.work_s = work_s

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def monotonic(self) -> float:
        return self.now

    def install(self, replay: BarReplay | TradeReplay) -> None:
        replay.sleep = self.sleep  # type: ignore[method-assign]
        replay.monotonic = self.monotonic  # type: ignore[method-assign]


async def drain(
    replay: BarReplay | TradeReplay, limit: int, clock: VirtualTime | None = None
) -> list[RawMarketData]:
    records: list[RawMarketData] = []
    async for record in replay:
        records.append(record)
        if clock is not None:
            clock.now += clock.work_s
        if len(records) >= limit:
            break
    return records


def trade_file() -> Path:
    return shared_file("ticks_orderbook", "binance_btcusdt-trades.parquet")


@pytest.mark.asyncio
async def test_bar_replay_as_fast_as_possible_yields_every_bar_once() -> None:
    replay = BarReplay(BTC, venue="binance")
    clock = VirtualTime()
    clock.install(replay)
    bars = await drain(replay, 10**6)
    assert len(bars) == 9646
    assert all(isinstance(b, RawBar) for b in bars)
    first = bars[0]
    assert isinstance(first, RawBar)
    assert (first.venue, first.symbol, first.open, first.close) == (
        "binance",
        "BTC/USDT",
        56150.01,
        56234.8,
    )
    assert first.interval_s == 60.0
    assert clock.sleeps == [0] * (9646 // YIELD_EVERY)  # only hands the loop back now and then
    assert replay.name == f"replay:{BTC.name}"


@pytest.mark.asyncio
async def test_bar_replay_paced_sleeps_add_up_to_span_over_speed() -> None:
    arrays = load_bars(BTC)
    replay = BarReplay(BTC, speed=60.0)  # an hour a minute
    clock = VirtualTime()
    clock.install(replay)
    await drain(replay, 10**6)
    span_s = (int(arrays.ts_close_ns[-1]) - int(arrays.ts_close_ns[0])) / 1e9
    assert span_s == 7 * 86_400 - 60
    assert sum(clock.sleeps) == pytest.approx(span_s / 60.0, abs=0.002)
    assert clock.now == pytest.approx(span_s / 60.0, abs=0.002)
    assert len(clock.sleeps) == 9645  # one per bar after the first: each is a minute of data
    # the exchange's 284-minute maintenance gap is one long wait of 285 minutes / 60
    assert max(clock.sleeps) == pytest.approx(285.0)


@pytest.mark.asyncio
async def test_a_slow_consumer_is_never_made_to_wait() -> None:
    replay = BarReplay(BTC, speed=60.0)
    clock = VirtualTime(work_s=2.0)  # each bar takes twice its paced second to handle
    clock.install(replay)
    await drain(replay, 200, clock)
    assert clock.sleeps == []


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ConfigError, match="speed must be > 0"):
        BarReplay(BTC, speed=speed)


@pytest.mark.asyncio
async def test_bar_loop_shifts_time_forward() -> None:
    arrays = load_bars(BTC)
    replay = BarReplay(BTC, loop=True)
    bars = await drain(replay, 2 * 9646 + 1)
    assert replay.passes == 3
    stamps = [b.ts for b in bars]  # type: ignore[union-attr]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    span = int(arrays.ts_open_ns[-1] - arrays.ts_open_ns[0]) + MINUTE_NS
    assert stamps[9646] == stamps[0] + span == stamps[9645] + MINUTE_NS
    assert stamps[2 * 9646] == stamps[0] + 2 * span
    # the seam is a real price jump (56.2k at the start, 49k a week later): the spike rule
    # holds the new pass's first two bars until a third agrees
    normalizer, validator = Normalizer(), Validator()
    rejected = []
    for index, raw in enumerate(bars):
        try:
            validator.bar(normalizer.bar(raw))  # type: ignore[arg-type]
        except Rejected as error:
            rejected.append((index, error.reason))
    assert rejected == [(9646, "spike"), (9647, "spike"), (2 * 9646, "spike")]


@pytest.mark.shared
@pytest.mark.asyncio
async def test_trade_replay_paced_on_real_trades() -> None:
    replay = TradeReplay(trade_file(), symbol="BTCUSDT", venue="binance", speed=10.0)
    clock = VirtualTime()
    clock.install(replay)
    trades = await drain(replay, 10**6)
    assert len(trades) == 2001
    span_s = (1610064046355 - 1610064000278) / 1e3
    assert sum(clock.sleeps) == pytest.approx(span_s / 10.0, abs=0.002)
    first = trades[0]
    assert isinstance(first, RawTrade)
    assert (first.symbol, first.price, first.amount, first.side, first.ts, first.trade_id) == (
        "BTCUSDT",
        39432.48,
        0.000263,
        "sell",
        1610064000278 * 10**6,  # read as a number, handed on in ns
        553287559,
    )


@pytest.mark.shared
@pytest.mark.asyncio
async def test_trade_loop_suffixes_ids_and_the_validator_accepts_every_pass() -> None:
    replay = TradeReplay(trade_file(), symbol="BTCUSDT", venue="binance", loop=True)
    trades = await drain(replay, 3 * 2001)
    assert replay.passes == 3
    second = trades[2001]
    assert isinstance(second, RawTrade)
    assert second.trade_id == "553287559#2"
    assert trades[4002].trade_id == "553287559#3"  # type: ignore[union-attr]
    span_ns = (1610064046355 - 1610064000278) * 10**6 + 10**6
    assert second.ts == 1610064000278 * 10**6 + span_ns
    normalizer, validator = Normalizer(), Validator()
    for raw in trades:
        validator.trade(normalizer.trade(raw))  # type: ignore[arg-type]  # raises if rejected


@pytest.mark.shared
@pytest.mark.asyncio
async def test_rebase_moves_the_first_record_to_the_given_time() -> None:
    now = 1_800_000_000 * 10**9
    replay = TradeReplay(trade_file(), symbol="BTCUSDT", rebase_ns=lambda: now)
    trades = await drain(replay, 10**6)
    assert trades[0].ts == now  # type: ignore[union-attr]
    assert trades[-1].ts == now + (1610064046355 - 1610064000278) * 10**6  # type: ignore[union-attr]
    bars = await drain(BarReplay(BTC, rebase_ns=lambda: now), 2)
    # a bar is known at its close: the first bar closes at the rebase time
    assert [b.ts for b in bars] == [now - MINUTE_NS, now]  # type: ignore[union-attr]


@pytest.mark.shared
@pytest.mark.asyncio
async def test_kraken_trades_without_ids_or_sides_replay_as_given() -> None:
    path = shared_file("ticks_orderbook", "kraken_BCHEUR_trades_q2_headerless.csv")
    replay = TradeReplay(path, symbol="BCHEUR", venue="kraken", loop=True)
    trades = await drain(replay, 2 * 486)
    assert {t.trade_id for t in trades} == {""}  # type: ignore[union-attr]
    assert {t.side for t in trades} == {None}  # type: ignore[union-attr]
    normalizer, validator = Normalizer(), Validator()
    rejected = []
    for index, raw in enumerate(trades):
        try:
            validator.trade(normalizer.trade(raw))  # type: ignore[arg-type]
        except Rejected as error:
            rejected.append((index, error.reason))
    # the seam jumps 93.4 -> 90.07 (3.6 %): two spikes, then the third agreeing price confirms
    assert rejected == [(486, "spike"), (487, "spike")]


def test_an_empty_trade_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("timestamp,price,amount,side,id\n")
    with pytest.raises(ConfigError, match="no trades to replay"):
        TradeReplay(path, symbol="BTCUSDT")
