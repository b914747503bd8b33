"""/graphql queries over HTTP, answered from real data: a real kernel that traded real prices, the
bundled Binance bars in a real SQLite candle store, the bundled news set scored into a real store.

The resolvers are small functions over those objects, what the composition root wires; the
stores' blocking queries run in worker threads through `in_thread`, as they should in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from realtime_support import TRADER_KEY, VIEWER_TOKEN, TokenAuthenticator, make_app

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.adapters.news.replay import read_news_file
from grekko.adapters.sql.candle_store import SqlCandleStore
from grekko.adapters.sql.news_store import SqlNewsStore
from grekko.api.graphql import Resolvers, graphql_router, in_thread
from grekko.domain.enums import OrderSide, OrderStatus
from grekko.engines.news_feed import NewsFeed
from grekko.ml.sentiment import default_scorer

BTC = "BTC/USDT@binance"
D = Decimal


class World:
    """The kernel after a few trades on real prices, and the two stores."""

    def __init__(self, harness: Any, tmp: Path) -> None:
        self.h = harness
        url = f"sqlite:///{tmp / 'grekko.db'}"
        self.candles = SqlCandleStore(url)
        arrays = load_bars(next(p for p in bundled_files() if p.name.startswith("BTCUSDT")))
        columns = (arrays.open, arrays.high, arrays.low, arrays.close, arrays.volume)
        self.candles.write_columns(BTC, "1m", arrays.ts_open_ns, columns)
        self.news = SqlNewsStore(self.candles.engine)
        NewsFeed(harness.kernel.bus, self.news, default_scorer(), max_future_ns=None).ingest(
            read_news_file().items[:300]
        )
        self._trade(arrays)

    def _trade(self, arrays: Any) -> None:
        h, iid = self.h, self.h.iid
        h.then(lambda ctx, bar: ctx.submit_market(iid, OrderSide.BUY, D("0.5")))
        h.then(lambda ctx, bar: ctx.submit_limit(iid, OrderSide.BUY, D("0.1"), D("52000")))
        h.then(lambda ctx, bar: ctx.submit_market(iid, OrderSide.SELL, D("0.2")))
        for _, _, o, hi, lo, c, v in islice(iter_bar_rows(arrays), 6):
            h.bar(o, hi, lo, c, v)

    def resolvers(self) -> Resolvers:
        kernel = self.h.kernel
        portfolio = kernel.portfolio

        def orders(status: OrderStatus | None, limit: int) -> list[Any]:
            rows = [o for o in reversed(kernel.cache.orders.values()) if status in (None, o.status)]
            return rows[:limit]

        def positions() -> list[dict[str, Any]]:
            return [
                {**{k: getattr(p, k) for k in ("instrument_id", "quantity", "avg_px", "realized_pnl")},
                 "mark_price": portfolio.mark_price(iid)}
                for iid, p in portfolio.positions.items()
            ]  # fmt: skip

        return Resolvers(
            portfolio=lambda: {
                "cash_currency": portfolio.cash_currency,
                "equity": portfolio.equity(),
                "realized_pnl": portfolio.realized_pnl,
                "unrealized_pnl": portfolio.unrealized_pnl(),
                "fees": portfolio.fees,
                "drawdown": portfolio.drawdown_f,
                "balances": [
                    {"currency": c, "total": t} for c, t in portfolio.account.totals.items()
                ],
            },
            orders=orders,
            positions=positions,
            candles=in_thread(self.candles.range),
            news=in_thread(self.news.query),
        )


@pytest.fixture
def world(make_harness: Callable[..., Any], tmp_path: Path) -> Iterator[World]:
    w = World(make_harness(cash="100000"), tmp_path)
    yield w
    w.candles.close()


@pytest_asyncio.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(graphql_router(world.resolvers(), TokenAuthenticator()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://grekko") as c:
        c.headers["Authorization"] = f"Bearer {VIEWER_TOKEN}"
        yield c


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.asyncio
async def test_portfolio_is_the_kernels_exact_money(
    client: httpx.AsyncClient, world: World
) -> None:
    body = await gql(
        client,
        "{ portfolio { currency cash equity realizedPnl unrealizedPnl fees drawdown balances { currency total } } }",
    )
    p = body["data"]["portfolio"]
    kernel = world.h.kernel.portfolio
    assert p["currency"] == "USDT"
    assert D(p["cash"]) == kernel.account.total("USDT")
    assert D(p["equity"]) == kernel.equity()
    assert D(p["realizedPnl"]) == kernel.realized_pnl != 0
    assert D(p["fees"]) == kernel.fees > 0
    assert {b["currency"]: D(b["total"]) for b in p["balances"]} == {
        "BTC": D("0.3"),
        "USDT": D(p["cash"]),
    }


@pytest.mark.asyncio
async def test_orders_filter_by_status_newest_first(client: httpx.AsyncClient) -> None:
    query = "query($s: String, $n: Int!) { orders(status: $s, limit: $n) { clientOrderId side orderType status quantity filledQty price avgPx venueOrderId tsLast } }"
    every = (await gql(client, query, s=None, n=100))["data"]["orders"]
    assert [(o["side"], o["orderType"], o["status"]) for o in every] == [
        ("sell", "market", "filled"),
        ("buy", "limit", "accepted"),
        ("buy", "market", "filled"),
    ]
    limit_order = every[1]
    assert (limit_order["price"], limit_order["filledQty"], limit_order["avgPx"]) == (
        "52000",
        "0",
        None,
    )
    assert every[2]["avgPx"] is not None
    assert every[0]["tsLast"].endswith("Z")
    filled = (await gql(client, query, s="filled", n=1))["data"]["orders"]
    assert [o["clientOrderId"] for o in filled] == [every[0]["clientOrderId"]]
    bad = await gql(client, query, s="done", n=10)
    assert bad["data"] is None
    assert bad["errors"][0]["extensions"]["code"] == "invalid_argument"
    assert "status must be one of" in bad["errors"][0]["message"]


@pytest.mark.asyncio
async def test_positions_carry_average_price_and_mark(
    client: httpx.AsyncClient, world: World
) -> None:
    [pos] = (
        await gql(client, "{ positions { instrumentId quantity avgPx realizedPnl markPrice } }")
    )["data"]["positions"]
    kernel_pos = world.h.kernel.portfolio.positions[world.h.iid]
    assert pos["instrumentId"] == "BTC/USDT@paper"
    assert D(pos["quantity"]) == D("0.3")
    assert D(pos["avgPx"]) == kernel_pos.avg_px
    assert pos["markPrice"] is not None


@pytest.mark.asyncio
async def test_candles_come_from_the_store_and_resample_on_read(client: httpx.AsyncClient) -> None:
    query = 'query($tf: String!, $a: UtcTime, $b: UtcTime, $n: Int!) { candles(instrumentId: "BTC/USDT@binance", timeframe: $tf, start: $a, end: $b, limit: $n) { time closeTime open high low close volume } }'
    minutes = (
        await gql(
            client, query, tf="1m", a="2021-04-19T00:00:00Z", b="2021-04-19T01:00:00Z", n=5000
        )
    )["data"]["candles"]
    assert len(minutes) == 60
    assert minutes[0]["time"] == "2021-04-19T00:00:00.000000Z"
    assert minutes[0]["closeTime"] == "2021-04-19T00:01:00.000000Z"
    assert (minutes[0]["open"], minutes[0]["close"]) == (56150.01, 56234.8)
    hours = (await gql(client, query, tf="1h", a="2021-04-19T00:00:00+00:00", b=None, n=3))["data"][
        "candles"
    ]
    assert [c["time"] for c in hours] == [f"2021-04-19T0{i}:00:00.000000Z" for i in range(3)]
    assert hours[0]["open"] == 56150.01
    assert hours[0]["high"] == max(m["high"] for m in minutes)
    assert hours[0]["volume"] == pytest.approx(sum(m["volume"] for m in minutes))
    for tf, a, n, text in [
        ("7x", None, 5, "timeframe must look like"),
        ("1m", None, 5001, "limit must be between 1 and 5000"),
        ("1m", "2021-04-19T00:00:00", 5, "needs a timezone"),
    ]:
        body = await client.post(
            "/graphql", json={"query": query, "variables": {"tf": tf, "a": a, "b": None, "n": n}}
        )
        assert text in body.json()["errors"][0]["message"]


@pytest.mark.asyncio
async def test_news_filters_combine_and_come_newest_first(client: httpx.AsyncClient) -> None:
    query = "query($assets: [String!], $s: String, $t: String, $n: Int!) { news(assets: $assets, sentiment: $s, text: $t, limit: $n) { id publishedAt source title summary assets sentiment sentimentLabel } }"
    items = (await gql(client, query, assets=["BTC"], s="positive", t="bitcoin", n=500))["data"][
        "news"
    ]
    assert items
    for item in items:
        assert "BTC" in item["assets"]
        assert item["sentimentLabel"] == "positive"
        assert item["sentiment"] >= 0.05
        assert "bitcoin" in (item["title"] + item["summary"]).lower()
    published = [i["publishedAt"] for i in items]
    assert published == sorted(published, reverse=True)
    everything = (await gql(client, query, assets=None, s=None, t=None, n=500))["data"]["news"]
    assert len(items) < len(everything) <= 300
    bad = await gql(client, query, assets=["btc"], s=None, t=None, n=10)
    assert bad["errors"][0]["extensions"]["code"] == "invalid_argument"


@pytest.mark.asyncio
async def test_an_api_key_reads_the_same(world: World) -> None:
    app = make_app(graphql_router(world.resolvers(), TokenAuthenticator()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://grekko"
    ) as c:
        response = await c.post(
            "/graphql",
            json={"query": "{ positions { quantity } }"},
            headers={"X-API-Key": TRADER_KEY},
        )
    assert response.json() == {"data": {"positions": [{"quantity": "0.3"}]}}
