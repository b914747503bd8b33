"""Venue symbols to ccxt unified symbols: BTC-USD, BTC/USD, btc_usd, BTCUSDT, XBTUSD -> BASE/QUOTE.

Concatenated symbols (BTCUSDT) are split on a known quote currency at the end: the split whose
base is itself a known code wins (XBTUSD is XBT/USD, not XB/TUSD), else the longest quote. A
symbol that cannot be split unambiguously (USDTUSD) is an error, never a guess. Venue aliases
(XBT for BTC, as Kraken and BitMEX spell it) are folded so one asset has one name inside.
"""

from __future__ import annotations

import re

QUOTES = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "USD", "EUR", "GBP", "JPY", "TRY",
    "BTC", "ETH", "BNB",
)  # fmt: skip
ALIASES = {"XBT": "BTC", "XXBT": "BTC", "XETH": "ETH", "ZUSD": "USD", "ZEUR": "EUR"}

_QUOTES_LONGEST_FIRST = tuple(sorted(QUOTES, key=len, reverse=True))
_KNOWN = frozenset(QUOTES) | frozenset(ALIASES.values())
_SEPARATED = re.compile(r"^([A-Za-z0-9]{1,20})[-/_ ]([A-Za-z0-9]{1,20})(?::([A-Za-z0-9]{1,20}))?$")
_CONCATENATED = re.compile(r"^[A-Za-z0-9]{4,30}$")


class SymbolError(ValueError):
    """A venue symbol that does not name one base/quote pair."""


def unified_symbol(raw: str) -> str:
    """BASE/QUOTE from any common venue spelling; raises SymbolError when it cannot tell."""
    text = raw.strip()
    match = _SEPARATED.match(text)
    if match:
        pair = f"{_asset(match.group(1))}/{_asset(match.group(2))}"
        settle = match.group(3)
        return f"{pair}:{_asset(settle)}" if settle else pair
    if _CONCATENATED.match(text):
        upper = text.upper()
        splits = [
            (upper[: -len(quote)], quote)
            for quote in _QUOTES_LONGEST_FIRST
            if upper.endswith(quote) and len(upper) > len(quote)
        ]
        known = [pair for pair in splits if _asset(pair[0]) in _KNOWN]
        if len(known) > 1:  # USDTUSD: USDT/USD or USD/TUSD
            readings = " or ".join(f"{base}/{quote}" for base, quote in known)
            raise SymbolError(f"{raw!r} is ambiguous ({readings}); spell it with a separator")
        if splits:  # a known base decides (XBTUSD is XBT/USD, not XB/TUSD), else the longest quote
            base, quote = known[0] if known else splits[0]
            return f"{_asset(base)}/{_asset(quote)}"
    raise SymbolError(f"cannot read {raw!r} as a BASE/QUOTE pair (e.g. BTC/USDT, BTC-USD, BTCUSDT)")


def _asset(code: str) -> str:
    upper = code.upper()
    return ALIASES.get(upper, upper)


class SymbolMapper:
    """Caches unified symbols; `overrides` maps a venue's odd names (e.g. 'XBTUSDTM') explicitly."""

    __slots__ = ("_cache",)

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self._cache: dict[str, str] = {}
        for raw, symbol in (overrides or {}).items():
            self._cache[raw] = unified_symbol(symbol)

    def unified(self, raw: str) -> str:
        symbol = self._cache.get(raw)
        if symbol is None:
            symbol = unified_symbol(raw)
            if len(self._cache) < 100_000:
                self._cache[raw] = symbol
        return symbol
