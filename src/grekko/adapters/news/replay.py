"""Replay of a news file (the bundled crypto-news set by default) in publication order.

The file is the CSV of ../shared/data/news_sentiment (columns date, source, text, title, url, ...;
`summary` and `published` are accepted as aliases). Rows are handed on as RawNews for the
NewsFeed to check; this reader only parses the date (it must sort by it) and repairs the
defects of the bundled set's source, so its stories carry the same URLs and text as the
publishers' own feeds:

- CryptoNews URLs with a doubled prefix (`https://cryptonews.comhttps://cryptonews.com/news/...`);
- escapes written out as text (a literal `\\xa0`, `\\r\\n`), made spaces;
- UTF-8 punctuation decoded as cp1252 (`â€™` for ’). `â€?` (or `â€` + U+FFFD) lost its third
  byte and the space after it: it was a closing quote or a dash, told apart by the quotes still
  open before it.

Rows whose date cannot be read and rows the CSV reader cannot split are counted, never raised;
a file that is not CSV (or lacks a date or title column) is a DataError.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grekko.core.errors import DataError
from grekko.domain.news import NewsRejected, RawNews, parse_published

BUNDLED_NEWS = Path(__file__).resolve().parents[2] / "data" / "news" / "cryptonews_sentiment.csv.gz"
DEFAULT_SOURCE = "replay"
HEADER_COLUMNS = (  # the bundled file's header
    "date", "sentiment", "source", "subject", "text", "title", "url",
    "sentiment_class", "polarity", "subjectivity",
)  # fmt: skip
MAX_FILE_BYTES = 50_000_000
_ALIASES = {"summary": "text", "published": "date", "published_at": "date"}
_DOUBLED_PREFIX = re.compile(r"^https?://[^/\s]*?(https?://\S+)$")
_MOJIBAKE = {"â€˜": "‘", "â€™": "’", "â€œ": "“", "â€“": "–", "â€”": "—", "â€¦": "…"}
_LOST_BYTE = re.compile("â€[?\ufffd]")
_MOJIBAKE_RE = re.compile("|".join([*map(re.escape, _MOJIBAKE), _LOST_BYTE.pattern]))
_LITERAL_ESCAPE = re.compile(r"\\(?:r|n|t|xa0)")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class NewsFile:
    """A news file read into time order; `rejected` counts the rows left out, by reason."""

    items: list[RawNews]
    rows: int
    rejected: Counter[str] = field(default_factory=Counter)


def read_news_file(path: Path = BUNDLED_NEWS) -> NewsFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read news file {path}: {exc.strerror}") from exc
    return parse_news_csv(data, name=str(path))


def parse_news_csv(data: bytes, *, name: str = "news file") -> NewsFile:
    """Rows of a (possibly gzipped) news CSV as RawNews in time order, unreadable rows counted."""
    text = _decode(data, name)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(reader, name)
    dated: list[tuple[int, int, RawNews]] = []
    result = NewsFile(items=[], rows=0)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            result.rows += 1
            result.rejected["unreadable_row"] += 1
            continue
        if not any(cell.strip() for cell in row):
            continue
        result.rows += 1
        try:
            published, raw = _raw_news(
                dict(zip(header, row, strict=False)), len(row) == len(header)
            )
        except NewsRejected as exc:
            result.rejected[exc.reason] += 1
            continue
        dated.append((published, len(dated), raw))
    dated.sort(key=lambda entry: (entry[0], entry[1]))
    result.items = [raw for _, _, raw in dated]
    return result


class NewsReplay:
    """A news file's entries in time order: all at once, as a clock makes them due, or paced.

    pop_due(now_ns) suits a loop driven by any Clock (simulated or wall): it returns the entries
    published up to now that were not returned before. paced(speed) sleeps between entries for
    their real gap divided by speed (at most max_wait_s), for a live-looking demo feed.
    """

    def __init__(self, path: Path = BUNDLED_NEWS) -> None:
        loaded = read_news_file(path)
        self.items = loaded.items
        self.rows = loaded.rows
        self.rejected = loaded.rejected
        self._times = [_published_ns(raw) for raw in self.items]
        self._cursor = 0

    def __iter__(self) -> Iterator[RawNews]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def remaining(self) -> int:
        return len(self.items) - self._cursor

    def pop_due(self, now_ns: int) -> list[RawNews]:
        start = self._cursor
        while self._cursor < len(self.items) and self._times[self._cursor] <= now_ns:
            self._cursor += 1
        return self.items[start : self._cursor]

    def paced(
        self,
        speed: float,
        *,
        sleep: Callable[[float], object] = time.sleep,
        max_wait_s: float = 60.0,
    ) -> Iterator[RawNews]:
        if not speed > 0:
            raise DataError(f"speed must be positive, got {speed}")
        previous: int | None = None
        for published, raw in zip(self._times, self.items, strict=True):
            if previous is not None and published > previous:
                sleep(min((published - previous) / 1e9 / speed, max_wait_s))
            previous = published
            yield raw


def repair_url(url: str) -> str:
    """`https://host` glued in front of the real URL (a CryptoNews scraping defect) removed."""
    match = _DOUBLED_PREFIX.match(url.strip())
    return match.group(1) if match else url.strip()


def repair_text(text: str) -> str:
    """Escapes written out as text (`\\r\\n`, `\\xa0`) made spaces, mojibake undone."""
    return repair_mojibake(_LITERAL_ESCAPE.sub(" ", text))


def repair_mojibake(text: str) -> str:
    """UTF-8 punctuation that was decoded as cp1252 turned back into itself (see module doc)."""
    open_quotes: list[str] = []

    def fix(match: re.Match[str]) -> str:
        found = match.group(0)
        if found in ("â€˜", "â€œ"):
            open_quotes.append(found)
        elif found == "â€™" and "â€˜" in open_quotes:
            open_quotes.remove("â€˜")
        if not _LOST_BYTE.fullmatch(found):
            return _MOJIBAKE[found]
        following = match.string[match.end() : match.end() + 1]
        space = " " if following.isalnum() else ""
        if "â€œ" in open_quotes:
            open_quotes.remove("â€œ")
            return "”" + space
        if "â€˜" in open_quotes:
            open_quotes.remove("â€˜")
            return "’" + space
        return "—" + space

    return _MOJIBAKE_RE.sub(fix, text)


def _decode(data: bytes, name: str) -> str:
    if data[:2] == _GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{name}: not a readable gzip file ({exc})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"{name}: larger than {MAX_FILE_BYTES} bytes")
    return data.decode("utf-8-sig", errors="replace")


def _header(reader: Iterator[list[str]], name: str) -> list[str]:
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise DataError(f"{name}: header row cannot be read ({exc})") from exc
    columns = [_ALIASES.get(col.strip().lower(), col.strip().lower()) for col in header]
    missing = {"date", "title"} - set(columns)
    if missing:
        raise DataError(f"{name}: missing column(s) {sorted(missing)}; found {header[:12]}")
    return columns


def _raw_news(row: dict[str, str], complete: bool) -> tuple[int, RawNews]:
    if not complete:
        raise NewsRejected("wrong_field_count")
    published = parse_published(row.get("date", ""))
    raw = RawNews(
        source=row.get("source", "").strip() or DEFAULT_SOURCE,
        title=repair_text(row.get("title", "")),
        summary=repair_text(row.get("text", "")),
        url=repair_url(row.get("url", "")),
        published=published,
    )
    return published, raw


def _published_ns(raw: RawNews) -> int:
    published = raw.published
    return published if isinstance(published, int) else sys.maxsize
