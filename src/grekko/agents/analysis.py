"""Market analysis the agents share: signals from indicators, news sentiment and model
probabilities, a score in [-1, 1], and an explanation a beginner can follow.

Each signal says what it is, why it matters now, and what would change the view: that text is
Spot's product, and the rationale the other agents give for their votes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grekko.domain.indicators import IndicatorSnapshot

BULLISH = 0.2
BEARISH = -0.2
_WEIGHTS = {"trend": 1.0, "momentum": 1.0, "rsi": 0.8, "bollinger": 0.8, "news": 0.6, "model": 1.0}


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    value: float
    direction: float  # -1 (bearish) .. +1 (bullish)
    what: str
    why_now: str
    what_changes_it: str


@dataclass(frozen=True, slots=True)
class Analysis:
    instrument_id: str
    ts_event: int
    price: float | None
    score: float
    signals: tuple[Signal, ...] = field(default_factory=tuple)

    @property
    def stance(self) -> str:
        if self.score >= BULLISH:
            return "bullish"
        if self.score <= BEARISH:
            return "bearish"
        return "neutral"

    @property
    def explanation(self) -> str:
        """Plain language: the overall view first, then each signal."""
        if not self.signals:
            return (
                f"{_asset(self.instrument_id)}: not enough data yet to say anything useful; "
                "indicators need a few dozen bars before they mean something."
            )
        head = (
            f"{_asset(self.instrument_id)} looks {self.stance} overall "
            f"(score {self.score:+.2f} on a scale from -1 to +1)."
        )
        parts = [head, *(f"{s.what} {s.why_now} {s.what_changes_it}" for s in self.signals)]
        return " ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "instrument_id": self.instrument_id,
            "ts_event": self.ts_event,
            "price": self.price,
            "score": round(self.score, 4),
            "stance": self.stance,
            "explanation": self.explanation,
            "signals": [
                {
                    "name": s.name,
                    "value": s.value,
                    "direction": round(s.direction, 4),
                    "what": s.what,
                    "why_now": s.why_now,
                    "what_changes_it": s.what_changes_it,
                }
                for s in self.signals
            ],
        }


def _asset(instrument_id: str) -> str:
    return instrument_id.partition("@")[0]


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def analyze(
    instrument_id: str,
    snapshot: IndicatorSnapshot | None,
    sentiment: float | None = None,
    news_count: int = 0,
    probability_up: float | None = None,
) -> Analysis:
    if snapshot is None:
        return Analysis(instrument_id, 0, None, 0.0)
    signals = [
        s
        for s in (
            _trend(snapshot),
            _momentum(snapshot),
            _rsi(snapshot),
            _bollinger(snapshot),
            _news(sentiment, news_count),
            _model(probability_up),
        )
        if s is not None
    ]
    total = sum(_WEIGHTS[s.name] for s in signals)
    score = sum(_WEIGHTS[s.name] * s.direction for s in signals) / total if total else 0.0
    return Analysis(instrument_id, snapshot.ts_event, snapshot.close, _clip(score), tuple(signals))


def _scale(s: IndicatorSnapshot) -> float:
    """A price distance that counts as 'large': one ATR, else 0.5 % of the price."""
    return s.atr if s.atr else s.close * 0.005


def _trend(s: IndicatorSnapshot) -> Signal | None:
    if s.sma is None:
        return None
    d = _clip((s.close - s.sma) / _scale(s))
    above = s.close >= s.sma
    return Signal(
        "trend",
        s.sma,
        d,
        f"The price ({s.close:,.2f}) is {'above' if above else 'below'} its 20-bar average "
        f"({s.sma:,.2f}), the usual way to tell the direction of the trend.",
        "Prices that sit above their average tend to keep rising for a while, and below it to "
        "keep falling."
        if abs(d) > 0.3
        else "Right now the price is close to it, so the trend says little.",
        f"A close back {'below' if above else 'above'} {s.sma:,.2f} would flip this signal.",
    )


def _momentum(s: IndicatorSnapshot) -> Signal | None:
    if s.macd_histogram is None:
        return None
    d = _clip(s.macd_histogram / (_scale(s) * 0.25))
    up = s.macd_histogram >= 0
    return Signal(
        "momentum",
        s.macd_histogram,
        d,
        f"MACD momentum is {'positive' if up else 'negative'} ({s.macd_histogram:+.2f}): the "
        f"short-term average is moving {'faster up' if up else 'down faster'} than the longer one.",
        "Momentum often leads the price by a few bars.",
        f"If the histogram crosses {'below' if up else 'above'} zero, the momentum has turned.",
    )


def _rsi(s: IndicatorSnapshot) -> Signal | None:
    if s.rsi is None:
        return None
    if s.rsi < 30:
        d, mood = (30 - s.rsi) / 30, "oversold: sellers may be exhausted, bounces are common"
    elif s.rsi > 70:
        d, mood = -(s.rsi - 70) / 30, "overbought: buyers may be exhausted, pullbacks are common"
    else:
        d, mood = 0.0, "in the normal range, so it neither warns nor encourages"
    return Signal(
        "rsi",
        s.rsi,
        _clip(d),
        f"RSI is {s.rsi:.0f} out of 100 (it measures how one-sided recent moves were).",
        f"At this level it reads {mood}.",
        "Below 30 would signal oversold, above 70 overbought.",
    )


def _bollinger(s: IndicatorSnapshot) -> Signal | None:
    if s.bb_lower is None or s.bb_upper is None or s.bb_upper <= s.bb_lower:
        return None
    pct_b = (s.close - s.bb_lower) / (s.bb_upper - s.bb_lower)
    d = _clip((0.5 - pct_b) * 2) * 0.5 if 0 <= pct_b <= 1 else (1.0 if pct_b < 0 else -1.0)
    where = "below the lower" if pct_b < 0 else "above the upper" if pct_b > 1 else "inside the"
    return Signal(
        "bollinger",
        pct_b,
        d,
        f"The price is {where} Bollinger band ({s.bb_lower:,.2f} to {s.bb_upper:,.2f}), the "
        "range that usually holds about 95 % of recent prices.",
        "Outside the band, prices often snap back toward the middle."
        if not 0 <= pct_b <= 1
        else "Inside the band, nothing is stretched.",
        f"Moving back to the middle ({(s.bb_lower + s.bb_upper) / 2:,.2f}) removes this signal.",
    )


def _news(sentiment: float | None, count: int) -> Signal | None:
    if sentiment is None or count == 0:
        return None
    tone = "positive" if sentiment > 0.05 else "negative" if sentiment < -0.05 else "mixed"
    return Signal(
        "news",
        sentiment,
        _clip(sentiment * 2),
        f"Recent news ({count} headline{'s' if count != 1 else ''}) reads {tone} "
        f"(average sentiment {sentiment:+.2f}).",
        "News moves crypto prices, especially in the hours after it breaks.",
        "A run of headlines with the opposite tone would change this.",
    )


def _model(p: float | None) -> Signal | None:
    if p is None:
        return None
    return Signal(
        "model",
        p,
        _clip((p - 0.5) * 4),
        f"The prediction model gives a {p:.0%} chance that the price rises.",
        "It weighs many indicators at once, learned from past data.",
        "Its estimate changes with every new bar.",
    )
