"""Trade files: every real trade format in shared/data/ticks_orderbook, and what is not a trade file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from grekko.adapters.files.trades import TradeRows, load_trades
from grekko.core.errors import DataError
from shared_data import shared_file

pytestmark = pytest.mark.shared


def real(name: str) -> Path:
    return shared_file("ticks_orderbook", name)


@pytest.mark.parametrize(
    ("name", "count", "first", "last_ts"),
    [
        (
            "binance_XRPETH_trades_2019-10-11.csv.gz",
            7913,
            (1570752011620, 0.00141342, 23.0, "sell", 13519807),
            None,
        ),
        (
            "binance_ETHUSDT_futures_trades_2023-02-02.csv",
            1000,
            (1675329600138, 1666.8, 26.062, "buy", 1206419187),
            None,
        ),
        (
            "kraken_BCHEUR_trades_q2_headerless.csv",
            486,  # the first line is data, not a header
            (1672620536, 90.07, 1.1, None, ""),
            None,
        ),
        (
            "binance_btcusdt-trades.parquet",
            2001,
            (1610064000278, 39432.48, 0.000263, "sell", 553287559),  # buyer was maker: a sell
            1610064046355,
        ),
        (
            "tardis_bitmex_trades_XBTUSD.csv",
            10,
            (1583020803145000, 8531.5, 2152, "sell", "ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf"),
            None,
        ),
    ],
)
def test_every_real_trade_format_loads(
    name: str, count: int, first: tuple[object, ...], last_ts: int | None
) -> None:
    rows = load_trades(real(name))
    assert isinstance(rows, TradeRows)
    assert len(rows) == count
    assert next(rows.rows()) == first
    assert len(list(rows.rows())) == count
    if last_ts is not None:
        assert rows.ts[-1] == last_ts


def test_sides_and_amounts_agree_with_pandas() -> None:
    path = real("binance_XRPETH_trades_2019-10-11.csv.gz")
    frame = pd.read_csv(path)
    rows = load_trades(path)
    assert rows.side is not None
    assert rows.side.count("buy") == int((frame["side"] == "buy").sum())
    assert rows.side.count("sell") == int((frame["side"] == "sell").sum())
    assert sum(rows.amount) == pytest.approx(frame["amount"].sum())  # type: ignore[arg-type]
    assert rows.trade_id == frame["id"].tolist()


def test_buyer_maker_flags_become_taker_sides() -> None:
    path = real("binance_btcusdt-trades.parquet")
    frame = pd.read_parquet(path)
    rows = load_trades(path)
    makers = frame["buyer_maker"].astype(str).str.lower() == "true"
    assert rows.side == ["sell" if maker else "buy" for maker in makers]
    assert set(rows.side) == {"buy", "sell"}


def test_headerless_kraken_has_no_sides_or_ids() -> None:
    rows = load_trades(real("kraken_BCHEUR_trades_q2_headerless.csv"))
    assert rows.side is None
    assert rows.trade_id is None
    assert {side for *_, side, _ in rows.rows()} == {None}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("binance_btcusdt-quotes.parquet", "not a trade file: missing a price column"),
        ("tardis_huobi-dm-swap_quotes_BTC-USD.csv", "not a trade file: missing a price column"),
        ("tardis_binance-futures_book_snapshot_5_BTCUSDT.csv", "not a trade file"),
        ("binance_btcusdt-depth-snap.csv", "order-book file"),
        ("binance_btcusdt-depth-update.csv", "order-book file"),
        (
            "tardis_deribit_incremental_book_L2_BTC-PERPETUAL.csv",
            "order-book file (has is_snapshot)",
        ),
    ],
)
def test_real_non_trade_files_are_refused(name: str, message: str) -> None:
    with pytest.raises(DataError, match=r"^" + name.replace(".", r"\.")) as info:
        load_trades(real(name))
    assert message in str(info.value)


# ---- edge cases on small files cut from the real ones ---------------------------------------


def test_blank_sides_are_missing_not_errors(tmp_path: Path) -> None:
    source = real("binance_ETHUSDT_futures_trades_2023-02-02.csv").read_text().splitlines()
    header, lines = source[0], source[1:6]
    columns = header.split(",")
    side_at = columns.index("side")
    cut, expected = [], []
    for i, line in enumerate(lines):
        cells = line.split(",")
        expected.append(None if i % 2 else cells[side_at])
        if i % 2:
            cells[side_at] = ""
        cut.append(",".join(cells))
    path = tmp_path / "eth_trades.csv"
    path.write_text("\n".join([header, *cut]) + "\n")
    rows = load_trades(path)
    assert rows.side == expected
    assert None in expected
    assert "buy" in expected


def test_buyer_maker_as_zero_one_and_bool(tmp_path: Path) -> None:
    frame = pd.read_parquet(real("binance_btcusdt-trades.parquet")).head(4)
    as_ints = frame.assign(buyer_maker=[1, 0, 0, 1])
    as_ints.to_csv(tmp_path / "ints.csv", index=False)
    assert load_trades(tmp_path / "ints.csv").side == ["sell", "buy", "buy", "sell"]
    as_bools = frame.assign(is_buyer_maker=[True, False, True, False]).drop(columns="buyer_maker")
    as_bools.to_parquet(tmp_path / "bools.parquet")
    assert load_trades(tmp_path / "bools.parquet").side == ["sell", "buy", "sell", "buy"]
    odd = frame.assign(buyer_maker=["maybe", "true", "FALSE", "2"])
    odd.to_csv(tmp_path / "odd.csv", index=False)
    # left as they are: the normalizer quarantines what it cannot read, row by row
    assert load_trades(tmp_path / "odd.csv").side == ["maybe", "sell", "buy", "2"]


def test_timestamps_from_a_datetime_column_are_utc_epoch_numbers(tmp_path: Path) -> None:
    frame = pd.read_parquet(real("binance_btcusdt-trades.parquet")).head(3)
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)  # naive: read as UTC
    frame.to_parquet(tmp_path / "naive.parquet")
    rows = load_trades(tmp_path / "naive.parquet")
    assert rows.ts == [1610064000278, 1610064000310, 1610064000368]


def test_unreadable_files_are_data_errors(tmp_path: Path) -> None:
    lines = real("kraken_BCHEUR_trades_q2_headerless.csv").read_text().splitlines()[:3]
    four = tmp_path / "four_columns.csv"
    four.write_text("\n".join(f"{line},1" for line in lines) + "\n")
    with pytest.raises(DataError, match="no header row and 4 columns"):
        load_trades(four)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty file"):
        load_trades(empty)
    with pytest.raises(DataError, match="unknown file type"):
        load_trades(tmp_path / "trades.json")
    with pytest.raises(DataError, match="no such file"):
        load_trades(tmp_path / "missing.csv")
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(b"timestamp,price,amount\n1,2,3\n")[:-12])
    with pytest.raises(DataError, match=r"broken\.csv\.gz: cannot read"):
        load_trades(broken)
