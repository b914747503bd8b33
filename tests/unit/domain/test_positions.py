"""Netting positions: average price, realized PnL (worked out by hand) and flips between long and short."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grekko.domain.enums import OrderSide
from grekko.domain.positions import Position

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal


def test_a_new_position_is_flat() -> None:
    position = Position("BTC/USDT@paper")
    assert position.is_flat
    assert (position.quantity, position.avg_px, position.realized_pnl) == (0, 0, 0)
    assert position.unrealized_pnl(D(123)) == 0


def test_open_add_partial_close_full_close() -> None:
    p = Position("BTC/USDT@paper")
    assert p.apply_fill(BUY, D(2), D(100), D("0.2")) == 0
    assert (p.quantity, p.avg_px) == (D(2), D(100))
    assert p.unrealized_pnl(D(105)) == D(10)

    assert p.apply_fill(BUY, D(1), D(130), D("0.13")) == 0
    assert (p.quantity, p.avg_px) == (D(3), D(110))  # (2 x 100 + 130) / 3

    assert p.apply_fill(SELL, D(1), D(150), D("0.15")) == D(40)  # (150 - 110) x 1
    assert (p.quantity, p.avg_px) == (D(2), D(110))  # closing keeps the average
    assert p.unrealized_pnl(D(120)) == D(20)

    assert p.apply_fill(SELL, D(2), D(90), D("0.18")) == D(-40)  # (90 - 110) x 2
    assert p.is_flat
    assert p.avg_px == 0
    assert p.realized_pnl == 0  # +40 then -40
    assert p.fees == D("0.66")  # fees are kept apart from price PnL
    assert p.volume == D(6)


def test_short_open_add_and_cover() -> None:
    p = Position("BTC/USDT@paper")
    p.apply_fill(SELL, D(2), D(120), D(0))
    p.apply_fill(SELL, D(2), D(110), D(0))
    assert (p.quantity, p.avg_px) == (D(-4), D(115))
    assert p.unrealized_pnl(D(100)) == D(60)  # a short gains when the price falls
    assert p.apply_fill(BUY, D(1), D(100), D(0)) == D(15)
    assert p.apply_fill(BUY, D(3), D(125), D(0)) == D(-30)
    assert p.is_flat
    assert p.realized_pnl == D(-15)


def test_flip_long_to_short_realizes_the_closed_part_and_resets_the_average() -> None:
    p = Position("BTC/USDT@paper")
    p.apply_fill(BUY, D(1), D(100), D(0))
    realized = p.apply_fill(SELL, D(3), D(120), D(0))
    assert realized == D(20)  # only the 1 held was closed, at +20
    assert p.quantity == D(-2)
    assert p.avg_px == D(120)  # the remaining 2 opened short at this fill's price
    assert p.unrealized_pnl(D(110)) == D(20)
    # and back: cover 2 at 110 (+20) and go long 1 at 110
    assert p.apply_fill(BUY, D(3), D(110), D(0)) == D(20)
    assert (p.quantity, p.avg_px, p.realized_pnl) == (D(1), D(110), D(40))


def test_fractional_quantities_stay_exact() -> None:
    p = Position("ETH/USDT@paper")
    p.apply_fill(BUY, D("0.1"), D("3000.10"), D(0))
    p.apply_fill(BUY, D("0.2"), D("3000.40"), D(0))
    assert p.quantity == D("0.3")
    assert p.avg_px == D("3000.30")
    assert p.apply_fill(SELL, D("0.3"), D("3001.30"), D(0)) == D("0.3")
    assert p.quantity == 0


@pytest.mark.parametrize("qty", ["0", "-1"])
def test_fill_quantity_must_be_positive(qty: str) -> None:
    p = Position("BTC/USDT@paper")
    with pytest.raises(ValueError, match="positive"):
        p.apply_fill(BUY, D(qty), D(100), D(0))
    assert p.is_flat
