"""Read-only GraphQL at /graphql: portfolio, orders, positions, candles and news, for the web UI.

The credentials of REST (Bearer or X-API-Key) are checked before any GraphQL runs: without one the
answer is a 401 problem+json. Every role may read everything; no mutations, no subscriptions (/ws).
`Resolvers` are callables from the composition root that return a value or an awaitable: kernel
readers should be plain functions (run on the loop thread, where the kernel's state is consistent),
blocking store readers wrapped with `in_thread` so a slow query never stalls the kernel. Rows may
be mappings or objects (a domain Order works as is). Times are ISO 8601 UTC with Z (UtcTime).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NewType, ParamSpec, TypeAlias, TypeVar

import strawberry
from cross_web import HTTPException as StrawberryHTTPException
from fastapi import APIRouter, Request
from fastapi.routing import APIWebSocketRoute
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info
from strawberry.types.unset import UNSET

from grekko.api.principal import Authenticator, Role
from grekko.api.problems import ApiProblem
from grekko.core.errors import ConfigError, DataError
from grekko.core.time import iso_to_ns, ns_to_iso
from grekko.domain.candles import Timeframe
from grekko.domain.data import Bar
from grekko.domain.enums import OrderStatus
from grekko.domain.news import NewsItem, NewsQuery

P = ParamSpec("P")
T = TypeVar("T")
Maybe: TypeAlias = T | Awaitable[T]

MAX_DEPTH, MAX_ALIASES, MAX_TOKENS = 5, 15, 2000  # per query: abuse limits
MAX_ORDERS, MAX_CANDLES, MAX_NEWS = 1000, 5000, 500  # rows per field

REALM = 'Bearer realm="grekko"'
_BAD_SCHEME = ("token_invalid", "The token is not valid", "use the Bearer scheme")
_NO_CREDENTIAL = ("unauthenticated", "Authentication required", "send Bearer <token> or X-API-Key")
log = logging.getLogger("grekko.api.graphql")
_STATUSES = {s.value: s for s in OrderStatus}
UtcTime = NewType("UtcTime", int)  # UTC ns inside, ISO 8601 with Z on the wire


@dataclass(frozen=True)
class Resolvers:
    """What /graphql reads (TradingDesk, CandleStore.range, NewsStore.query fit as they are).

    portfolio() -> {currency|cash_currency, equity, realized_pnl, unrealized_pnl, fees,
        balances: {ccy: total} | [{currency, total}], drawdown?}
    orders(status, limit) -> newest first; positions() -> rows as TradingDesk.positions()
    candles(instrument_id, timeframe, start_ns, end_ns, limit) -> bars oldest first
    """

    portfolio: Callable[[], Maybe[Any]]
    orders: Callable[[OrderStatus | None, int], Maybe[Sequence[Any]]]
    positions: Callable[[], Maybe[Sequence[Any]]]
    candles: Callable[[str, Timeframe, int | None, int | None, int], Maybe[Sequence[Bar]]]
    news: Callable[[NewsQuery], Maybe[Sequence[NewsItem]]]


def in_thread(fn: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """A blocking resolver (SQL store) run in a worker thread, off the kernel's event loop."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    return run


@strawberry.type
class Balance:
    currency: str
    total: Decimal


@strawberry.type
class Portfolio:
    currency: str
    cash: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    drawdown: float | None = strawberry.field(description="fraction below the equity peak")
    balances: list[Balance]


@strawberry.type
class Order:
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: str
    order_type: str
    status: str
    quantity: Decimal
    filled_qty: Decimal
    price: Decimal | None
    avg_px: Decimal | None
    venue_order_id: str | None
    ts_last: UtcTime | None


@strawberry.type
class Position:
    instrument_id: str
    quantity: Decimal
    avg_px: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal | None
    mark_price: Decimal | None


@strawberry.type
class Candle:
    instrument_id: str
    time: UtcTime = strawberry.field(description="open of the interval")
    close_time: UtcTime = strawberry.field(description="end of the interval")
    open: float
    high: float
    low: float
    close: float
    volume: float


@strawberry.type
class News:
    id: strawberry.ID
    published_at: UtcTime
    source: str
    title: str
    summary: str
    url: str
    assets: list[str]
    sentiment: float
    sentiment_label: str


