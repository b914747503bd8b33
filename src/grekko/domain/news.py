"""News items: the raw form a source hands over, the checked form the kernel keeps, and queries.

A news item's identity is its article, not its wording: the same story reached through an RSS
feed (with tracking parameters) and through the replay file must dedupe to one id, so the key is
the normalised URL, and only an item without a URL falls back to its normalised title.

Assets are tagged from tickers and names with explicit word boundaries, because the obvious
substring search finds ETH in "whether", SOL in "solution" and ADA in "Canada". Names that are
also ordinary words (Ripple, Avalanche, Polygon) count only capitalised and outside the idioms
that use them as words ("ripple effect", "avalanche of"); tickers that are English words (DOT,
LINK, NEAR) count in shouted, all-caps text only when written as $DOT or (DOT).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from grekko.core.errors import DataError

POSITIVE: Final = "positive"
NEUTRAL: Final = "neutral"
NEGATIVE: Final = "negative"
SENTIMENT_LABELS: Final = frozenset({POSITIVE, NEUTRAL, NEGATIVE})
NEWS_TOPIC: Final = "news"

MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 5000
MAX_URL_CHARS = 2000
MAX_SOURCE_CHARS = 200
MAX_QUERY_LIMIT = 10_000
EARLIEST_NS = 946_684_800 * 1_000_000_000  # 2000-01-01: older "news" is a broken date
LATEST_NS = 4_102_444_800 * 1_000_000_000  # 2100-01-01

_NEWS_ID = re.compile(r"[0-9a-f]{64}")
_ASSET = re.compile(r"[A-Z0-9]{1,20}")
_WS = re.compile(r"\s+")
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_ga", "ref"}
    | {"ref_src", "cmpid", "cid", "sr_share", "share", "guccounter", "mkt_tok"}
)


class NewsItem(msgspec.Struct, frozen=True):
    """A checked news item; published_at is UTC ns, sentiment a compound score in [-1, 1]."""

    news_id: str
    published_at: int
    source: str
    title: str
    summary: str
    url: str
    assets: tuple[str, ...]
    sentiment: float
    sentiment_label: str

    def __post_init__(self) -> None:
        if not _NEWS_ID.fullmatch(self.news_id):
            raise DataError(f"news_id must be 64 lowercase hex digits, got {self.news_id!r}")
        if not EARLIEST_NS <= self.published_at < LATEST_NS:
            raise DataError(f"published_at out of range: {self.published_at}")
        if not (math.isfinite(self.sentiment) and -1.0 <= self.sentiment <= 1.0):
            raise DataError(f"sentiment must be in [-1, 1], got {self.sentiment!r}")
        if self.sentiment_label not in SENTIMENT_LABELS:
            raise DataError(f"sentiment_label must be one of {sorted(SENTIMENT_LABELS)}")
        if not self.title or not self.source:
            raise DataError("a news item needs a title and a source")
        if any(not _ASSET.fullmatch(asset) for asset in self.assets):
            raise DataError(f"assets must be upper-case tickers, got {self.assets!r}")


class RawNews(msgspec.Struct, frozen=True):
    """A news entry as a source hands it over, before any checking (hence the `object` fields).

    published: UTC epoch s/ms/µs/ns (told apart by magnitude), ISO 8601 or RFC 2822 text. A source
    whose entries carry no date at all puts its fetch time here.
    """

    source: object
    title: object
    summary: object = ""
    url: object = ""
    published: object = None


class NewsFields(msgspec.Struct, frozen=True):
    """The checked, cleaned fields of a RawNews, before scoring and tagging."""

    news_id: str
    published_at: int
    source: str
    title: str
    summary: str
    url: str


class NewsRejected(DataError):
    """Raw news that cannot be kept; `reason` is a short code that rejections are counted by."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class NewsQuery(msgspec.Struct, frozen=True):
    """Filters combine with AND; `assets` matches items tagged with any of them.

    since is inclusive and until exclusive (UTC ns); text is a case-insensitive substring of the
    title or the summary. Results come newest first.
    """

    assets: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None
    sentiment_label: str | None = None
    text: str | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_QUERY_LIMIT:
            raise DataError(f"limit must be between 1 and {MAX_QUERY_LIMIT}, got {self.limit}")
        if any(not _ASSET.fullmatch(asset) for asset in self.assets):
            raise DataError(f"assets must be upper-case tickers, got {self.assets!r}")
        if self.sentiment_label is not None and self.sentiment_label not in SENTIMENT_LABELS:
            raise DataError(f"sentiment_label must be one of {sorted(SENTIMENT_LABELS)}")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise DataError(f"since ({self.since}) is after until ({self.until})")


