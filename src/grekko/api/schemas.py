"""Request and response bodies (DTOs): what crosses the HTTP boundary, never domain objects.

Money and quantities are Decimal, sent as strings in JSON; times are ISO 8601 with Z.
Requests forbid unknown fields and bound every string and number.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from grekko.core.time import ns_to_iso
from grekko.domain.data import Bar
from grekko.domain.events import OrderFilled
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order

InstrumentIdText = Annotated[
    str,
    Field(
        min_length=3,
        max_length=100,
        pattern=r"^[A-Za-z0-9]+/[A-Za-z0-9]+(:[A-Za-z0-9]+)?@[a-z0-9_.-]+$",
    ),
]
PositiveDecimal = Annotated[
    Decimal, Field(gt=0, max_digits=38, decimal_places=18, allow_inf_nan=False)
]


# increments like 1E-8 go out as "0.00000001": what a trader reads and a client parses
PlainDecimal = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    code: str
    instance: str
    detail: str | None = None


PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text, "content": {"application/problem+json": {}}}
    for code, text in (
        (401, "Not authenticated"),
        (403, "Not allowed for this role"),
        (422, "Invalid request"),
        (429, "Rate limited"),
    )
}


def problems(*extra: int) -> dict[int | str, dict[str, Any]]:
    out = dict(PROBLEMS)
    for code in extra:
        out[code] = {
            "model": Problem,
            "description": "Problem",
            "content": {"application/problem+json": {}},
        }
    return out


class InstrumentOut(BaseModel):
    instrument_id: str
    symbol: str
    venue: str
    base: str
    quote: str
    price_increment: PlainDecimal
    size_increment: PlainDecimal
    min_notional: PlainDecimal
    maker_fee: PlainDecimal
    taker_fee: PlainDecimal
    asset_class: str

    @classmethod
    def of(cls, i: Instrument) -> InstrumentOut:
        return cls(
            instrument_id=i.id,
            symbol=i.symbol,
            venue=i.venue,
            base=i.base,
            quote=i.quote,
            price_increment=i.price_increment,
            size_increment=i.size_increment,
            min_notional=i.min_notional,
            maker_fee=i.maker_fee,
            taker_fee=i.taker_fee,
            asset_class=str(i.asset_class),
        )


class CandleOut(BaseModel):
    time: str
    ts_open: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @classmethod
    def of(cls, bar: Bar) -> CandleOut:
        return cls(
            time=ns_to_iso(bar.ts_open),
            ts_open=bar.ts_open,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
        )


class TickerOut(BaseModel):
    instrument_id: str
    time: str | None
    last: float | None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None
    bid: float | None = None
    ask: float | None = None


class BookOut(BaseModel):
    instrument_id: str
    time: str
    sequence: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


class OrderIn(Request):
    instrument_id: InstrumentIdText
    side: Literal["buy", "sell"]
    type: Literal["market", "limit", "stop_market", "stop_limit"] = "market"
    quantity: PositiveDecimal
    price: PositiveDecimal | None = None
    trigger_price: PositiveDecimal | None = None
    time_in_force: Literal["gtc", "ioc", "fok"] = "gtc"
    reduce_only: bool = False
    post_only: bool = False


class OrderOut(BaseModel):
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: str
    status: str
    filled_qty: Decimal
    avg_px: Decimal
    fees: Decimal
    reason: str | None
    updated_at: str

    @classmethod
    def of(cls, order: Order, reason: str | None = None) -> OrderOut:
        return cls(
            client_order_id=order.client_order_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            side=str(order.side),
            type=str(order.order_type),
            quantity=order.quantity,
            price=order.price,
            trigger_price=order.trigger_price,
            time_in_force=str(order.time_in_force),
            status=str(order.status),
            filled_qty=order.filled_qty,
            avg_px=order.avg_px,
            fees=order.fees,
            reason=reason,
            updated_at=ns_to_iso(order.ts_last),
        )


class FillOut(BaseModel):
    client_order_id: str
    trade_id: str
    instrument_id: str
    strategy_id: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str
    time: str

    @classmethod
    def of(cls, f: OrderFilled) -> FillOut:
        return cls(
            client_order_id=f.client_order_id,
            trade_id=f.trade_id,
            instrument_id=f.instrument_id,
            strategy_id=f.strategy_id,
            side=str(f.side),
            quantity=f.last_qty,
            price=f.last_px,
            fee=f.fee,
            fee_currency=f.fee_currency,
            liquidity=str(f.liquidity),
            time=ns_to_iso(f.ts_event),
        )


class PositionOut(BaseModel):
    instrument_id: str
    quantity: Decimal
    avg_px: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal


class BalanceOut(BaseModel):
    currency: str
    total: Decimal
    free: Decimal
    reserved: Decimal


class EquityPoint(BaseModel):
    time: str
    equity: Decimal


class PortfolioOut(BaseModel):
    cash_currency: str
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    drawdown: float
    equity_curve: list[EquityPoint]


class RiskLimitsOut(BaseModel):
    max_order_notional: Decimal
    max_position_qty: Decimal | None
    price_band_pct: Decimal
    max_orders_per_second: int
    strategy_budget_pct: Decimal
    daily_loss_pct: Decimal
    max_drawdown_pct: Decimal
    allowed_instruments: list[str]


class RiskLimitsIn(Request):
    """Only the fields given change."""

    max_order_notional: PositiveDecimal | None = None
    max_position_qty: PositiveDecimal | None = None
    price_band_pct: Annotated[Decimal, Field(gt=0, le=1)] | None = None
    max_orders_per_second: Annotated[int, Field(gt=0, le=1_000_000)] | None = None
    strategy_budget_pct: Annotated[Decimal, Field(gt=0, le=1)] | None = None
    daily_loss_pct: Annotated[Decimal, Field(gt=0, le=1)] | None = None
    max_drawdown_pct: Annotated[Decimal, Field(gt=0, le=1)] | None = None


class RiskStateOut(BaseModel):
    state: str
    denials: int
    open_orders: int
    drawdown: float


class KillSwitchIn(Request):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class KillSwitchOut(BaseModel):
    state: str
    canceled: int


class TradingStateIn(Request):
    state: Literal["active", "reducing", "halted"]
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class StreamIn(Request):
    stream_id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/@-]+$")]
    data_type: Literal[
        "market_data",
        "order_book",
        "trade_executions",
        "agent_decisions",
        "risk_metrics",
        "news_feed",
    ]
    source: Annotated[str, Field(max_length=200)] = ""
    update_frequency_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 0
    buffer_size: Annotated[int, Field(ge=1, le=100_000)] = 1000


class StreamOut(BaseModel):
    stream_id: str
    data_type: str
    source: str
    update_frequency_ms: int
    buffer_size: int
    paused: bool
    sequence_number: int
    buffered: int
    subscribers: int


class StreamPublishIn(Request):
    payload: dict[str, Any] = Field(max_length=100)


class StreamMessageOut(BaseModel):
    stream_id: str
    timestamp: str
    sequence_number: int
    data_type: str
    payload: Any


class NewsOut(BaseModel):
    news_id: str
    published_at: str
    source: str
    title: str
    summary: str
    url: str
    assets: list[str]
    sentiment: float
    sentiment_label: str


class AuditOut(BaseModel):
    seq: int
    time: str
    actor: str
    action: str
    target: str
    detail: str
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str | None


class EventOut(BaseModel):
    position: int
    stream_id: str
    version: int
    type: str
    time: str
    data: dict[str, Any]