@strawberry.type
class Query:
    @strawberry.field(description="Cash, equity and PnL in the account's cash currency.")
    async def portfolio(self, info: Info) -> Portfolio:
        return _portfolio(await _call(info, "portfolio"))

    @strawberry.field(description="Orders, newest first; status filters on one order status.")
    async def orders(self, info: Info, status: str | None = None, limit: int = 100) -> list[Order]:
        rows = await _call(info, "orders", _status(status), _limit(limit, MAX_ORDERS))
        return [_order(row) for row in rows]

    @strawberry.field(description="Open positions with their average price and PnL.")
    async def positions(self, info: Info) -> list[Position]:
        return [_position(row) for row in await _call(info, "positions")]

    @strawberry.field(description="Bars with start <= open < end, oldest first.")
    async def candles(
        self,
        info: Info,
        instrument_id: str,
        timeframe: str = "1m",
        start: UtcTime | None = None,
        end: UtcTime | None = None,
        limit: int = 500,
    ) -> list[Candle]:
        tf = await _run(Timeframe.parse, timeframe)
        if start is not None and end is not None and start > end:
            raise _invalid("start is after end")
        bars = await _call(
            info, "candles", instrument_id, tf, start, end, _limit(limit, MAX_CANDLES)
        )
        return [_candle(bar) for bar in bars]

    @strawberry.field(description="News, newest first; filters combine with AND.")
    async def news(
        self,
        info: Info,
        assets: list[str] | None = None,
        sentiment: str | None = None,
        text: str | None = None,
        since: UtcTime | None = None,
        until: UtcTime | None = None,
        limit: int = 50,
    ) -> list[News]:
        query = await _run(
            lambda: NewsQuery(
                assets=tuple(assets or ()),
                since=since,
                until=until,
                sentiment_label=sentiment,
                text=text,
                limit=_limit(limit, MAX_NEWS),
            )
        )
        return [_news(item) for item in await _call(info, "news", query)]


async def _call(info: Info, name: str, *args: Any) -> Any:
    return await _run(getattr(info.context["resolvers"], name), *args)


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), awaited if it gives an awaitable; bad input becomes an invalid_argument error."""
    try:
        result = fn(*args)
        return (await result) if inspect.isawaitable(result) else result
    except (DataError, ConfigError) as exc:
        raise _invalid(str(exc)) from exc


def _invalid(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "invalid_argument"})


def _limit(limit: int, most: int) -> int:
    if not 1 <= limit <= most:
        raise _invalid(f"limit must be between 1 and {most}, got {limit}")
    return limit


def _status(status: str | None) -> OrderStatus | None:
    if status is not None and status not in _STATUSES:
        raise _invalid(f"status must be one of {', '.join(_STATUSES)}, got {status[:40]!r}")
    return None if status is None else _STATUSES[status]


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


def _dec(value: Any) -> Any:
    """Decimal from a Decimal, int or text; None stays None (the field is nullable or an error)."""
    return value if value is None or isinstance(value, Decimal) else Decimal(str(value))


def _portfolio(row: Any) -> Portfolio:
    currency = str(_get(row, "currency") or _get(row, "cash_currency"))
    raw = _get(row, "balances") or {}
    if not isinstance(raw, Mapping):
        raw = {_get(b, "currency"): _get(b, "total") for b in raw}
    balances = {str(c): _dec(v) for c, v in raw.items()}
    money = ("equity", "realized_pnl", "unrealized_pnl", "fees")
    return Portfolio(
        currency=currency,
        cash=balances.get(currency, Decimal(0)),
        balances=[Balance(currency=c, total=v) for c, v in sorted(balances.items())],
        drawdown=_get(row, "drawdown"),
        **{name: _dec(_get(row, name)) for name in money},
    )


def _order(row: Any) -> Order:
    filled = _dec(_get(row, "filled_qty") or 0)
    text = ("client_order_id", "strategy_id", "instrument_id", "side", "order_type", "status")
    return Order(
        **{name: str(_get(row, name)) for name in text},
        quantity=_dec(_get(row, "quantity")),
        filled_qty=filled,
        price=_dec(_get(row, "price")),
        avg_px=_dec(_get(row, "avg_px")) if filled else None,
        venue_order_id=_get(row, "venue_order_id") or None,
        ts_last=_get(row, "ts_last"),
    )


def _position(row: Any) -> Position:
    return Position(
        instrument_id=str(_get(row, "instrument_id")),
        **{name: _dec(_get(row, name)) for name in ("quantity", "avg_px", "realized_pnl")},
        **{name: _dec(_get(row, name)) for name in ("unrealized_pnl", "mark_price")},
    )


def _candle(bar: Bar) -> Candle:
    prices = {name: getattr(bar, name) for name in ("open", "high", "low", "close", "volume")}
    return Candle(
        instrument_id=bar.instrument_id,
        time=UtcTime(bar.ts_open),
        close_time=UtcTime(bar.ts_event),
        **prices,
    )


def _news(item: NewsItem) -> News:
    same = ("source", "title", "summary", "url", "sentiment", "sentiment_label")
    return News(
        id=strawberry.ID(item.news_id),
        published_at=UtcTime(item.published_at),
        assets=list(item.assets),
        **{name: getattr(item, name) for name in same},
    )


def parse_utc(value: Any) -> UtcTime:
    """ISO 8601 with Z or an offset -> UTC ns; a time without a zone is refused, not guessed."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("a time is an ISO 8601 string like 2021-04-19T00:00:00Z")
    return UtcTime(iso_to_ns(value.strip()))


