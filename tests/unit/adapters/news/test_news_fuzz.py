"""Fuzzing the news path: malformed feed bytes, malformed CSV rows and garbage entries.

Whatever comes in, nothing raises out of the RSS parser, the replay parser or the NewsFeed, no
malformed item reaches the bus, and every entry is accounted for: received = duplicates +
rejected + published + store errors, and every CSV row is either an entry or a counted rejection.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.adapters.news.replay import HEADER_COLUMNS, parse_news_csv
from grekko.adapters.news.rss import parse_feed
from grekko.adapters.sql.news_store import SqlNewsStore
from grekko.core.time import NS_PER_S, TestClock
from grekko.domain.news import (
    EARLIEST_NS,
    LATEST_NS,
    SENTIMENT_LABELS,
    NewsItem,
    RawNews,
    check_raw,
    news_id_for,
    tag_assets,
)
from grekko.engines.bus import MessageBus
from grekko.engines.news_feed import NewsFeed
from grekko.ml.sentiment import score

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "news"
FEEDS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.xml"))]
NOW = TestClock(1_702_684_800 * NS_PER_S + 86_400 * NS_PER_S)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Pipeline:
    def __init__(self) -> None:
        self.bus = MessageBus()
        self.published: list[object] = []
        self.bus.subscribe("news", self.published.append)
        self.feed = NewsFeed(self.bus, SqlNewsStore("sqlite://"), score, clock=NOW)

    def run(self, entries: list[RawNews]) -> None:
        before = self.feed.stats.received
        self.feed.ingest(entries)
        stats = self.feed.stats
        assert stats.received - before == len(entries)
        assert (
            stats.received
            == stats.duplicates + stats.rejected + stats.published + stats.store_errors
        )
        assert stats.rejected == sum(stats.rejected_by_reason.values())
        assert stats.store_errors == 0
        assert len(self.published) == stats.published
        for item in self.published:
            assert_well_formed(item)


def assert_well_formed(item: object) -> None:
    assert isinstance(item, NewsItem)
    NewsItem(**msgspec.structs.asdict(item))  # re-runs every check of the struct
    assert item.title.strip() == item.title != ""
    assert EARLIEST_NS <= item.published_at < LATEST_NS
    assert math.isfinite(item.sentiment)
    assert item.sentiment_label in SENTIMENT_LABELS
    assert item.news_id == news_id_for(item.url, item.title)
    assert item.assets == tag_assets(f"{item.title}\n{item.summary}")
    again = check_raw(RawNews(item.source, item.title, item.summary, item.url, item.published_at))
    assert (again.title, again.summary, again.url) == (item.title, item.summary, item.url)


def mutated_feeds() -> st.SearchStrategy[bytes]:
    def mutate(data: bytes, start: int, length: int, junk: bytes) -> bytes:
        start %= len(data) + 1
        return data[:start] + junk + data[start + length :]

    return st.builds(
        mutate,
        st.sampled_from(FEEDS),
        st.integers(0, 10_000),
        st.integers(0, 400),
        st.binary(max_size=40) | st.sampled_from([b"<", b"]]>", b"&bogus;", b"\x00", b"</item>"]),
    )


def generated_feeds() -> st.SearchStrategy[bytes]:
    field = st.text(max_size=60) | st.sampled_from(
        ["", "Tue, 99 Dec 2023 25:61:00 +0000", "1e400", "NaN", "<b>x</b>", "javascript:x()"]
    )

    def rss(items: list[tuple[str, str, str, str]]) -> bytes:
        body = "".join(
            f"<item><title>{t}</title><link>{u}</link><pubDate>{d}</pubDate>"
            f"<description><![CDATA[{s}]]></description></item>"
            for t, u, d, s in items
        )
        return f'<rss version="2.0"><channel><title>f</title>{body}</channel></rss>'.encode(
            "utf-8", "surrogatepass"
        )

    return st.builds(rss, st.lists(st.tuples(field, field, field, field), max_size=5))


def test_feed_bytes_never_break_the_parser_or_the_feed() -> None:
    pipeline = Pipeline()

    @FUZZ
    @given(st.binary(max_size=3000) | mutated_feeds() | generated_feeds())
    def check(data: bytes) -> None:
        parsed = parse_feed(data, source="fuzz", fetched_at_ns=NOW.now_ns, url="https://x.org/")
        assert all(isinstance(entry, RawNews) for entry in parsed.entries)
        assert parsed.error is None or parsed.entries == []
        pipeline.run(parsed.entries)

    check()


def csv_rows() -> st.SearchStrategy[bytes]:
    cell = st.text(max_size=40) | st.sampled_from(
        ["2023-12-12T00:30:00", "2023-12-12", "not a date", "nan", "https://a.com/x", ""]
    )
    row = st.lists(cell, min_size=0, max_size=12)

    def document(rows: list[list[str]], junk: list[str]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(HEADER_COLUMNS)
        writer.writerows(rows)
        out.write("".join(junk))
        return out.getvalue().encode("utf-8", "surrogatepass")

    junk = st.lists(st.sampled_from(['"unclosed,quote\n', "\x00,\x00\n", "a,b\r\n", '""""\n']))
    return st.builds(document, st.lists(row, max_size=20), junk)


def test_csv_rows_never_break_the_replay_parser_or_the_feed() -> None:
    pipeline = Pipeline()

    @FUZZ
    @given(csv_rows())
    def check(data: bytes) -> None:
        parsed = parse_news_csv(data)
        assert parsed.rows == len(parsed.items) + sum(parsed.rejected.values())
        times = [raw.published for raw in parsed.items]
        assert all(isinstance(t, int) for t in times)
        assert times == sorted(times)  # type: ignore[type-var]
        pipeline.run(parsed.items)

    check()


ANYTHING = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=80)
    | st.binary(max_size=20)
    | st.lists(st.integers(), max_size=3)
    | st.sampled_from(
        [
            "Bitcoin gets rekt as whales dump",
            "https://cointelegraph.com/news/x?utm_source=rss",
            "2023-12-13T09:55:00Z",
            "Wed, 13 Dec 2023 09:55:00 +0000",
            1_702_461_300,
            1_702_461_300_000_000_000,
            float("nan"),
            "\ud800",
        ]
    )
)


def test_garbage_entries_are_counted_and_never_published() -> None:
    pipeline = Pipeline()

    @FUZZ
    @given(
        st.lists(st.builds(RawNews, ANYTHING, ANYTHING, ANYTHING, ANYTHING, ANYTHING), max_size=8)
    )
    def check(entries: list[RawNews]) -> None:
        pipeline.run(entries)

    check()
