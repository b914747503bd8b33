"""RSS 2.0 / Atom feeds polled over HTTP (httpx) and parsed with feedparser into RawNews.

Polling is polite and cheap: each feed's ETag and Last-Modified are sent back as If-None-Match /
If-Modified-Since, so an unchanged feed costs a 304 and no parsing. A feed that times out,
answers an HTTP error, is too large or is not a feed is logged and counted, and the other feeds
of the same poll go on: nothing a feed server does can stop the poller.

Entries keep feedparser's reading of the feed; this module only converts: the entry's published
(else updated) time to UTC ns, or the fetch time when the entry carries no date at all; summary
HTML to plain text; WordPress' "The post ... appeared first on ..." footer dropped. A date that
feedparser could not read is passed on as text for the NewsFeed to accept or reject.
"""

from __future__ import annotations

import asyncio
import calendar
import html
import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import feedparser  # type: ignore[import-untyped]
import httpx

from grekko.core.errors import ConfigError
from grekko.core.time import Clock, LiveClock
from grekko.domain.news import RawNews

log = logging.getLogger("grekko.news.rss")

DEFAULT_TIMEOUT_S = 10.0
MAX_FEED_BYTES = 5_000_000
USER_AGENT = "grekko-news/0.1 (+self-hosted)"
_WP_FOOTER = re.compile(r"\s*The post .{1,400}? appeared first on .{1,200}?\.?\s*$", re.DOTALL)
_BENIGN = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "tr"})


@dataclass(frozen=True)
class FeedConfig:
    """url: the feed's http(s) address; source: the name its items carry (default: the host)."""

    url: str
    source: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"a feed URL must be http(s)://host/..., got {self.url!r}")

    @property
    def source_name(self) -> str:
        return self.source or (urlsplit(self.url).hostname or self.url).removeprefix("www.")


@dataclass
class ParsedFeed:
    """error: why the document is not a feed (then no entries). warning: what was wrong with a
    feed that still gave entries (cut short, undefined entities, bad markup): feedparser's
    lenient reading is kept, since such feeds are common and often stay that way."""

    entries: list[RawNews]
    error: str | None = None
    warning: str | None = None