def _should_mask(error: GraphQLError) -> bool:
    """Hide the text of unexpected errors; keep validation and argument errors readable."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | DataError)


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log what went wrong on our side; a client's bad query or argument is its answer only."""
        for error in errors:
            if _should_mask(error):
                log.error(
                    "graphql resolver failed at %s", error.path, exc_info=error.original_error
                )


def build_schema() -> strawberry.Schema:
    utc_time = strawberry.scalar(
        name="UtcTime",
        description="A UTC instant, ISO 8601 with Z: 2021-04-19T00:00:00Z",
        serialize=ns_to_iso,
        parse_value=parse_utc,
    )
    return _Schema(
        query=Query,
        config=StrawberryConfig(scalar_map={UtcTime: utc_time}),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaskErrors(should_mask_error=_should_mask),
        ],
    )


def credential_of(request: Request) -> str:
    """The bearer token or API key of a request (as the REST dependencies read them), or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme and (scheme.lower() != "bearer" or not token.strip()):
        challenge = f'{REALM}, error="invalid_request"'
        raise ApiProblem(401, *_BAD_SCHEME, headers={"WWW-Authenticate": challenge})
    credential = token.strip() or request.headers.get("x-api-key", "").strip()
    if not credential:
        raise ApiProblem(401, *_NO_CREDENTIAL, headers={"WWW-Authenticate": REALM})
    return credential


class _ProblemGraphQLRouter(GraphQLRouter[dict[str, Any], None]):
    """Strawberry answers transport errors (bad JSON body, wrong method) in plain text: make
    them problem+json like every other error of the API."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except StrawberryHTTPException as exc:
            code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
            raise ApiProblem(
                exc.status_code, code.get(exc.status_code, "http_error"), exc.reason
            ) from exc


def graphql_router(
    resolvers: Resolvers, authenticator: Authenticator, *, graphiql: bool = False
) -> APIRouter:
    """POST /graphql; no queries over GET, no subscriptions. With graphiql=True a browser's GET
    gets the GraphiQL page without credentials (it is static; its queries are POSTs that need them)."""

    def context(request: Request) -> dict[str, Any]:  # sync: FastAPI runs it in its thread pool
        if graphiql and request.method == "GET":
            return {"principal": None, "resolvers": resolvers}
        principal = authenticator.authenticate(credential_of(request))
        if not principal.role.allows(Role.VIEWER):
            raise ApiProblem(403, "forbidden", "Not allowed", "Reading needs the viewer role")
        return {"principal": principal, "resolvers": resolvers}

    router = _ProblemGraphQLRouter(
        build_schema(),
        path="/graphql",
        graphql_ide="graphiql" if graphiql else None,
        allow_queries_via_get=False,
        context_getter=context,
        subscription_protocols=(),
    )
    router.routes[:] = [r for r in router.routes if not isinstance(r, APIWebSocketRoute)]
    return router
