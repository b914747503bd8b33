"""What the agents know of the market: the latest indicators per instrument and recent news tone.

One MarketWatch serves all agents, so a consensus round analyses each instrument once per bar,
not once per voter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from grekko.agents.analysis import Analysis, analyze
from grekko.core.time import NS_PER_S
from grekko.domain.indicators import INDICATOR_TOPICS, IndicatorSnapshot
from grekko.domain.news import NEWS_TOPIC, NewsItem
from grekko.ports.agents import ProbabilityModel

NEWS_WINDOW_NS = 24 * 3600 * NS_PER_S


def base_asset(instrument_id: str) -> str:
    symbol = instrument_id.partition("@")[0]
    return symbol.partition("/")[0].upper()


class MarketWatch:
    def __init__(self, model: ProbabilityModel | None = None, news_window_ns: int = NEWS_WINDOW_NS):
        self.model = model
        self._window = news_window_ns
        self.snapshots: dict[str, IndicatorSnapshot] = {}
        self._news: dict[str, deque[tuple[int, float]]] = {}
        self._analyses: dict[str, Analysis] = {}
        self.news_seen = 0

    def attach(self, subscribe: Callable[[str, Callable[[Any], None]], None]) -> None:
        subscribe(INDICATOR_TOPICS, self.on_snapshot)
        subscribe(NEWS_TOPIC, self.on_news)

    def on_snapshot(self, snapshot: IndicatorSnapshot) -> None:
        self.snapshots[snapshot.instrument_id] = snapshot
        self._analyses.pop(snapshot.instrument_id, None)

    def on_news(self, item: NewsItem) -> None:
        self.news_seen += 1
        for asset in item.assets:
            self._news.setdefault(asset, deque()).append((item.published_at, item.sentiment))
        self._analyses.clear()

    def sentiment(self, instrument_id: str, now_ns: int) -> tuple[float | None, int]:
        """Mean sentiment of the asset's news within the window before now, and how many."""
        items = self._news.get(base_asset(instrument_id))
        if not items:
            return None, 0
        while items and items[0][0] < now_ns - self._window:
            items.popleft()
        recent = [s for ts, s in items if ts <= now_ns]
        if not recent:
            return None, 0
        return sum(recent) / len(recent), len(recent)

    def analysis(self, instrument_id: str) -> Analysis:
        """The current analysis, computed once per snapshot and shared by every agent."""
        cached = self._analyses.get(instrument_id)
        if cached is not None:
            return cached
        snapshot = self.snapshots.get(instrument_id)
        now = snapshot.ts_event if snapshot is not None else 0
        sentiment, count = self.sentiment(instrument_id, now)
        probability = None
        if self.model is not None and snapshot is not None:
            probability = self.model.probability_up(instrument_id, snapshot)
        result = analyze(instrument_id, snapshot, sentiment, count, probability)
        self._analyses[instrument_id] = result
        return result
