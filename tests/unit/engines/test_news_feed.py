"""NewsFeed on the real bundled news set, a real SQLite store, the real scorer and the real bus."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from grekko.adapters.news.replay import NewsReplay
from grekko.adapters.sql.news_store import SqlNewsStore
from grekko.core.time import NS_PER_DAY, NS_PER_S, TestClock
from grekko.domain.news import NewsItem, NewsQuery, RawNews, check_raw, tag_assets
from grekko.engines.bus import MessageBus
from grekko.engines.news_feed import NewsFeed
from grekko.ml.sentiment import score

AFTER_THE_SET = TestClock((1_702_684_800 + 86_400) * NS_PER_S)  # 2023-12-17, after every story
GOOD = RawNews(
    source="CoinTelegraph",
    title="Bitcoin 'sodlers' dump $4B in two days as BTC sales hit 18-month high",
    summary="BTC price weakness clearly makes speculators nervous.",
    url="https://cointelegraph.com/news/bitcoin-sodlers-dump-4b-two-days-btc-sales-18-month-high",
    published="2023-12-13T09:55:00Z",
)


class Harness:
    def __init__(self, store: SqlNewsStore | None = None, scorer: Callable[[str], object] = score,
                 **options: object) -> None:  # fmt: skip
        self.bus = MessageBus()
        self.store = store if store is not None else SqlNewsStore("sqlite://")
        self.received: list[NewsItem] = []
        self.bus.subscribe("news", self.received.append)
        options.setdefault("clock", AFTER_THE_SET)
        self.feed = NewsFeed(self.bus, self.store, scorer, **options)  # type: ignore[arg-type]

    def balanced(self) -> bool:
        s = self.feed.stats
        return s.received == s.duplicates + s.rejected + s.published + s.store_errors


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_the_bundled_set_is_checked_tagged_scored_stored_and_published(harness: Harness) -> None:
    replay = NewsReplay()
    published = harness.feed.ingest(replay)
    stats = harness.feed.stats
    assert stats.received == 270
    assert stats.published == 262 == len(published) == len(harness.received)
    # the source CSV's eight broken rows: a URL pushed into the title, a stray cell as the URL
    assert stats.rejected_by_reason == {"title_is_url": 5, "bad_url": 3}
    assert stats.duplicates == 0
    assert harness.balanced()
    assert harness.received == published
    times = [item.published_at for item in published]
    assert times == sorted(times)
    for item in published:
        assert item.assets == tag_assets(f"{item.title}\n{item.summary}")
        assert (item.sentiment, item.sentiment_label) == score(item.title)
        assert harness.store.get(item.news_id) == item


def test_tags_travel_with_the_published_item(harness: Harness) -> None:
    item = harness.feed.ingest_one(GOOD)
    assert item is not None
    assert harness.received == [item]
    assert item.assets == ("BTC",)
    assert item.sentiment_label == "negative"
    assert harness.store.query(NewsQuery(assets=("BTC",))) == [item]


def test_a_resent_story_is_published_once(harness: Harness) -> None:
    harness.feed.ingest(NewsReplay())
    again = harness.feed.ingest(NewsReplay())
    assert again == []
    assert harness.feed.stats.duplicates == 262
    assert len(harness.received) == 262
    assert harness.balanced()


def test_the_same_story_from_a_feed_and_from_the_replay_is_one_item(harness: Harness) -> None:
    feed_copy = RawNews(
        source="cointelegraph.com",
        title=" ".join(str(GOOD.title).split()).upper(),
        summary="",
        url=f"{GOOD.url}?utm_source=rss_feed&utm_medium=rss#comments",
        published="Wed, 13 Dec 2023 09:55:00 +0000",
    )
    assert harness.feed.ingest([GOOD, feed_copy]) == [harness.received[0]]
    assert harness.feed.stats.duplicates == 1


def test_after_a_restart_the_store_catches_what_memory_forgot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'grekko.db'}"
    first = Harness(SqlNewsStore(url))
    first.feed.ingest(NewsReplay())
    restarted = Harness(SqlNewsStore(url))
    assert restarted.feed.ingest(NewsReplay()) == []
    assert restarted.feed.stats.duplicates == 262
    assert restarted.received == []


def test_the_seen_set_is_bounded(harness: Harness) -> None:
    small = Harness(harness.store, seen_capacity=3)
    items = list(NewsReplay())[:10]
    assert len(small.feed.ingest(items)) == 10
    assert small.feed.remembered == 3
    assert small.feed.ingest(items) == []  # forgotten ids are still duplicates in the store
    assert small.feed.stats.duplicates == 10


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (RawNews(source="x", title=None, url="https://a.com/1", published=1), "missing_title"),
        (RawNews(source="x", title=math.nan, published="2023-12-13T09:55:00Z"), "missing_title"),
        (RawNews(source="x", title="Fine title", published="13/12/2023 9am"), "bad_published"),
        (RawNews(source="x", title="Fine title", published=math.nan), "bad_published"),
        (RawNews(source="x", title="Fine title", published=b"2023"), "bad_published"),
        (
            RawNews(source="x", title="Fine title", published="2023-12-30T00:00:00Z"),
            "published_in_future",
        ),
        (RawNews(source=7, title="Fine title", published="2023-12-13T09:55:00Z"), "bad_source"),
        (RawNews(source="x", title="Fine", url="mailto:a@b.c", published="2023-12-13"), "bad_url"),
        ({"title": "a dict, not RawNews"}, "not_raw_news"),
    ],
)
def test_bad_entries_are_counted_never_published(
    harness: Harness, raw: RawNews, reason: str
) -> None:
    assert harness.feed.ingest_one(raw) is None
    assert harness.feed.stats.rejected_by_reason == {reason: 1}
    assert harness.received == []
    assert harness.balanced()


@pytest.mark.parametrize(
    ("scorer", "reason"),
    [
        (lambda text: 1 / 0, "scorer_failed"),
        (lambda text: (math.nan, "neutral"), "bad_sentiment"),
        (lambda text: (1.5, "positive"), "bad_sentiment"),
        (lambda text: (0.5, "bullish"), "bad_sentiment"),
        (lambda text: ("0.5", "positive"), "bad_sentiment"),
        (lambda text: None, "scorer_failed"),
    ],
)
def test_a_failing_scorer_rejects_the_entry(scorer: Callable[[str], object], reason: str) -> None:
    harness = Harness(scorer=scorer)
    assert harness.feed.ingest_one(GOOD) is None
    assert harness.feed.stats.rejected_by_reason == {reason: 1}
    assert harness.balanced()
    assert harness.feed.ingest_one(GOOD) is None  # not remembered as seen: tried again


def test_a_failing_store_is_counted_and_the_entry_can_be_stored_later(tmp_path: Path) -> None:
    store = SqlNewsStore(f"sqlite:///{tmp_path / 'grekko.db'}")
    harness = Harness(store)
    with store.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE news RENAME TO news_away"))
    assert harness.feed.ingest_one(GOOD) is None
    assert harness.feed.stats.store_errors == 1
    with store.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE news_away RENAME TO news"))
    item = harness.feed.ingest_one(GOOD)
    assert item is not None
    assert harness.received == [item]
    assert harness.balanced()


def test_a_failing_subscriber_does_not_stop_the_feed(harness: Harness) -> None:
    harness.bus.subscribe("news", lambda item: 1 / 0, priority=10)
    harness.feed.ingest(list(NewsReplay())[:5])
    assert harness.feed.stats.published == 5
    assert len(harness.received) == 5
    assert harness.bus.handler_errors == 5


def test_summary_scoring_is_a_choice(harness: Harness) -> None:
    both = Harness(harness.store, score_summary=True, seen_capacity=10)
    raw = RawNews(source="x", title="Protocol update ships", summary="Users were rekt", url="",
                  published="2023-12-13T09:55:00Z")  # fmt: skip
    item = both.feed.ingest_one(raw)
    assert item is not None
    assert item.sentiment_label == "negative"
    assert score(str(raw.title))[1] == "neutral"


def test_future_dates_are_allowed_when_asked(harness: Harness) -> None:
    anytime = Harness(harness.store, max_future_ns=None, clock=TestClock(0))
    assert anytime.feed.ingest_one(GOOD) is not None
    limited = Harness(
        SqlNewsStore("sqlite://"), clock=TestClock(check_raw(GOOD).published_at - NS_PER_DAY)
    )
    assert limited.feed.ingest_one(GOOD) is not None  # exactly one day ahead is accepted
