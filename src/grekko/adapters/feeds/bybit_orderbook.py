"""Bybit v5 `orderbook.<depth>.<symbol>` WebSocket messages and their update-id rule.

A message is {"topic","type":"snapshot"|"delta","ts","data":{"s","b","a","u","seq"},"cts"}.
A snapshot replaces the local book. Each delta's `u` is the previous message's u + 1; a delta
with u == 1 means Bybit restarted the service and is a snapshot in all but name, so it is
returned as one. Anything else after a snapshot is a gap: resubscribe for a new snapshot.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import msgspec

from grekko.core.errors import DataError
from grekko.domain.order_book import BookMessage, DepthDiff, DepthSnapshot, parse_levels
from grekko.engines.books import SeqVerdict

NS_PER_MS = 1_000_000
_Pair = tuple[str | float, str | float]


class _Data(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    bids: list[_Pair] = msgspec.field(name="b")
    asks: list[_Pair] = msgspec.field(name="a")
    update_id: int = msgspec.field(name="u")
    cross_seq: int = msgspec.field(default=0, name="seq")


class _Message(msgspec.Struct):
    topic: str
    type: str
    ts: int
    data: _Data
    cts: int = 0


_DECODER = msgspec.json.Decoder(_Message)


class BybitSequencer:
    """Every delta must carry u == the previous u + 1; older ones are already in the book."""

    __slots__ = ()

    def check_first(self, snapshot_sequence: int, diff: DepthDiff) -> SeqVerdict:
        return self.check_next(snapshot_sequence, diff)

    def check_next(self, last_sequence: int, diff: DepthDiff) -> SeqVerdict:
        if diff.last_id <= last_sequence:
            return SeqVerdict.STALE
        if diff.first_id == last_sequence + 1:
            return SeqVerdict.APPLY
        return SeqVerdict.GAP


class BybitOrderbookParser:
    """Bybit payloads -> DepthSnapshot / DepthDiff, or DataError saying what is wrong.

    symbols maps the venue spelling (XRPUSDT) to the instrument id (XRP/USDT:USDT@bybit).
    """

    def __init__(self, symbols: Mapping[str, str]) -> None:
        self.sequencer = BybitSequencer()
        self._symbols = dict(symbols)

    def parse(self, payload: bytes | str) -> BookMessage:
        try:
            msg = _DECODER.decode(payload)
        except msgspec.MsgspecError as exc:
            raise DataError(f"bybit orderbook: {exc}") from None
        data = msg.data
        topic = msg.topic.split(".")
        if len(topic) != 3 or topic[0] != "orderbook" or topic[2] != data.symbol:
            raise DataError(
                f"bybit orderbook: topic {msg.topic!r} does not match symbol {data.symbol!r}"
            )
        instrument = self._symbols.get(data.symbol)
        if instrument is None:
            raise DataError(f"bybit orderbook: unknown symbol {data.symbol!r}")
        if data.update_id < 0 or msg.ts < 0:
            raise DataError(f"bybit orderbook: negative u {data.update_id} or ts {msg.ts}")
        bids = parse_levels(data.bids, "bybit orderbook bids")
        asks = parse_levels(data.asks, "bybit orderbook asks")
        ts = msg.ts * NS_PER_MS
        if msg.type == "snapshot" or (msg.type == "delta" and data.update_id == 1):
            return DepthSnapshot(instrument, bids, asks, data.update_id, ts)
        if msg.type != "delta":
            raise DataError(f"bybit orderbook: type {msg.type!r} is neither snapshot nor delta")
        return DepthDiff(instrument, bids, asks, data.update_id, data.update_id, None, ts)

    def iter_lines(self, lines: Iterable[str | bytes]) -> Iterator[BookMessage]:
        """Recorded messages, one JSON document per line; blank lines are skipped."""
        for line in lines:
            if line.strip():
                yield self.parse(line)

    def read_file(self, path: str | Path) -> list[BookMessage]:
        """A recorded `.data` file, plain, gzipped (.gz) or in a `.zip` of one file, as messages."""
        path = Path(path)
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if len(names) != 1:
                    raise DataError(f"{path}: expected one file in the archive, found {len(names)}")
                return list(self.iter_lines(archive.read(names[0]).splitlines()))
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            return list(self.iter_lines(fh))
