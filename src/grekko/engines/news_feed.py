"""NewsFeed: the single door for news into the kernel, whichever source it came from.

Raw entries (RSS, the replay file) are checked, deduped, tagged with the assets they mention,
scored and stored; only an item the store did not have yet is published on the bus, so a feed
that is polled again, or replayed after a restart, publishes nothing twice. Every entry that is
not published is counted under one reason, and nothing a source sends can raise out of here.

The scorer is injected (engines do not import grekko.ml). It scores the headline by default: a
headline states what happened, while feed summaries pad it with background, quotes and
boilerplate ("The post ... appeared first on ...") that dilute it; see tests/unit/ml for the
measured agreement of both choices on the bundled set.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from grekko.core.errors import DataError
from grekko.core.time import NS_PER_DAY, Clock, LiveClock
from grekko.domain.news import (
    NEWS_TOPIC,
    SENTIMENT_LABELS,
    NewsFields,
    NewsItem,
    NewsRejected,
    RawNews,
    check_raw,
    tag_assets,
)
from grekko.engines.bus import MessageBus
from grekko.ports.news import NewsStore, SentimentFn

log = logging.getLogger("grekko.news")


@dataclass
class NewsFeedStats:
    """received = duplicates + rejected + published + store_errors, always."""

    received: int = 0
    duplicates: int = 0
    rejected: int = 0
    published: int = 0
    store_errors: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        counts = {
            "received": self.received,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "published": self.published,
            "store_errors": self.store_errors,
        }
        counts.update({f"rejected.{k}": v for k, v in sorted(self.rejected_by_reason.items())})
        return counts


class NewsFeed:
    """Check -> dedupe -> tag -> score -> store -> publish on `news` (the NewsItem itself).

    seen_capacity bounds the in-memory set of recent ids (oldest forgotten first); the store's
    idempotent insert catches any older duplicate. max_future_ns rejects items dated further
    ahead of the clock than that (a feed with a broken clock); None accepts any date.
    """

    def __init__(
        self,
        bus: MessageBus,
        store: NewsStore,
        scorer: SentimentFn,
        *,
        clock: Clock | None = None,
        seen_capacity: int = 50_000,
        topic: str = NEWS_TOPIC,
        max_future_ns: int | None = NS_PER_DAY,
        score_summary: bool = False,
    ) -> None:
        if seen_capacity < 1:
            raise ValueError(f"seen_capacity must be >= 1, got {seen_capacity}")
        self._bus = bus
        self._store = store
        self._scorer = scorer
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._capacity = seen_capacity
        self._seen: dict[str, None] = {}
        self._topic = topic
        self._max_future_ns = max_future_ns
        self._score_summary = score_summary
        self.stats = NewsFeedStats()

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def remembered(self) -> int:
        """How many recent ids the duplicate check holds in memory (at most seen_capacity)."""
        return len(self._seen)

    def ingest(self, entries: Iterable[RawNews]) -> list[NewsItem]:
        """Process entries in order; returns the items published (the new ones)."""
        published: list[NewsItem] = []
        for raw in entries:
            item = self.ingest_one(raw)
            if item is not None:
                published.append(item)
        return published

    def ingest_one(self, raw: RawNews) -> NewsItem | None:
        """The published item, or None when the entry was a duplicate, rejected or not stored."""
        self.stats.received += 1
        try:
            item = self._build(raw)
        except NewsRejected as exc:
            self._reject(exc.reason, exc)
            return None
        except Exception as exc:  # a source's garbage must never stop the feed
            log.exception("unexpected failure on a news entry")
            self._reject("unexpected_error", exc)
            return None
        if item is None:
            self.stats.duplicates += 1
            return None
        return self._store_and_publish(item)

    def _build(self, raw: RawNews) -> NewsItem | None:
        if not isinstance(raw, RawNews):
            raise NewsRejected("not_raw_news", type(raw).__name__)
        fields = check_raw(raw)
        if self._max_future_ns is not None:
            limit = self._clock.timestamp_ns() + self._max_future_ns
            if fields.published_at > limit:
                raise NewsRejected("published_in_future", str(fields.published_at))
        if fields.news_id in self._seen:
            return None
        compound, label = self._score(fields)
        try:
            return NewsItem(
                news_id=fields.news_id,
                published_at=fields.published_at,
                source=fields.source,
                title=fields.title,
                summary=fields.summary,
                url=fields.url,
                assets=tag_assets(f"{fields.title}\n{fields.summary}"),
                sentiment=compound,
                sentiment_label=label,
            )
        except DataError as exc:
            raise NewsRejected("invalid_item", str(exc)) from exc

    def _score(self, fields: NewsFields) -> tuple[float, str]:
        text = f"{fields.title}. {fields.summary}" if self._score_summary else fields.title
        try:
            compound, label = self._scorer(text)
        except Exception as exc:
            log.exception("sentiment scorer failed")
            raise NewsRejected("scorer_failed", type(exc).__name__) from exc
        if (
            isinstance(compound, bool)
            or not isinstance(compound, int | float)
            or not math.isfinite(compound)
            or not -1.0 <= compound <= 1.0
            or label not in SENTIMENT_LABELS
        ):
            raise NewsRejected("bad_sentiment", f"{compound!r}, {label!r}")
        return float(compound), label

    def _store_and_publish(self, item: NewsItem) -> NewsItem | None:
        try:
            new = self._store.add_many([item])
        except Exception:
            # not remembered as seen: the same entry may be stored when the source resends it
            self.stats.store_errors += 1
            log.exception("news store failed; item %s not published", item.news_id)
            return None
        self._remember(item.news_id)
        if new == 0:
            self.stats.duplicates += 1
            return None
        self._bus.publish(self._topic, item)
        self.stats.published += 1
        return item

    def _remember(self, news_id: str) -> None:
        self._seen[news_id] = None
        if len(self._seen) > self._capacity:
            del self._seen[next(iter(self._seen))]

    def _reject(self, reason: str, exc: Exception) -> None:
        self.stats.rejected += 1
        by_reason = self.stats.rejected_by_reason
        by_reason[reason] = by_reason.get(reason, 0) + 1
        log.debug("news entry rejected (%s): %s", reason, exc)
