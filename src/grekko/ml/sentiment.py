"""Headline sentiment: VADER with a crypto lexicon on top.

VADER is a rule-based scorer tuned on social-media English; it has no opinion on "rekt", "hodl" or
"bullish", and it reads crypto's worst words mildly ("exploit" -0.4: in English one exploits an
opportunity, in crypto news an exploit is a theft). The lexicon below adds or overrides those
words on VADER's own scale (-4 to +4, the mean rating of its human raters: "good" 1.9, "great" 3.1,
"bad" -2.5, "scam" -2.7). The valences were set by analogy with VADER's neighbours:

- market direction: surge/soar/rally/moon +1.6..+2.3, plunge/plummet/crash/slump -1.8..-2.4,
  a dip -0.8 (a dip is routine), bullish/bearish +-2.0; pump +1.0 only, being half of a scheme;
- theft and failure: hack/exploit/drained/phishing/breach -2.0..-2.4, rug pull -3.0 and Ponzi
  -3.0 (outright fraud, as VADER's "fraud" -2.8), liquidated -2.0, depeg/insolvent -2.3..-2.5;
- exchanges: a listing +1.0 and a delisting -1.4 to -1.6 for the token concerned;
- law: fined, indicted, seized, sued -1.3..-2.0 (VADER's "charged" is -0.8, "arrested" -2.1),
  but "anti-money laundering" is a compliance term and scores as nothing, not as a crime;
- community slang: rekt -2.8, FUD -1.5, hodl +0.8 (resolve, not joy), WAGMI +1.5, ATH +2.0.

Phrases VADER would split ("ETF approval", "all-time high", "rug pull", "sell-off", "bear market")
are joined into one lexicon token before scoring. Labels use VADER's thresholds: compound >= 0.05
positive, <= -0.05 negative, else neutral. The analyzer (it parses a 7,500-word lexicon file) is
built on first use, never at import.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol

from grekko.domain.news import sentiment_label

LABEL_THRESHOLD: Final = 0.05
MAX_TEXT_CHARS: Final = 10_000


def _forms(valence: float, *words: str) -> dict[str, float]:
    return dict.fromkeys(words, valence)


CRYPTO_LEXICON: Final[Mapping[str, float]] = MappingProxyType(
    {
        **_forms(2.0, "moon", "moons", "ath", "bullish", "soar", "soars", "soared", "soaring"),
        **_forms(2.3, "mooning", "skyrocket", "skyrockets", "skyrocketed", "skyrocketing"),
        **_forms(2.2, "alltimehigh", "recordhigh"),
        **_forms(2.4, "etfapproval"),
        **_forms(1.8, "surge", "surges", "surged", "surging", "bullmarket"),
        **_forms(1.6, "rally", "rallies", "rallied", "rallying"),
        **_forms(1.5, "wagmi", "breakout", "outperform", "outperforms", "outperformed"),
        **_forms(1.3, "rebound", "rebounds", "rebounded", "rebounding"),
        **_forms(1.2, "inflows", "adoption"),
        **_forms(1.0, "listing", "listings", "listed"),
        **_forms(1.0, "pump", "pumps", "pumped", "pumping"),
        **_forms(0.8, "hodl", "hodling", "hodlers", "hodler"),
        **_forms(-0.8, "dip", "dips"),
        **_forms(-1.2, "outflows", "lawsuit", "shuts"),
        **_forms(-1.3, "sues", "sued", "halted", "halts"),
        **_forms(-1.5, "fud", "drain", "seized", "seizes", "shutdown", "vulnerability"),
        **_forms(-1.5, "bearmarket"),
        **_forms(-1.6, "liquidation", "liquidations", "selloff", "delist", "delisted"),
        **_forms(-1.4, "delisting"),
        **_forms(-1.8, "dump", "dumps", "dumped", "dumping", "fined", "outage", "outages"),
        **_forms(-1.8, "tumble", "tumbles", "tumbled", "slump", "slumps", "slumped"),
        **_forms(-2.0, "bearish", "liquidated", "breach", "breached", "compromised", "indicted"),
        **_forms(-2.0, "hacker", "hackers", "hacking", "crashes", "crashed"),
        **_forms(-2.2, "exploit", "exploits", "exploiter", "drained", "laundering"),
        **_forms(-2.2, "plunge", "plunges", "plunged", "plunging"),
        **_forms(-2.3, "phishing", "depeg", "depegged", "depegs"),
        **_forms(-2.4, "hack", "hacks", "hacked", "exploited"),
        **_forms(-2.4, "plummet", "plummets", "plummeted", "plummeting"),
        **_forms(-2.5, "rug", "rugged", "insolvent", "insolvency", "bankruptcy", "pumpanddump"),
        **_forms(-2.8, "rekt"),
        **_forms(-3.0, "rugpull", "rugpulled", "rugpulls", "ponzi"),
    }
)

_PHRASES: Final = tuple(
    (re.compile(pattern, re.IGNORECASE), token)
    for pattern, token in (
        (r"\banti[\s-]+money[\s-]+laundering\b", "aml"),
        (r"\bpump[\s-]+and[\s-]+dump(?:s|ed)?\b", "pumpanddump"),
        (r"\brug[\s-]*pull(s|ed)?\b", r"rugpull\1"),
        (r"\betf\s+approvals?\b", "etfapproval"),
        (r"\ball[\s-]+time[\s-]+highs?\b", "alltimehigh"),
        (r"\brecord\s+highs?\b", "recordhigh"),
        (r"\bsell[\s-]+offs?\b", "selloff"),
        (r"\bbear\s+markets?\b", "bearmarket"),
        (r"\bbull\s+(?:markets?|runs?)\b", "bullmarket"),
    )
)


class _Analyzer(Protocol):
    lexicon: dict[str, float]

    def polarity_scores(self, text: str) -> dict[str, float]: ...


class SentimentScorer:
    """Callable text -> (compound in [-1, 1], label); thread-safe, built on first call.

    lexicon: words (lower case) and VADER valences laid over VADER's own; None for plain VADER.
    """

    def __init__(
        self,
        lexicon: Mapping[str, float] | None = CRYPTO_LEXICON,
        *,
        threshold: float = LABEL_THRESHOLD,
    ) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        for word, valence in (lexicon or {}).items():
            if not (word and word == word.lower() and math.isfinite(valence)):
                raise ValueError(
                    f"lexicon entries need a lower-case word and a finite valence: {word!r}"
                )
            if not -4.0 <= valence <= 4.0:
                raise ValueError(f"VADER valences lie in [-4, 4]; {word!r} has {valence}")
        self._lexicon = dict(lexicon or {})
        self._threshold = threshold
        self._analyzer: _Analyzer | None = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> tuple[float, str]:
        analyzer = self._analyzer or self._build()
        prepared = text[:MAX_TEXT_CHARS]
        if self._lexicon:
            for pattern, token in _PHRASES:
                prepared = pattern.sub(token, prepared)
        compound = float(analyzer.polarity_scores(prepared)["compound"])
        if not math.isfinite(compound):
            compound = 0.0
        compound = min(1.0, max(-1.0, compound))
        return compound, sentiment_label(compound, self._threshold)

    def _build(self) -> _Analyzer:
        with self._lock:
            if self._analyzer is None:
                from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
                    SentimentIntensityAnalyzer,
                )

                analyzer: _Analyzer = SentimentIntensityAnalyzer()
                analyzer.lexicon.update(self._lexicon)
                self._analyzer = analyzer
            return self._analyzer


_default: SentimentScorer | None = None
_default_lock = threading.Lock()


def default_scorer() -> SentimentScorer:
    """The process's one VADER + crypto lexicon scorer (the analyzer itself still built lazily)."""
    global _default  # noqa: PLW0603 - a lazily created module singleton
    with _default_lock:
        if _default is None:
            _default = SentimentScorer()
        return _default


def score(text: str) -> tuple[float, str]:
    """(compound, label) of a text with VADER + the crypto lexicon."""
    return default_scorer()(text)
