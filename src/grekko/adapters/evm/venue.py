"""DexVenue: on-chain swaps as an ExecutionVenue, so the kernel trades a DEX like any exchange.

An order is one swap, all or nothing: a sell spends exactly its quantity of the base token (exact
input); a buy receives exactly its quantity (exact output). A limit order is the same swap with its
price as the bound (the quote must reach it, and the slippage allowance never passes it), so it
fills now or is rejected: there is no order book to rest on. A revert, before sending or mined, is
an OrderRejected with the protocol's decoded reason; a fill carries the effective price (quote
tokens moved per base token) and the gas paid, converted to the quote token at the pool's price
of WETH at that moment, since the account books fees in quote.

Swaps block on the chain, so `worker` runs them (inline by default; a thread in a live session)
and `hand_back` delivers the resulting events on the kernel's own thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from grekko.adapters.evm.routing import DexRouter
from grekko.adapters.evm.swaps import BPS, Quote, SwapError, SwapFill, SwapRejected
from grekko.core.errors import VenueError
from grekko.core.money import ZERO, quantize
from grekko.core.time import Clock
from grekko.domain.enums import LiquiditySide, OrderSide, OrderType
from grekko.domain.events import OrderAccepted, OrderEvent, OrderFilled, OrderRejected
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order
from grekko.ports.venue import Job, OrderEventSink, VenueCapabilities, run_inline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DexMarket:
    """One tradable pair: the instrument's base and quote as tokens on chain."""

    base_token: str
    quote_token: str
    base_decimals: int
    quote_decimals: int


@dataclass(frozen=True)
class DexVenueConfig:
    name: str = "uniswap"
    slippage_bps: int = 50
    deadline_s: int = 300
    weth: str | None = None  # gas is valued through the WETH -> quote price; None: fee 0

    def __post_init__(self) -> None:
        if not 0 <= self.slippage_bps < BPS or self.deadline_s <= 0:
            raise VenueError("slippage_bps must be in [0, 10000) and deadline_s positive")


