"""avellaneda_stoikov market making through the real kernel on the bundled BTCUSDT 1m slice:
inventory limits, quote placement, inventory skew and the estimates taken from the data."""

from __future__ import annotations

import itertools
import math
import statistics
from decimal import Decimal

import pandas as pd
import pytest
from strategy_run_support import Snapshot, Watched, btc_frame, watch

from grekko.core.errors import ConfigError
from grekko.core.time import TestClock
from grekko.domain.data import TradeTick
from grekko.domain.enums import LiquiditySide, OrderSide, OrderType
from grekko.domain.events import OrderFilled

MAX_INVENTORY = Decimal(3)
GAMMA, HORIZON, VOL_WINDOW, INTENSITY_WINDOW = 0.1, 60, 60, 120


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return btc_frame()


@pytest.fixture(scope="module")
def mm() -> Watched:
    return watch("avellaneda_stoikov", {"max_inventory": str(MAX_INVENTORY)})


def quoted(mm: Watched) -> list[Snapshot]:
    return [s for s in mm.snapshots if s.signal["bid"] is not None]


def test_it_trades_both_sides_as_a_maker_within_its_inventory_limit(mm: Watched) -> None:
    fills = mm.fills()
    sides = {f.side for f in fills}
    assert sides == {OrderSide.BUY, OrderSide.SELL}
    assert len(fills) > 200
    assert {f.liquidity for f in fills} == {LiquiditySide.MAKER}  # post-only limit quotes
    assert all(f.last_qty <= 1 for f in fills)
    assert min(mm.positions_after_fill) >= 0  # no short selling on a cash account
    assert max(mm.positions_after_fill) == MAX_INVENTORY  # the cap was reached, never passed
    assert mm.setup.kernel.risk.denials == 0
    assert all(o.order_type is OrderType.LIMIT and o.post_only for o in mm.orders)


def test_quotes_straddle_the_reservation_and_never_cross_the_last_price(mm: Watched) -> None:
    tick = mm.strategy.ctx.instrument(mm.strategy.instrument_id).price_increment
    snaps = quoted(mm)
    assert len(snaps) > 9000
    for snap in snaps:
        sig = snap.signal
        bid, ask = Decimal(sig["bid"]), Decimal(sig["ask"])
        last = Decimal(repr(snap.close))
        assert float(bid) < sig["reservation"] < float(ask)
        assert bid < last < ask
        assert ask - bid >= 2 * tick
        assert bid % tick == 0
        assert ask % tick == 0
        assert sig["spread"] > 0


def test_working_quotes_follow_the_model_and_the_inventory(mm: Watched) -> None:
    capped = 0
    for snap in quoted(mm):
        bids = [o for o in snap.open_orders if o.side is OrderSide.BUY]
        asks = [o for o in snap.open_orders if o.side is OrderSide.SELL]
        assert len(bids) <= 1
        assert len(asks) <= 1
        if snap.position >= MAX_INVENTORY:
            capped += 1
            assert not bids  # only the side that reduces inventory
        else:
            [bid] = bids
            assert bid.price == Decimal(snap.signal["bid"])
            assert bid.leaves_qty == min(Decimal(1), MAX_INVENTORY - snap.position)
        if snap.position > 0:
            [ask] = asks
            assert ask.price == Decimal(snap.signal["ask"])
            assert ask.leaves_qty == min(Decimal(1), snap.position)
        else:
            assert not asks
    assert capped > 10


def test_inventory_pulls_the_reservation_below_the_mid_by_the_model_amount(mm: Watched) -> None:
    long_bars = 0
    for snap in quoted(mm):
        sig = snap.signal
        q = float(snap.position)
        assert sig["inventory_lots"] == q
        if q == 0:
            assert sig["reservation"] == pytest.approx(snap.close, rel=1e-12)
            continue
        long_bars += 1
        assert sig["reservation"] < snap.close
        # percent-of-log-price units: 100 ln(mid / r) = q gamma sigma^2 (T - t)
        shift = 100 * math.log(snap.close / sig["reservation"])
        assert shift == pytest.approx(q * GAMMA * sig["sigma_pct"] ** 2 * HORIZON, rel=1e-9)
    assert long_bars > 1000


def test_estimates_come_from_the_data(mm: Watched, frame: pd.DataFrame) -> None:
    est = mm.strategy.estimates()
    closes = frame["close"].tolist()
    window = closes[-(VOL_WINDOW + 1) :]
    rets = [math.log(b / a) for a, b in itertools.pairwise(window)]
    assert est["sigma_pct"] == pytest.approx(100 * statistics.stdev(rets), rel=1e-9)
    tail = frame.iloc[-INTENSITY_WINDOW:]
    ups = (100 * (tail["high"] / tail["open"]).map(math.log)).tolist()
    downs = (100 * (tail["open"] / tail["low"]).map(math.log)).tolist()
    mean_excursion = statistics.fmean(ups + downs)
    kappa = est["kappa"]
    assert isinstance(kappa, float)
    assert kappa > 0
    # excursions are roughly exponential: the fit and the moment estimate agree within 2x
    assert 0.5 / mean_excursion < kappa < 2 / mean_excursion
    assert 0.5 < est["A"] < 1.5
    fitted = [s for s in quoted(mm) if s.signal["fitted"]]
    assert len(fitted) == len(quoted(mm))
    assert all(s.signal["kappa"] > 0 and s.signal["A"] > 0 for s in fitted)


def test_rationales_name_the_reservation_and_the_inventory(mm: Watched) -> None:
    bid = next(o for o in mm.orders if o.side is OrderSide.BUY)
    ask = next(o for o in mm.orders if o.side is OrderSide.SELL)
    assert mm.rationales[bid.client_order_id].startswith(f"Bidding {bid.quantity} at ")
    assert "reservation price" in mm.rationales[bid.client_order_id]
    ask_text = mm.rationales[ask.client_order_id]
    assert ask_text.startswith(f"Offering {ask.quantity} at ")
    assert "below the mid" in ask_text  # an ask exists only while long
    assert mm.strategy.signal() == mm.strategy.estimates()


def test_trades_requote_around_the_traded_price_when_subscribed() -> None:
    run = watch("avellaneda_stoikov", {"on_trades": "true", "max_inventory": "2"})
    strategy, kernel = run.strategy, run.setup.kernel
    clock = kernel.clock
    assert isinstance(clock, TestClock)
    iid = strategy.instrument_id
    before = strategy.bid
    price = run.snapshots[-1].close * 1.004
    clock.set_time(run.snapshots[-1].ts + 1_000_000_000)
    kernel.data.process_trade(TradeTick(iid, price, 0.5, OrderSide.BUY, "t-1", clock.now_ns))
    assert kernel.bus.handler_errors == 0
    assert strategy.mid == price
    assert strategy.bid != before
    assert strategy.bid < Decimal(repr(price)) < strategy.ask
    bids = [o for o in strategy.ctx.open_orders(iid) if o.side is OrderSide.BUY]
    if strategy.ctx.position(iid) < 2:
        assert [o.price for o in bids] == [strategy.bid]
    fills = [e for o in run.orders for e in o.events if type(e) is OrderFilled]
    assert fills


@pytest.mark.parametrize(
    "params",
    [
        {"on_trades": "maybe"},
        {"gamma": "0"},
        {"max_inventory": "0.5"},
        {"min_spread_ticks": "0"},
        {"max_quote_pct": "1"},
        {"vol_window": "1"},
    ],
)
def test_bad_parameters_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        watch("avellaneda_stoikov", params)