@dataclass
class RssStats:
    """Counters across every poll; `errors` counts failures by kind (timeout, http_503, ...)."""

    polls: int = 0
    fetched: int = 0
    not_modified: int = 0
    entries: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def parse_feed(
    data: bytes,
    *,
    source: str,
    fetched_at_ns: int,
    url: str | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Entries of an RSS/Atom document; garbage gives no entries and an error, never raises."""
    headers = {"content-type": content_type or "application/xml"}
    if url:
        headers["content-location"] = url  # base for relative links; never fetched
    try:
        # a BytesIO, never the bytes: feedparser opens a str or bytes argument as a path or URL
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=False)
        entries = [_raw_entry(entry, source, fetched_at_ns) for entry in parsed.get("entries", [])]
    except Exception as exc:  # feedparser is lenient, but its input here is untrusted
        log.warning("feed from %s could not be parsed: %r", source, exc)
        return ParsedFeed([], error=f"parser_failed: {type(exc).__name__}")
    problem = _problem(parsed)
    if not entries and (problem or not parsed.get("version")):
        return ParsedFeed([], error=f"not_a_feed: {problem or 'no RSS or Atom element'}")
    return ParsedFeed(entries, warning=problem)


def _problem(parsed: Any) -> str | None:
    """What was wrong with the document, if anything beyond a content type or charset the server
    misstated (text/xml without a charset "is" ASCII): feedparser corrects those itself."""
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if exc is None or isinstance(exc, _BENIGN):
        return None
    return f"{exc!r}"[:200]


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except Exception:  # HTMLParser is forgiving; anything it still refuses is dropped as text
        return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup)).split())
    return _WP_FOOTER.sub("", " ".join("".join(extractor.parts).split()))


class RssPoller:
    """Fetches every configured feed once per poll, concurrently, and returns their entries.

    timeout_s bounds each network step (connect, each read) and three times it a whole fetch.

    client: an httpx.AsyncClient to share (closed by its owner); by default the poller makes its
    own with the timeout and closes it in aclose().
    """

    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = MAX_FEED_BYTES,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if timeout_s <= 0 or max_bytes <= 0:
            raise ConfigError("timeout_s and max_bytes must be positive")
        self.feeds = list(feeds)
        self.stats = RssStats()
        self.last_error: dict[str, str] = {}
        self._max_bytes = max_bytes
        self._deadline_s = 3 * timeout_s  # a server trickling bytes meets this one
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )
        self._validators: dict[str, dict[str, str]] = {}

    async def poll_once(self) -> list[RawNews]:
        self.stats.polls += 1
        results = await asyncio.gather(*(self._poll_feed(feed) for feed in self.feeds))
        return [entry for entries in results for entry in entries]

    async def run(
        self,
        sink: Callable[[list[RawNews]], object],
        stop: asyncio.Event,
        *,
        interval_s: float = 300.0,
    ) -> None:
        """Poll every interval_s until stop is set, handing each poll's entries to sink."""
        while not stop.is_set():
            entries = await self.poll_once()
            if entries:
                try:
                    sink(entries)
                except Exception:
                    self.stats.errors["sink_failed"] += 1
                    log.exception("news sink failed on %d entries", len(entries))
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                continue

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def _poll_feed(self, feed: FeedConfig) -> list[RawNews]:
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self._fetch_and_parse(feed)
        except (httpx.TimeoutException, TimeoutError) as exc:
            return self._failed(feed, "timeout", exc)
        except httpx.HTTPError as exc:
            return self._failed(feed, "network", exc)
        except Exception as exc:  # whatever a feed does, the other feeds still get polled
            log.exception("unexpected failure polling %s", feed.url)
            return self._failed(feed, "unexpected", exc)

    async def _fetch_and_parse(self, feed: FeedConfig) -> list[RawNews]:
        headers = self._validators.get(feed.url, {})
        async with self._client.stream("GET", feed.url, headers=headers) as response:
            if response.status_code == 304:
                self.stats.not_modified += 1
                return []
            if response.status_code >= 400:
                return self._failed(feed, f"http_{response.status_code}", None)
            body = await self._read_limited(response)
            if body is None:
                return self._failed(feed, "too_large", None)
            fetched_at = self._clock.timestamp_ns()
            content_type = response.headers.get("content-type")
            validators = _validators_of(response.headers)
        self.stats.fetched += 1
        parsed = parse_feed(
            body,
            source=feed.source_name,
            fetched_at_ns=fetched_at,
            url=str(response.url),
            content_type=content_type,
        )
        if parsed.error is not None:
            return self._failed(feed, "malformed", parsed.error)
        if parsed.warning is not None:
            self._failed(feed, "malformed_partial", parsed.warning)
        else:
            self._validators[feed.url] = validators  # only a good copy may be answered with 304
            self.last_error.pop(feed.url, None)
        self.stats.entries += len(parsed.entries)
        return parsed.entries

    async def _read_limited(self, response: httpx.Response) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _failed(self, feed: FeedConfig, kind: str, detail: object) -> list[RawNews]:
        self.stats.errors[kind] += 1
        message = kind if detail is None else f"{kind}: {detail!r}"[:300]
        self.last_error[feed.url] = message
        log.warning("news feed %s failed: %s", feed.url, message)
        return []


def _validators_of(headers: httpx.Headers) -> dict[str, str]:
    validators = {}
    if etag := headers.get("etag"):
        validators["If-None-Match"] = etag
    if modified := headers.get("last-modified"):
        validators["If-Modified-Since"] = modified
    return validators


def _raw_entry(entry: Any, source: str, fetched_at_ns: int) -> RawNews:
    return RawNews(
        source=source,
        title=_text_field(entry.get("title")),
        summary=_summary(entry),
        url=entry.get("link") or "",
        published=_published(entry, fetched_at_ns),
    )


def _text_field(value: object) -> object:
    """feedparser has decoded entities already; only markup (Atom type="html") is left to strip."""
    if isinstance(value, str) and "<" in value:
        return html_to_text(value)
    return value


def _summary(entry: Any) -> str:
    summary = entry.get("summary")
    if not summary:
        content = entry.get("content") or []
        summary = content[0].get("value", "") if content else ""
    return html_to_text(summary) if isinstance(summary, str) else ""


def _published(entry: Any, fetched_at_ns: int) -> object:
    """dict.get, not the entry's own: FeedParserDict maps a missing `updated` onto `published`."""
    for key in ("published", "updated", "created"):
        parsed = dict.get(entry, f"{key}_parsed")
        text = dict.get(entry, key)
        if parsed is not None:
            try:
                return calendar.timegm(parsed) * 1_000_000_000
            except (TypeError, ValueError, OverflowError):
                return text
        if text:
            return text  # present but unreadable to feedparser: the NewsFeed decides
    return fetched_at_ns


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self._skipping:
            self._skipping -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
