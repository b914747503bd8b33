"""Analysis from real indicators: signals, a score, and an explanation a beginner can follow."""

from __future__ import annotations

from decimal import Decimal

from agent_desk_support import IID, desk_run

from grekko.agents.analysis import analyze
from grekko.agents.market import MarketWatch
from grekko.domain.indicators import IndicatorSnapshot
from grekko.domain.news import NewsItem


def test_no_data_says_so() -> None:
    result = analyze(IID, None)
    assert result.stance == "neutral"
    assert "not enough data" in result.explanation


def test_overbought_above_the_band_reads_bearish_with_reasons() -> None:
    snap = IndicatorSnapshot(
        instrument_id=IID,
        ts_event=1,
        close=110.0,
        sma=100.0,
        rsi=85.0,
        bb_lower=90.0,
        bb_middle=100.0,
        bb_upper=105.0,
        atr=2.0,
        macd_histogram=-0.5,
    )
    result = analyze(IID, snap)
    by_name = {s.name: s for s in result.signals}
    assert by_name["rsi"].direction < 0
    assert by_name["bollinger"].direction == -1.0
    assert by_name["trend"].direction == 1.0
    assert "overbought" in result.explanation
    assert "above the upper Bollinger band" in result.explanation
    # what would change the view is said for every signal
    assert all(s.what_changes_it for s in result.signals)


def test_news_and_model_probabilities_move_the_score() -> None:
    snap = IndicatorSnapshot(instrument_id=IID, ts_event=10**18, close=100.0, sma=100.0, rsi=50.0)
    neutral = analyze(IID, snap)
    upbeat = analyze(IID, snap, sentiment=0.6, news_count=3, probability_up=0.8)
    assert upbeat.score > neutral.score
    assert "3 headlines" in upbeat.explanation
    assert "80% chance" in upbeat.explanation


class FixedModel:
    def probability_up(self, instrument_id: str, snapshot: IndicatorSnapshot) -> float | None:
        return 0.9 if instrument_id == IID else None


def test_market_watch_keeps_news_per_asset_within_the_window() -> None:
    watch = MarketWatch(FixedModel(), news_window_ns=1000)
    for i, (ts, sentiment, assets) in enumerate(
        [(100, 0.8, ("BTC",)), (1500, -0.4, ("BTC", "ETH")), (1600, 0.2, ("ETH",))]
    ):
        watch.on_news(
            NewsItem(
                news_id=f"{i:064x}",
                published_at=1_700_000_000_000_000_000 + ts,
                source="t",
                title="x",
                summary="",
                url="",
                assets=assets,
                sentiment=sentiment,
                sentiment_label="positive" if sentiment > 0 else "negative",
            )
        )
    now = 1_700_000_000_000_000_000 + 2000
    assert watch.sentiment("BTC/USDT@paper", now) == (-0.4, 1)  # the 0.8 is older than the window
    mean, count = watch.sentiment("ETH/USDT@paper", now)
    assert count == 2
    assert abs(mean - (-0.1)) < 1e-12


def test_real_indicators_reach_every_agent_and_spot_explains_changes() -> None:
    run = desk_run(warm_bars=300)
    analysis = run.desk.agents["gordo"].analyze_market(IID)
    assert {s.name for s in analysis.signals} >= {"trend", "momentum", "rsi", "bollinger"}
    assert analysis.price == float(run.kernel.cache.last_price(IID) or Decimal(0))
    spot = run.desk.agents["spot"]
    views = [m for m in run.desk.messenger.history if m.message_type == "market_analysis"]
    assert views, "Spot said nothing over 300 bars"
    assert all(m.sender == "spot" for m in views)
    assert all("looks" in str(m.payload["explanation"]) for m in views)
    assert spot.get_state()["explanations_sent"] == len(views)
