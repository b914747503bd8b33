"""Binance depth: the diff stream, the REST snapshot, recorded CSV, and the update-id rules.

Formats handled:
- WebSocket `<symbol>@depth` events: {"e":"depthUpdate","E","T","s","U","u","pu","b","a"}
  (`T` and `pu` only on USDⓈ-M futures);
- REST `/fapi/v1/depth` or `/api/v3/depth`: {"lastUpdateId","E"?,"T"?,"bids","asks"};
- recorded CSV rows `symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu`
  where update_type is `snap` for snapshot rows and `set` for diff rows; consecutive rows with the
  same last_update_id form one message.

Sequencing differs by market (Binance's "how to manage a local order book correctly"):
futures drop a diff with u < lastUpdateId, the first applied one has U <= lastUpdateId <= u, and
every next one has pu == the previous u; spot drops u <= lastUpdateId, the first applied one has
U <= lastUpdateId + 1 <= u, and every next one has U == the previous u + 1.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal

import msgspec

from grekko.core.errors import DataError
from grekko.domain.order_book import (
    BookLevel,
    BookMessage,
    DepthDiff,
    DepthSnapshot,
    check_level,
    parse_levels,
)
from grekko.engines.books import SeqVerdict

BinanceMarket = Literal["futures", "spot"]
NS_PER_MS = 1_000_000
CSV_COLUMNS = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)
_Pair = tuple[str | float, str | float]


class _WsDepth(msgspec.Struct):
    event: str = msgspec.field(name="e")
    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_id: int = msgspec.field(name="U")
    last_id: int = msgspec.field(name="u")
    bids: list[_Pair] = msgspec.field(name="b")
    asks: list[_Pair] = msgspec.field(name="a")
    prev_id: int | None = msgspec.field(default=None, name="pu")


class _RestDepth(msgspec.Struct):
    last_update_id: int = msgspec.field(name="lastUpdateId")
    bids: list[_Pair]
    asks: list[_Pair]
    event_time: int | None = msgspec.field(default=None, name="E")
    trade_time: int | None = msgspec.field(default=None, name="T")


_WS_DECODER = msgspec.json.Decoder(_WsDepth)
_REST_DECODER = msgspec.json.Decoder(_RestDepth)


class BinanceSequencer:
    """Binance's update-id rules for one market type (see the module docstring)."""

    __slots__ = ("market",)

    def __init__(self, market: BinanceMarket = "futures") -> None:
        if market not in ("futures", "spot"):
            raise ValueError(f"Binance market must be 'futures' or 'spot', got {market!r}")
        self.market = market

    def check_first(self, snapshot_sequence: int, diff: DepthDiff) -> SeqVerdict:
        target = snapshot_sequence if self.market == "futures" else snapshot_sequence + 1
        if diff.last_id < target:
            return SeqVerdict.STALE
        if diff.first_id <= target <= diff.last_id:
            return SeqVerdict.APPLY
        return SeqVerdict.GAP

    def check_next(self, last_sequence: int, diff: DepthDiff) -> SeqVerdict:
        if diff.last_id <= last_sequence:
            return SeqVerdict.STALE
        if self.market == "futures":
            ok = diff.prev_id == last_sequence
        else:
            ok = diff.first_id == last_sequence + 1
        return SeqVerdict.APPLY if ok else SeqVerdict.GAP