class DexVenue:
    capabilities = VenueCapabilities(
        order_types=frozenset({OrderType.MARKET.value, OrderType.LIMIT.value}),
        supports_cancel=False,
        simulated=False,
    )

    def __init__(
        self,
        config: DexVenueConfig,
        router: DexRouter,
        markets: Mapping[str, DexMarket],
        instruments: Callable[[str], Instrument | None],
        clock: Clock,
        *,
        worker: Callable[[Job], None] = run_inline,
        hand_back: Callable[[Job], None] = run_inline,
    ) -> None:
        self.name = config.name
        self.config = config
        self.router = router
        self.markets = dict(markets)
        self._instruments = instruments
        self._clock = clock
        self._worker = worker
        self._hand_back = hand_back
        self._sink: OrderEventSink | None = None
        self._in_flight: set[str] = set()

    # ---- port -------------------------------------------------------------------------------
    def bind(self, sink: OrderEventSink) -> None:
        self._sink = sink

    def submit_order(self, order: Order) -> None:
        self._in_flight.add(order.client_order_id)

        def job() -> None:
            events = self._swap(order)
            self._hand_back(lambda: self._deliver(order.client_order_id, events))

        self._worker(job)

    def cancel_order(self, order: Order, reason: str = "") -> None:
        """A swap cannot be called back once sent; it fills or is rejected on its own."""
        log.info("%s: cancel of %s ignored: swaps are atomic", self.name, order.client_order_id)

    def open_order_ids(self) -> set[str]:
        return set(self._in_flight)

    def on_bar(self, bar: object) -> None:
        """Prices come from the pools, not from bars."""

    def on_trade(self, tick: object) -> None:
        """Prices come from the pools, not from trades."""

    # ---- one swap ----------------------------------------------------------------------------
    def _deliver(self, client_order_id: str, events: list[OrderEvent]) -> None:
        self._in_flight.discard(client_order_id)
        if self._sink is None:
            raise VenueError(f"{self.name} is not bound to an execution engine")
        for event in events:
            self._sink(event)

    def _swap(self, order: Order) -> list[OrderEvent]:
        market = self.markets.get(order.instrument_id)
        instrument = self._instruments(order.instrument_id)
        if market is None or instrument is None:
            return [self._rejected(order, f"{order.instrument_id} is not listed on {self.name}")]
        try:
            quote, slippage, min_out = self._plan(order, market)
            result = self.router.execute(
                quote, slippage, self.config.deadline_s, min_amount_out=min_out
            )
        except SwapError as exc:
            return [self._rejected(order, str(exc))]
        except Exception as exc:  # the node is down or answered nonsense: nothing was sent
            log.exception("%s: swap for %s failed", self.name, order.client_order_id)
            return [self._rejected(order, f"chain error: {type(exc).__name__}: {exc}")]
        if isinstance(result, SwapRejected):
            where = f" (tx {result.tx_hash})" if result.tx_hash else ""
            return [self._rejected(order, f"swap reverted: {result.reason}{where}")]
        return self._filled(order, market, instrument, result)

    def _plan(self, order: Order, market: DexMarket) -> tuple[Quote, int, int | None]:
        """(quote, slippage bps, min amount out) for the order; a limit bounds all three."""
        units = int(order.leaves_qty.scaleb(market.base_decimals))
        slippage = self.config.slippage_bps
        if order.side is OrderSide.BUY:
            quote = self.router.best_quote_out(units, market.quote_token, market.base_token)
            if order.order_type is OrderType.LIMIT and order.price is not None:
                cap = _units(order.leaves_qty * order.price, market.quote_decimals, up=False)
                if quote.amount_in > cap:
                    raise SwapError(_unreachable(order, quote.amount_in, market.quote_decimals))
                slippage = min(slippage, (cap - quote.amount_in) * BPS // quote.amount_in)
            return quote, slippage, None
        quote = self.router.best_quote(units, market.base_token, market.quote_token)
        min_out = None
        if order.order_type is OrderType.LIMIT and order.price is not None:
            floor = _units(order.leaves_qty * order.price, market.quote_decimals, up=True)
            if quote.amount_out < floor:
                raise SwapError(_unreachable(order, quote.amount_out, market.quote_decimals))
            min_out = max(floor, quote.amount_out * (BPS - slippage) // BPS)
        return quote, slippage, min_out

    def _filled(
        self, order: Order, market: DexMarket, instrument: Instrument, fill: SwapFill
    ) -> list[OrderEvent]:
        buy = order.side is OrderSide.BUY
        base_units, quote_units = (
            (fill.amount_out, fill.amount_in) if buy else (fill.amount_in, fill.amount_out)
        )
        qty = instrument.make_qty(Decimal(base_units).scaleb(-market.base_decimals))
        notional = Decimal(quote_units).scaleb(-market.quote_decimals)
        now = self._clock.timestamp_ns()
        return [
            OrderAccepted(
                ts_event=now, client_order_id=order.client_order_id, venue_order_id=fill.tx_hash
            ),
            OrderFilled(
                ts_event=now,
                client_order_id=order.client_order_id,
                venue_order_id=fill.tx_hash,
                trade_id=f"{fill.tx_hash}:{fill.block_number}",
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                side=order.side,
                last_qty=qty,
                last_px=instrument.make_price(notional / qty),
                fee=self._gas_in_quote(fill.fee_wei, market, instrument),
                fee_currency=instrument.quote,
                liquidity=LiquiditySide.TAKER,
            ),
        ]

    def _gas_in_quote(self, fee_wei: int, market: DexMarket, instrument: Instrument) -> Decimal:
        weth = self.config.weth
        if weth is None or fee_wei == 0:
            return ZERO
        ether = Decimal(fee_wei).scaleb(-18)
        unit = Decimal(1).scaleb(-market.quote_decimals)  # the quote token's smallest unit
        if market.quote_token.lower() == weth.lower():
            return quantize(ether, unit)
        try:
            one = self.router.best_quote(10**18, weth, market.quote_token)
        except SwapError:
            log.warning("%s: no WETH price in %s: gas not booked", self.name, instrument.quote)
            return ZERO
        return quantize(ether * Decimal(one.amount_out).scaleb(-market.quote_decimals), unit)

    def _rejected(self, order: Order, reason: str) -> OrderRejected:
        return OrderRejected(
            ts_event=self._clock.timestamp_ns(),
            client_order_id=order.client_order_id,
            reason=reason,
        )


def _units(amount: Decimal, decimals: int, *, up: bool) -> int:
    scaled = amount.scaleb(decimals)
    return int(scaled.to_integral_value(rounding=ROUND_CEILING)) if up else int(scaled)


def _unreachable(order: Order, units: int, decimals: int) -> str:
    best = Decimal(units).scaleb(-decimals) / order.leaves_qty
    return f"limit {order.price} not reachable: the best price for {order.leaves_qty} is {best:.8g}"
