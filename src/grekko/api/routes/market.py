"""Market data: instruments, candles, ticker, order book."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.read_cache import cached
from grekko.api.schemas import (
    BookOut,
    CandleOut,
    InstrumentIdText,
    InstrumentOut,
    TickerOut,
    problems,
)
from grekko.api.services import ApiServices, services
from grekko.core.time import ns_to_iso
from grekko.domain.candles import Timeframe

router = APIRouter(prefix="/api/v1", tags=["market"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Services = Annotated[ApiServices, Depends(services)]
MAX_CANDLES = 5000


def _known(svc: ApiServices, instrument_id: str) -> None:
    try:
        svc.desk.instrument(instrument_id)
    except KeyError as exc:
        raise ApiProblem(
            404, "unknown_instrument", "Unknown instrument", str(exc.args[0])
        ) from None


@router.get("/instruments", response_model=list[InstrumentOut], responses=problems())
async def list_instruments(_: Viewer, svc: Services) -> list[InstrumentOut]:
    return [InstrumentOut.of(i) for i in svc.desk.instruments()]


@router.get("/candles", response_model=list[CandleOut], responses=problems(404))
async def candles(
    _: Viewer,
    svc: Services,
    instrument_id: Annotated[InstrumentIdText, Query()],
    timeframe: Annotated[str, Query(pattern=r"^[0-9]{1,4}[smhdw]$")] = "1m",
    start: Annotated[
        int | None, Query(ge=0, le=2**62, description="UTC epoch ns, inclusive")
    ] = None,
    end: Annotated[int | None, Query(ge=0, le=2**62, description="UTC epoch ns, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CANDLES)] = 500,
) -> list[CandleOut]:
    try:
        tf = Timeframe.parse(timeframe)
    except Exception as exc:
        raise ApiProblem(422, "bad_timeframe", "Unknown timeframe", str(exc)) from None
    if svc.candles is None:
        raise ApiProblem(404, "no_candle_store", "No candle store", "this server keeps no candles")
    if svc.extra.get("read_cache") is None:  # one process: nothing to share
        return [
            CandleOut.of(bar) for bar in svc.candles.range(instrument_id, tf, start, end, limit)
        ]
    last = svc.desk.kernel.cache.last_bar.get(instrument_id)
    version = last.ts_event if last is not None else 0
    key = f"candles:{instrument_id}:{timeframe}:{start}:{end}:{limit}:{version}"
    candles_ = svc.candles

    def compute() -> list[dict[str, Any]]:
        bars = candles_.range(instrument_id, tf, start, end, limit)
        return [CandleOut.of(bar).model_dump(mode="json") for bar in bars]

    return [CandleOut(**c) for c in await cached(svc, key, compute)]


@router.get("/ticker", response_model=TickerOut, responses=problems(404))
async def ticker(
    _: Viewer, svc: Services, instrument_id: Annotated[InstrumentIdText, Query()]
) -> TickerOut:
    _known(svc, instrument_id)
    cache = svc.desk.kernel.cache
    bar = cache.last_bar.get(instrument_id)
    quote = cache.last_quote.get(instrument_id)
    trade = cache.last_trade.get(instrument_id)
    last = trade.price if trade is not None else (bar.close if bar is not None else None)
    ts = max((x.ts_event for x in (bar, quote, trade) if x is not None), default=None)
    return TickerOut(
        instrument_id=instrument_id,
        time=ns_to_iso(ts) if ts is not None else None,
        last=last,
        open=bar.open if bar else None,
        high=bar.high if bar else None,
        low=bar.low if bar else None,
        volume=bar.volume if bar else None,
        bid=quote.bid if quote else None,
        ask=quote.ask if quote else None,
    )


@router.get("/orderbook", response_model=BookOut, responses=problems(404))
async def order_book(
    _: Viewer,
    svc: Services,
    instrument_id: Annotated[InstrumentIdText, Query()],
    depth: Annotated[int, Query(ge=1, le=500)] = 20,
) -> BookOut:
    book = svc.books.book(instrument_id) if svc.books is not None else None
    if book is None or book.sequence < 0:
        raise ApiProblem(
            404, "no_order_book", "No order book", f"no L2 book is kept for {instrument_id}"
        )
    bids, asks = book.top(depth)
    return BookOut(
        instrument_id=instrument_id,
        time=ns_to_iso(book.ts),
        sequence=book.sequence,
        bids=list(bids),
        asks=list(asks),
    )
