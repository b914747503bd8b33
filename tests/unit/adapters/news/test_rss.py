"""RssPoller against a real HTTP server on 127.0.0.1 serving real-format RSS 2.0 and Atom documents.

The fixtures (tests/fixtures/news, see its README) carry real headlines of the bundled news set,
so every parsed entry is compared with the same story read by the replay.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from grekko.adapters.news.replay import NewsReplay
from grekko.adapters.news.rss import FeedConfig, RssPoller, html_to_text, parse_feed
from grekko.adapters.sql.news_store import SqlNewsStore
from grekko.core.errors import ConfigError
from grekko.core.time import NS_PER_S, TestClock
from grekko.domain.news import NewsFields, NewsRejected, RawNews, check_raw
from grekko.engines.bus import MessageBus
from grekko.engines.news_feed import NewsFeed
from grekko.ml.sentiment import score

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "news"
FETCH_NS = 1_702_500_000 * NS_PER_S  # the test's fetch time, 2023-12-13T20:40Z
ETAG = '"ct-20231213"'
LOGIN_PAGE = "<html><body><h1>Login</h1></body></html>"
LAST_MODIFIED = "Wed, 13 Dec 2023 10:30:00 GMT"


@dataclass
class FeedServer:
    base: str
    seen_headers: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _app(server: FeedServer, release: asyncio.Event) -> web.Application:
    cointelegraph = _fixture("cointelegraph_rss.xml")

    async def conditional(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        server.seen_headers.setdefault(name, []).append(dict(request.headers))
        if name == "cointelegraph.xml":
            if request.headers.get("If-None-Match") == ETAG:
                return web.Response(status=304)
            return web.Response(body=cointelegraph, content_type="application/rss+xml",
                                headers={"ETag": ETAG})  # fmt: skip
        if name == "cryptopotato.xml":
            if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
                return web.Response(status=304)
            return web.Response(body=_fixture("cryptopotato_atom.xml"), headers={
                "Last-Modified": LAST_MODIFIED, "Content-Type": "application/atom+xml; charset=UTF-8"})  # fmt: skip
        if name == "cryptonews.xml":
            return web.Response(body=_fixture("cryptonews_rss.xml"), content_type="text/xml")
        raise web.HTTPNotFound

    async def slow(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), timeout=10)
        return web.Response(body=cointelegraph)

    fixed: dict[str, Callable[[], web.StreamResponse]] = {
        "/error": lambda: web.Response(status=503, text="Service Unavailable"),
        "/html": lambda: web.Response(text=LOGIN_PAGE, content_type="text/html"),
        "/garbage": lambda: web.Response(body=bytes(range(256)) * 8),
        "/truncated": lambda: web.Response(body=cointelegraph[: len(cointelegraph) // 2]),
        "/huge": lambda: web.Response(body=cointelegraph * 300),  # ~2.7 MB
        "/moved": lambda: web.Response(status=301, headers={"Location": "/feeds/cryptonews.xml"}),
    }

    async def answer(request: web.Request) -> web.StreamResponse:
        return fixed[request.path]()

    app = web.Application()
    app.router.add_get("/feeds/{name}", conditional)
    app.router.add_get("/slow", slow)
    for path in fixed:
        app.router.add_get(path, answer)
    return app


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FeedServer]:
    release = asyncio.Event()
    feed_server = FeedServer(base="")
    runner = web.AppRunner(_app(feed_server, release))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    feed_server.base = f"http://127.0.0.1:{port}"
    yield feed_server
    release.set()
    await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _checked(raw: RawNews) -> NewsFields | None:
    try:
        return check_raw(raw)
    except NewsRejected:
        return None  # the source CSV's eight broken rows


GOOD_FEEDS = ("cointelegraph.xml", "cryptopotato.xml", "cryptonews.xml")


def _poller(server: FeedServer, *paths: str, **options: object) -> RssPoller:
    feeds = [FeedConfig(server.url(path)) for path in paths]
    return RssPoller(feeds, clock=TestClock(FETCH_NS), **options)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_rss_and_atom_entries_match_the_same_stories_in_the_replay(
    server: FeedServer,
) -> None:
    poller = _poller(server, *(f"feeds/{name}" for name in GOOD_FEEDS))
    entries = await poller.poll_once()
    await poller.aclose()
    assert len(entries) == 18
    assert poller.stats.fetched == 3
    assert poller.stats.entries == 18
    assert not poller.stats.errors
    replayed = {f.news_id: f for f in map(_checked, NewsReplay()) if f is not None}
    for raw in entries:
        got = check_raw(raw)
        assert got.source == "127.0.0.1"
        same = replayed[got.news_id]
        assert (got.title, got.summary) == (same.title, same.summary)
        if "okx-dex" in got.url:  # the one entry without a pubDate: stamped with the fetch time
            assert got.published_at == FETCH_NS
        else:
            assert got.published_at == same.published_at
        assert "<" not in got.summary
        assert "appeared first on" not in got.summary


@pytest.mark.asyncio
async def test_unchanged_feeds_are_answered_304(server: FeedServer) -> None:
    poller = _poller(server, *(f"feeds/{name}" for name in GOOD_FEEDS))
    assert len(await poller.poll_once()) == 18
    second = await poller.poll_once()
    await poller.aclose()
    assert len(second) == 4  # only the feed without validators was sent again
    assert poller.stats.not_modified == 2
    assert server.seen_headers["cointelegraph.xml"][1]["If-None-Match"] == ETAG
    assert server.seen_headers["cryptopotato.xml"][1]["If-Modified-Since"] == LAST_MODIFIED
    assert "If-None-Match" not in server.seen_headers["cointelegraph.xml"][0]


@pytest.mark.asyncio
async def test_failing_feeds_are_counted_and_the_good_ones_still_read(server: FeedServer) -> None:
    bad = ("error", "html", "garbage", "slow", "huge")
    poller = _poller(
        server,
        "feeds/cointelegraph.xml",
        "moved",
        *bad,
        "truncated",
        timeout_s=0.3,
        max_bytes=1_000_000,
    )
    poller.feeds.append(FeedConfig(f"http://127.0.0.1:{_closed_port()}/rss"))
    entries = await poller.poll_once()
    await poller.aclose()
    assert poller.stats.errors == {
        "http_503": 1,
        "malformed": 2,  # an HTML page and garbage bytes
        "timeout": 1,
        "too_large": 1,
        "network": 1,  # connection refused
        "malformed_partial": 1,  # the truncated feed: what could be read is kept
    }
    sources = [str(raw.url) for raw in entries]
    assert sum("cointelegraph.com" in url for url in sources) == 8 + 4  # full + truncated copy
    assert sum("cryptonews.com" in url for url in sources) == 4  # followed the redirect
    assert set(poller.last_error) == {feed.url for feed in poller.feeds[2:]}


@pytest.mark.asyncio
async def test_the_run_loop_survives_a_failing_sink_and_stops(server: FeedServer) -> None:
    poller = _poller(server, "feeds/cryptonews.xml")
    stop = asyncio.Event()
    batches: list[list[RawNews]] = []

    def sink(entries: list[RawNews]) -> None:
        batches.append(entries)
        if len(batches) == 1:
            raise RuntimeError("downstream hiccup")
        stop.set()

    await asyncio.wait_for(poller.run(sink, stop, interval_s=0.01), timeout=10)
    await poller.aclose()
    assert [len(batch) for batch in batches] == [4, 4]
    assert poller.stats.errors == {"sink_failed": 1}


@pytest.mark.asyncio
async def test_feed_entries_dedupe_against_the_replay_in_the_news_feed(server: FeedServer) -> None:
    bus = MessageBus()
    later = TestClock(FETCH_NS + 30 * 86_400 * NS_PER_S)
    feed = NewsFeed(bus, SqlNewsStore("sqlite://"), score, clock=later)
    assert len(feed.ingest(NewsReplay())) == 262
    poller = _poller(server, *(f"feeds/{name}" for name in GOOD_FEEDS))
    assert feed.ingest(await poller.poll_once()) == []
    await poller.aclose()
    assert feed.stats.duplicates == 18


def test_parse_feed_resolves_relative_links_and_decodes_entities() -> None:
    document = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>BTC &amp; ETH rally</title><link>/news/a?x=1&amp;y=2</link>
<description>&lt;p&gt;Hi&lt;script&gt;alert(1)&lt;/script&gt; there&lt;/p&gt;</description></item>
</channel></rss>"""
    parsed = parse_feed(document, source="s", fetched_at_ns=FETCH_NS, url="https://example.com/rss")
    assert parsed.error is None
    [entry] = parsed.entries
    assert entry.title == "BTC & ETH rally"
    assert entry.url == "https://example.com/news/a?x=1&y=2"
    assert entry.summary == "Hi there"
    assert entry.published == FETCH_NS