def sentiment_label(compound: float, threshold: float = 0.05) -> str:
    """VADER's convention: compound >= +threshold positive, <= -threshold negative."""
    if compound >= threshold:
        return POSITIVE
    if compound <= -threshold:
        return NEGATIVE
    return NEUTRAL


# ---- identity ------------------------------------------------------------------------------


def normalise_url(url: str) -> str | None:
    """The article's URL without what varies between links to it; None when it is not http(s).

    Lower-case scheme and host, no "www.", default port, fragment, tracking parameters (utm_*,
    fbclid, ...) or trailing slash; the remaining query parameters sorted.
    """
    text = url.strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().removeprefix("www.")
    if scheme not in {"http", "https"} or not host or "." not in host:
        return None
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https" if scheme == "http" else scheme, host, path, urlencode(query), ""))


def normalise_title(title: str) -> str:
    """Case, accents, punctuation and spacing folded away, so re-worded copies still collide."""
    folded = unicodedata.normalize("NFKD", title).casefold()
    kept = "".join(ch if ch.isalnum() else " " for ch in folded if not unicodedata.combining(ch))
    return " ".join(kept.split())


def news_id_for(url: str, title: str) -> str:
    """sha256 hex of the normalised URL, or of the normalised title when there is no usable URL."""
    normal_url = normalise_url(url) if url else None
    if normal_url is not None:
        key = "url:" + normal_url
    else:
        normal_title = normalise_title(title)
        if not normal_title:
            raise DataError("a news item needs a URL or a title to be identified")
        key = "title:" + normal_title
    return hashlib.sha256(key.encode()).hexdigest()


# ---- checking raw input --------------------------------------------------------------------


def check_raw(raw: RawNews) -> NewsFields:
    """The cleaned fields of a raw entry, or NewsRejected with the reason it cannot be kept."""
    source = _clean_text(raw.source, "bad_source")
    if not source or len(source) > MAX_SOURCE_CHARS:
        raise NewsRejected("bad_source", repr(raw.source)[:80])
    if raw.title is None or (isinstance(raw.title, float) and math.isnan(raw.title)):
        raise NewsRejected("missing_title")
    title = _clean_text(raw.title, "bad_title")
    if not title:
        raise NewsRejected("missing_title")
    if len(title) > MAX_TITLE_CHARS:
        raise NewsRejected("title_too_long", f"{len(title)} characters")
    if "http://" in title.lower() or "https://" in title.lower():
        raise NewsRejected("title_is_url", title[:80])
    summary = _clean_text(raw.summary, "bad_summary", strict=False)[:MAX_SUMMARY_CHARS]
    url = _clean_url(raw.url)
    published_at = parse_published(raw.published)
    news_id = news_id_for(url, title)
    return NewsFields(news_id, published_at, source, title, summary, url)


def parse_published(value: object) -> int:
    """UTC ns from epoch s/ms/µs/ns or ISO 8601 / RFC 2822 text; naive text is taken as UTC."""
    if isinstance(value, bool) or value is None:
        raise NewsRejected("bad_published", repr(value))
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise NewsRejected("bad_published", repr(value))
        ns = _epoch_to_ns(value)
    elif isinstance(value, str):
        ns = _text_to_ns(value.strip())
    else:
        raise NewsRejected("bad_published", f"unsupported type {type(value).__name__}")
    if not EARLIEST_NS <= ns < LATEST_NS:
        raise NewsRejected("published_out_of_range", str(value)[:60])
    return ns


def _epoch_to_ns(value: float) -> int:
    magnitude = abs(value)
    for limit, scale in ((1e11, 1_000_000_000), (1e14, 1_000_000), (1e17, 1_000)):
        if magnitude < limit:
            return int(value * scale) if isinstance(value, float) else int(value) * scale
    return int(value)


