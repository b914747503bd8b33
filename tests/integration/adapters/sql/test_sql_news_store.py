"""SqlNewsStore on real SQLite and PostgreSQL: idempotent inserts, every query filter, the whole news set."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from grekko.adapters.news.replay import NewsReplay
from grekko.adapters.sql import SqlEventStore
from grekko.adapters.sql.news_store import SqlNewsStore
from grekko.core.time import NS_PER_S, TestClock
from grekko.domain.news import NewsItem, NewsQuery, news_id_for
from grekko.engines.bus import MessageBus
from grekko.engines.news_feed import NewsFeed
from grekko.ml.sentiment import score

T0 = 1_702_339_200 * NS_PER_S  # 2023-12-12T00:00:00Z
HOUR = 3600 * NS_PER_S

OpenNews = Callable[..., SqlNewsStore]


def _opener(url: str, **defaults: Any) -> Iterator[OpenNews]:
    stores: list[SqlNewsStore] = []

    def open_store(**options: Any) -> SqlNewsStore:
        store = SqlNewsStore(url, **{**defaults, **options})
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def open_news(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenNews]:
    if request.param == "sqlite":
        yield from _opener(f"sqlite:///{tmp_path / 'data' / 'grekko.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        yield from _opener(url, schema=request.getfixturevalue("pg_schema"))


def item(
    n: int,
    *,
    hours: int = 0,
    assets: tuple[str, ...] = (),
    label: str = "neutral",
    title: str | None = None,
    summary: str = "",
) -> NewsItem:
    url = f"https://example.com/news/{n}"
    return NewsItem(
        news_id=news_id_for(url, ""),
        published_at=T0 + hours * HOUR,
        source="CoinTelegraph",
        title=title or f"Headline {n}",
        summary=summary,
        url=url,
        assets=assets,
        sentiment={"positive": 0.6249, "neutral": 0.0, "negative": -0.4404}[label],
        sentiment_label=label,
    )


def ids(items: list[NewsItem]) -> list[str]:
    return [i.news_id for i in items]


def test_insert_is_idempotent_and_counts_only_new_items(open_news: OpenNews) -> None:
    store = open_news()
    first, second, third = item(1, assets=("BTC", "ETH")), item(2), item(3)
    assert store.add_many([first, second, first]) == 2  # a duplicate inside the batch too
    assert store.add_many([first, second, third]) == 1
    assert store.add_many([]) == 0
    assert store.count() == 3
    assert store.get(first.news_id) == first
    assert store.get("0" * 64) is None


def test_a_duplicate_keeps_the_first_copy(open_news: OpenNews) -> None:
    store = open_news()
    original = item(1, assets=("BTC",), title="First wording")
    store.add_many([original])
    reworded = item(1, assets=("ETH",), title="Second wording")
    assert store.add_many([reworded]) == 0
    assert store.get(original.news_id) == original


def test_queries_filter_by_asset_time_label_and_text(open_news: OpenNews) -> None:
    store = open_news()
    btc = item(1, hours=1, assets=("BTC",), label="positive", title="Bitcoin taps $42K")
    eth = item(2, hours=2, assets=("ETH",), label="negative", summary="Ether supply hits a low")
    both = item(3, hours=3, assets=("BTC", "ETH"), label="neutral", title="Price analysis 12/13")
    none = item(4, hours=4, title="FIFA enters NFT arena")
    store.add_many([btc, eth, both, none])

    assert ids(store.query(NewsQuery())) == ids([none, both, eth, btc])  # newest first
    assert ids(store.query(NewsQuery(assets=("BTC",)))) == ids([both, btc])
    assert ids(store.query(NewsQuery(assets=("ETH", "SOL")))) == ids([both, eth])
    assert ids(store.query(NewsQuery(since=T0 + 2 * HOUR, until=T0 + 4 * HOUR))) == ids([both, eth])
    assert ids(store.query(NewsQuery(sentiment_label="negative"))) == ids([eth])
    assert ids(store.query(NewsQuery(text="ETHER SUPPLY"))) == ids([eth])  # summary, any case
    assert ids(store.query(NewsQuery(text="bitcoin"))) == ids([btc])
    assert ids(store.query(NewsQuery(limit=2))) == ids([none, both])
    assert ids(store.query(NewsQuery(assets=("BTC",), sentiment_label="positive"))) == ids([btc])
    assert store.query(NewsQuery(assets=("DOGE",))) == []


def test_text_search_treats_like_wildcards_literally(open_news: OpenNews) -> None:
    store = open_news()
    percent = item(1, title="Bitcoin up 5% today")
    underscore = item(2, title="snake_case token launches")
    plain = item(3, title="Bitcoin up 50 today and snakeXcase")
    store.add_many([percent, underscore, plain])
    assert ids(store.query(NewsQuery(text="5%"))) == ids([percent])
    assert ids(store.query(NewsQuery(text="snake_case"))) == ids([underscore])
    assert store.query(NewsQuery(text="\\")) == []


def test_ties_in_time_have_a_stable_order(open_news: OpenNews) -> None:
    store = open_news()
    same_time = [item(n) for n in range(5)]
    store.add_many(same_time)
    expected = sorted(ids(same_time), reverse=True)
    assert ids(store.query(NewsQuery())) == expected
    assert ids(store.query(NewsQuery(limit=3))) == expected[:3]


def test_concurrent_writers_store_each_story_once(open_news: OpenNews) -> None:
    stores = [open_news(), open_news()]
    batches = [[item(n) for n in range(60)], [item(n) for n in range(30, 90)]]
    counts: list[int] = []

    def write(store: SqlNewsStore, batch: list[NewsItem]) -> None:
        counts.extend(store.add_many(batch[i : i + 10]) for i in range(0, len(batch), 10))

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(stores, batches, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 90
    assert stores[0].count() == 90


def test_shares_the_event_store_engine_without_closing_it(tmp_path: Path) -> None:
    events = SqlEventStore(f"sqlite:///{tmp_path / 'grekko.db'}")
    news = SqlNewsStore(events.engine)
    news.add_many([item(1)])
    news.close()
    with events.engine.connect() as connection:  # still usable
        assert connection.execute(sa.text("SELECT count(*) FROM news")).scalar() == 1
    events.close()


def test_the_bundled_news_set_end_to_end(open_news: OpenNews) -> None:
    store = open_news(clock=TestClock(T0))
    bus = MessageBus()
    feed = NewsFeed(bus, store, score, clock=TestClock(T0 + 30 * 24 * HOUR))
    replay = NewsReplay()
    published = feed.ingest(replay)
    assert feed.stats.published == len(published) == store.count() == 262

    btc_negative = store.query(NewsQuery(assets=("BTC",), sentiment_label="negative", limit=500))
    assert btc_negative
    assert all("BTC" in i.assets and i.sentiment_label == "negative" for i in btc_negative)
    assert [i.published_at for i in btc_negative] == sorted(
        (i.published_at for i in btc_negative), reverse=True
    )
    ledger = store.query(NewsQuery(text="ledger", limit=500))
    assert len(ledger) >= 8
    assert all("ledger" in f"{i.title} {i.summary}".lower() for i in ledger)
    for stored in store.query(NewsQuery(limit=500)):
        assert stored == next(p for p in published if p.news_id == stored.news_id)
