"""Trade files (CSV, CSV.gz, Parquet) as rows of raw payload values for the ingest pipeline.

Unlike bar files, trade files are not validated here: each row becomes a `RawTrade` with the
cell values as they are, and the pipeline's normalizer/validator rejects the bad ones one by one
(quarantined, counted) instead of refusing the whole file. What is refused here is a file with
no recognisable price/amount/time columns.

Formats seen in ../shared/data/ticks_orderbook: ccxt-parsed Binance trades (timestamp ms, id,
side, price, amount), Binance parquet (timestamp, trade_id, price, quantity, buyer_maker),
Tardis (timestamp µs, id, side, price, amount) and Kraken's headerless dump (unix s, price,
volume).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from grekko.adapters.files.bars import _is_number, _read_frame
from grekko.core.errors import DataError

TIME = ("timestamp", "time", "ts", "unix", "datetime_utc", "date", "datetime")
PRICE = ("price", "px")
AMOUNT = ("amount", "quantity", "qty", "size", "volume")
SIDE = ("side", "taker_side")
TRADE_ID = ("id", "trade_id", "tid")
HEADERLESS = {3: ("timestamp", "price", "amount")}
MARKERS_OF_BOOKS = ("update_type", "first_update_id", "last_update_id", "is_snapshot")
_MAKER_TEXT = {"true": "sell", "false": "buy", "1": "sell", "0": "buy"}


@dataclass(frozen=True, slots=True)
class TradeRows:
    """Parallel columns of raw values; `side` is None when the file has none."""

    source: Path
    ts: list[object]
    price: list[object]
    amount: list[object]
    side: list[object] | None
    trade_id: list[object] | None

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self) -> Iterator[tuple[object, object, object, object, object]]:
        count = len(self.ts)
        sides = self.side if self.side is not None else [None] * count
        ids = self.trade_id if self.trade_id is not None else [""] * count
        return zip(self.ts, self.price, self.amount, sides, ids, strict=True)


def load_trades(path: Path) -> TradeRows:
    path = Path(path)
    frame = _read_frame(path)
    names = [str(c).strip().lower() for c in frame.columns]
    if names and all(_is_number(n) for n in names):
        frame = _headerless(path, len(names))
        names = list(frame.columns)
    frame.columns = pd.Index(names)
    book = [c for c in MARKERS_OF_BOOKS if c in names]
    if book:
        raise DataError(
            f"{path.name}: an order-book file (has {', '.join(book)}), not trades: its rows are "
            "price levels, and replaying them as trades would invent prints"
        )
    time_col = _pick(names, TIME, path, "a time column")
    price_col = _pick(names, PRICE, path, "a price column")
    amount_col = _pick(names, AMOUNT, path, "an amount column")
    side = _sides(frame, names)
    id_col = next((c for c in TRADE_ID if c in names), None)
    return TradeRows(
        source=path,
        ts=_values(frame[time_col]),
        price=_values(frame[price_col]),
        amount=_values(frame[amount_col]),
        side=side,
        trade_id=_values(frame[id_col]) if id_col else None,
    )


def _headerless(path: Path, columns: int) -> pd.DataFrame:
    names = HEADERLESS.get(columns)
    if names is None:
        raise DataError(
            f"{path.name}: no header row and {columns} columns; a headerless trade file must be "
            "time, price, amount (Kraken's dump format)"
        )
    try:
        return pd.read_csv(path, header=None, names=list(names))
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name}: cannot read ({exc})") from exc


def _pick(names: list[str], choices: tuple[str, ...], path: Path, what: str) -> str:
    found = next((c for c in choices if c in names), None)
    if found is None:
        raise DataError(
            f"{path.name}: not a trade file: missing {what} (one of {', '.join(choices)}); "
            f"found: {', '.join(names[:15])}"
        )
    return found


def _sides(frame: pd.DataFrame, names: list[str]) -> list[object] | None:
    side_col = next((c for c in SIDE if c in names), None)
    if side_col is not None:
        return [_missing_to_none(v) for v in _values(frame[side_col])]
    if "buyer_maker" in names or "is_buyer_maker" in names:
        column = frame["buyer_maker" if "buyer_maker" in names else "is_buyer_maker"]
        return [_taker_side(v) for v in _values(column)]
    return None


def _taker_side(buyer_maker: object) -> object:
    """The buyer was the resting order, so the seller took liquidity.

    Dumps store the flag as a bool, 0/1 or text ('True' in Binance's parquet); anything else is
    left as it is for the normalizer to reject.
    """
    if isinstance(buyer_maker, bool) or buyer_maker in (0, 1):
        return "sell" if buyer_maker else "buy"
    if isinstance(buyer_maker, str):
        return _MAKER_TEXT.get(buyer_maker.strip().lower(), buyer_maker)
    return _missing_to_none(buyer_maker)


def _missing_to_none(value: object) -> object:
    """An empty cell (NaN) is a missing side, which the normalizer fills by the tick rule."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _values(column: pd.Series) -> list[object]:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        stamps = (
            column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
        )
        return [int(v) for v in stamps.astype("int64")]
    return [None if v is pd.NA else v for v in column.tolist()]