def test_an_unreadable_date_is_passed_on_for_the_feed_to_judge() -> None:
    document = b"""<rss version="2.0"><channel><item><title>t</title><link>https://a.com/1</link>
<pubDate>sometime last week</pubDate></item></channel></rss>"""
    [entry] = parse_feed(document, source="s", fetched_at_ns=FETCH_NS).entries
    assert entry.published == "sometime last week"


def test_an_empty_feed_is_a_feed() -> None:
    parsed = parse_feed(b'<rss version="2.0"><channel><title>t</title></channel></rss>',
                        source="s", fetched_at_ns=FETCH_NS)  # fmt: skip
    assert (parsed.entries, parsed.error) == ([], None)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ('<p style="float:right"><img src="x.jpg"></p><p>AVAX&nbsp;surged</p>', "AVAX surged"),
        ("<style>p{}</style>Line<br>break", "Line break"),
        (
            "<p>Text</p><p>The post <a href='u'>T</a> appeared first on <a>CryptoPotato</a>.</p>",
            "Text",
        ),
        ("<div><b>unclosed <i>tags", "unclosed tags"),
        ("plain &lt;not a tag&gt;", "plain <not a tag>"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


@pytest.mark.parametrize("url", ["ftp://a.com/rss", "not a url", "https:///rss"])
def test_feed_urls_are_checked(url: str) -> None:
    with pytest.raises(ConfigError):
        FeedConfig(url)


def test_the_source_name_defaults_to_the_host() -> None:
    assert FeedConfig("https://www.cointelegraph.com/rss").source_name == "cointelegraph.com"
    assert (
        FeedConfig("https://cointelegraph.com/rss", "CoinTelegraph").source_name == "CoinTelegraph"
    )