def _text_to_ns(text: str) -> int:
    if not text or len(text) > 100:
        raise NewsRejected("bad_published", repr(text[:60]))
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    if parsed is None:
        raise NewsRejected("bad_published", repr(text[:60]))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    except OverflowError as exc:
        raise NewsRejected("published_out_of_range", text[:60]) from exc
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _clean_text(value: object, reason: str, *, strict: bool = True) -> str:
    """Whitespace collapsed; unstorable characters reject a strict field and vanish from others."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise NewsRejected(reason, f"not text: {type(value).__name__}")
    if any(_unstorable(ch) for ch in value):
        if strict:
            raise NewsRejected(reason, "control characters or lone surrogates")
        value = "".join(" " if _unstorable(ch) else ch for ch in value)
    return _WS.sub(" ", value).strip()


def _unstorable(ch: str) -> bool:
    """NUL and other controls (not whitespace) break PostgreSQL text; lone surrogates break UTF-8."""
    category = unicodedata.category(ch)
    return (category == "Cc" and not ch.isspace()) or category == "Cs"


def _clean_url(value: object) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        raise NewsRejected("bad_url", repr(value)[:80])
    url = value.strip()
    if url and normalise_url(url) is None:
        raise NewsRejected("bad_url", url[:80])
    return url


# ---- asset tags ----------------------------------------------------------------------------

_TICKERS: Final = (
    "BTC", "ETH", "SOL", "XRP", "ADA", "BNB", "DOGE", "AVAX", "DOT", "MATIC", "LINK", "LTC",
    "BCH", "ETC", "XLM", "TRX", "TON", "SHIB", "PEPE", "BONK", "UNI", "ATOM", "NEAR", "APT",
    "ARB", "SUI", "TIA", "USDT", "USDC", "XMR", "ICP", "FIL", "HBAR", "AAVE", "MKR", "LDO",
    "CRV",
)  # fmt: skip
_TICKER_ALIASES: Final = {"XBT": "BTC"}
# Upper-case tickers that are also words: in shouted text they need a $ or parentheses.
_WORD_TICKERS: Final = frozenset({"DOT", "LINK", "NEAR", "UNI", "ETC", "ATOM", "TON", "APT"})
_NAMES: Final = {
    "bitcoin": "BTC", "bitcoins": "BTC", "bitcoin cash": "BCH", "ether": "ETH",
    "ethereum": "ETH", "ethereum classic": "ETC", "solana": "SOL", "cardano": "ADA",
    "binance coin": "BNB", "dogecoin": "DOGE", "polkadot": "DOT", "chainlink": "LINK",
    "litecoin": "LTC", "shiba inu": "SHIB", "tether": "USDT", "usd coin": "USDC",
    "toncoin": "TON", "monero": "XMR", "arbitrum": "ARB", "aptos": "APT", "celestia": "TIA",
    "uniswap": "UNI", "makerdao": "MKR", "near protocol": "NEAR", "filecoin": "FIL",
    "hedera": "HBAR", "stellar lumens": "XLM", "lido": "LDO", "curve finance": "CRV",
}  # fmt: skip
# Names that are also ordinary words: capitalised only, never in the idiom that uses the word.
_PROPER_NAMES: Final = {
    "Ripple": ("XRP", r"(?!\s+effects?\b)"),
    "Avalanche": ("AVAX", r"(?!\s+of\b)"),
    "Polygon": ("MATIC", ""),
    "Tron": ("TRX", ""),
    "Cosmos": ("ATOM", ""),
    "Sui": ("SUI", ""),
    "Pepe": ("PEPE", ""),
    "Doge": ("DOGE", ""),
    "Bonk": ("BONK", ""),
}


def _alternation(words: list[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)  # "bitcoin cash" before "bitcoin"
    return "|".join(r"\s+".join(map(re.escape, word.split())) for word in ordered)


_KNOWN_TICKERS: Final = frozenset(_TICKERS) | frozenset(_TICKER_ALIASES)
_WORD: Final = re.compile(r"[^\W\d_]{4,}")
_TICKER_RE: Final = re.compile(
    r"(?<![\w$])(\$|\()?(" + _alternation([*_TICKERS, *_TICKER_ALIASES]) + r")(\))?(?!\w)"
)
_NAME_RE: Final = re.compile(r"(?<!\w)(" + _alternation(list(_NAMES)) + r")(?!\w)", re.IGNORECASE)
_PROPER_RE: Final = tuple(
    (re.compile(rf"(?<!\w)(?:{name}|{name.upper()})(?!\w){guard}"), ticker)
    for name, (ticker, guard) in _PROPER_NAMES.items()
)


def tag_assets(text: str) -> tuple[str, ...]:
    """The tickers a text is about, sorted: BTC from "BTC", "$BTC", "XBT" and "Bitcoin"."""
    shouted = _is_shouted(text)
    found: set[str] = set()
    for match in _TICKER_RE.finditer(text):
        marked, ticker = match.group(1), match.group(2)
        if shouted and ticker in _WORD_TICKERS and not marked:
            continue
        found.add(_TICKER_ALIASES.get(ticker, ticker))
    for match in _NAME_RE.finditer(text):
        found.add(_NAMES[" ".join(match.group(1).split()).lower()])
    for pattern, ticker in _PROPER_RE:
        if pattern.search(text):
            found.add(ticker)
    return tuple(sorted(found))


def _is_shouted(text: str) -> bool:
    """Mostly all-caps words (tickers aside): a headline in capitals, where DOT may mean dot."""
    words = [w for w in _WORD.findall(text) if w.upper() not in _KNOWN_TICKERS]
    return len(words) >= 2 and sum(w.isupper() for w in words) / len(words) > 0.7
