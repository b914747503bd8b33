"""NewsStore port: where checked news items are kept and searched; and the scorer's shape.

add_many is idempotent by news_id (a dedupe key, see grekko.domain.news.news_id_for): storing an
item twice keeps the first copy and counts it once, so a restarted feed can resend everything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from grekko.domain.news import NewsItem, NewsQuery

# text -> (compound score in [-1, 1], "positive" | "neutral" | "negative")
SentimentFn = Callable[[str], tuple[float, str]]


class NewsStore(Protocol):
    def add_many(self, items: Sequence[NewsItem]) -> int:
        """Store the items not stored yet; returns how many were new."""
        ...

    def query(self, query: NewsQuery) -> list[NewsItem]:
        """Items matching every filter of the query, newest first, at most query.limit."""
        ...

    def get(self, news_id: str) -> NewsItem | None: ...