class BinanceDepthParser:
    """Binance payloads -> DepthSnapshot / DepthDiff, or DataError saying what is wrong.

    symbols maps the venue spelling (BTCUSDT) to the instrument id (BTC/USDT@binance).
    """

    def __init__(self, symbols: Mapping[str, str], market: BinanceMarket = "futures") -> None:
        self.sequencer = BinanceSequencer(market)
        self.market = market
        self._symbols = dict(symbols)

    def instrument(self, symbol: str) -> str:
        try:
            return self._symbols[symbol]
        except KeyError:
            raise DataError(f"binance: unknown symbol {symbol!r}") from None

    def parse_ws(self, payload: bytes | str) -> DepthDiff:
        """One `depthUpdate` WebSocket event; its time is the event time E."""
        try:
            msg = _WS_DECODER.decode(payload)
        except msgspec.MsgspecError as exc:
            raise DataError(f"binance depthUpdate: {exc}") from None
        if msg.event != "depthUpdate":
            raise DataError(f"binance depthUpdate: event type is {msg.event!r}")
        if self.market == "futures" and msg.prev_id is None:
            raise DataError("binance depthUpdate: futures event without 'pu'")
        return self._diff(
            msg.symbol,
            parse_levels(msg.bids, "binance depthUpdate bids"),
            parse_levels(msg.asks, "binance depthUpdate asks"),
            (msg.first_id, msg.last_id, msg.prev_id),
            _ms_to_ns(msg.event_time, "binance depthUpdate"),
        )

    def parse_rest_snapshot(
        self, payload: bytes | str, symbol: str, ts_recv: int = 0
    ) -> DepthSnapshot:
        """A REST depth snapshot; its time is T or E when present (futures), else ts_recv (ns)."""
        try:
            msg = _REST_DECODER.decode(payload)
        except msgspec.MsgspecError as exc:
            raise DataError(f"binance depth snapshot: {exc}") from None
        if msg.last_update_id < 0:
            raise DataError(f"binance depth snapshot: lastUpdateId {msg.last_update_id} < 0")
        stamp = msg.trade_time if msg.trade_time is not None else msg.event_time
        return DepthSnapshot(
            instrument_id=self.instrument(symbol),
            bids=parse_levels(msg.bids, "binance depth snapshot bids"),
            asks=parse_levels(msg.asks, "binance depth snapshot asks"),
            sequence=msg.last_update_id,
            ts=ts_recv if stamp is None else _ms_to_ns(stamp, "binance depth snapshot"),
        )

    def iter_csv(self, lines: Iterable[str]) -> Iterator[BookMessage]:
        """Recorded CSV rows grouped into messages, in file order."""
        group: list[tuple[int, list[str]]] = []
        for line_no, row in _csv_rows(lines):
            if group and (row[0], row[3], row[5]) != (
                group[0][1][0],
                group[0][1][3],
                group[0][1][5],
            ):
                yield self._csv_message(group)
                group = []
            group.append((line_no, row))
        if group:
            yield self._csv_message(group)

    def read_csv(self, path: str | Path) -> list[BookMessage]:
        """A CSV file (plain or .gz) as messages."""
        path = Path(path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            return list(self.iter_csv(fh))

    def _csv_message(self, group: list[tuple[int, list[str]]]) -> BookMessage:
        line_no, first = group[0]
        where = f"binance depth csv line {line_no}"
        symbol, update_type = first[0], first[5]
        ts = _ms_to_ns(_int(first[1], where), where)
        first_id, last_id, prev = (
            _int(first[2], where),
            _int(first[3], where),
            _int(first[8], where),
        )
        bids: list[BookLevel] = []
        asks: list[BookLevel] = []
        for n, row in group:
            (bids if _side(row[4], n) == "b" else asks).append(_csv_level(row, n))
        if update_type == "snap":
            return DepthSnapshot(self.instrument(symbol), tuple(bids), tuple(asks), last_id, ts)
        if update_type != "set":
            raise DataError(f"{where}: update_type {update_type!r} is neither 'snap' nor 'set'")
        prev_id = prev if prev >= 0 else None
        if self.market == "futures" and prev_id is None:
            raise DataError(f"{where}: futures diff without pu")
        return self._diff(symbol, tuple(bids), tuple(asks), (first_id, last_id, prev_id), ts)

    def _diff(
        self,
        symbol: str,
        bids: tuple[BookLevel, ...],
        asks: tuple[BookLevel, ...],
        ids: tuple[int, int, int | None],
        ts_ns: int,
    ) -> DepthDiff:
        first_id, last_id, prev_id = ids
        if first_id < 0 or last_id < first_id:
            raise DataError(
                f"binance depthUpdate: update ids U={first_id} u={last_id} out of order"
            )
        return DepthDiff(
            instrument_id=self.instrument(symbol),
            bids=bids,
            asks=asks,
            first_id=first_id,
            last_id=last_id,
            prev_id=prev_id,
            ts=ts_ns,
        )


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != CSV_COLUMNS:
            raise DataError(f"binance depth csv: header must be {','.join(CSV_COLUMNS)}")
        for row in reader:
            if not row:
                continue
            if len(row) != len(CSV_COLUMNS):
                raise DataError(f"binance depth csv line {reader.line_num}: {len(row)} fields")
            yield reader.line_num, row
    except csv.Error as exc:
        raise DataError(f"binance depth csv line {reader.line_num}: {exc}") from None


def _ms_to_ns(ms: int, where: str) -> int:
    if ms < 0:
        raise DataError(f"{where}: negative timestamp {ms}")
    return ms * NS_PER_MS


def _int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{where}: {text!r} is not an integer") from None


def _side(text: str, line_no: int) -> str:
    if text not in ("b", "a"):
        raise DataError(f"binance depth csv line {line_no}: side {text!r} is neither 'b' nor 'a'")
    return text


def _csv_level(row: list[str], line_no: int) -> BookLevel:
    try:
        price, size = float(row[6]), float(row[7])
    except ValueError:
        raise DataError(f"binance depth csv line {line_no}: price/qty is not a number") from None
    try:
        check_level(price, size)
    except DataError as exc:
        raise DataError(f"binance depth csv line {line_no}: {exc}") from None
    return price, size
