"""Bar-file loading on the real files in shared/data, checked against their READMEs' figures."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from grekko.adapters.files.bars import BarArrays, iter_bar_rows, load_bars
from grekko.core.errors import DataError

pytestmark = pytest.mark.shared

HOUR_NS = 3600 * 10**9
MINUTE_NS = 60 * 10**9


def shared_dir() -> Path:
    configured = os.environ.get("GREKKO_SHARED_DIR")
    if configured:
        return Path(configured)
    return (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()


DATA = shared_dir() / "data"
if not DATA.is_dir():
    pytest.skip(
        f"real market data not found at {DATA} (set GREKKO_SHARED_DIR)", allow_module_level=True
    )


def ts(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


def close_at(bars: BarArrays, when: str) -> float:
    row = int(np.searchsorted(bars.ts_open_ns, ts(when)))
    assert bars.ts_open_ns[row] == ts(when)
    return float(bars.close[row])


def test_binance_2024_2025_btc_spot_5m() -> None:
    bars = load_bars(DATA / "ohlcv_binance_2024_2025" / "BTCUSDT_spot_5m.csv.gz")
    assert bars.symbol == "BTC/USDT"
    assert len(bars) == 70_272
    assert bars.interval_ns == 5 * MINUTE_NS
    assert (bars.gaps, bars.missing_bars) == (0, 0)  # README: zero gaps, zero duplicates
    assert bars.ts_open_ns[0] == ts("2024-12-31 00:00")
    assert bars.ts_open_ns[-1] == ts("2025-08-31 23:55")
    assert bars.ts_close_ns[-1] == ts("2025-09-01 00:00")
    first_row = (ts("2024-12-31 00:00"), ts("2024-12-31 00:05"))
    first_row += (92792.05, 92848.01, 92706.02, 92782.39, 51.41651)
    assert next(iter_bar_rows(bars)) == first_row


def test_binance_2024_2025_closes_match_real_history() -> None:
    folder = DATA / "ohlcv_binance_2024_2025"
    btc = load_bars(folder / "BTCUSDT_spot_1h.csv.gz")
    eth = load_bars(folder / "ETHUSDT_spot_1h.csv.gz")
    assert len(btc) == len(eth) == 8_448
    assert close_at(btc, "2025-01-01 00:00") == pytest.approx(94_401, abs=1)
    assert close_at(btc, "2025-06-01 00:00") == pytest.approx(104_446, abs=1)
    assert close_at(eth, "2025-01-01 00:00") == pytest.approx(3_364, abs=1)


def test_perp_file_names_give_the_quoted_pair() -> None:
    bars = load_bars(DATA / "ohlcv_binance_2024_2025" / "ETHUSDT_usdm_perp_1h.csv.gz")
    assert bars.symbol == "ETH/USDT"
    assert len(bars) == 5_856
    assert bars.interval_ns == HOUR_NS


def test_binance_1h_2017_2020_keeps_the_bad_first_print_and_counts_outages() -> None:
    bars = load_bars(DATA / "ohlcv_binance_1h_2017_2020" / "BTCUSDT_spot_1h.csv.gz")
    assert len(bars) == 29_579
    assert bars.ts_open_ns[0] == ts("2017-08-17 04:00")
    assert bars.ts_open_ns[-1] == ts("2020-12-31 23:00")
    assert (bars.open[0], bars.high[0], bars.close[0]) == (16199.91, 16199.91, 4308.83)
    assert bars.interval_ns == HOUR_NS
    assert (bars.gaps, bars.missing_bars) == (4, 9)
    assert ts("2017-09-22 20:00") not in set(bars.ts_open_ns.tolist())  # inside an outage


def test_binance_2021_1m_has_its_documented_missing_minutes() -> None:
    bars = load_bars(DATA / "ohlcv_binance_2021_1m_5m" / "BTCUSDT_spot_1m.csv.gz")
    assert len(bars) == 41_326
    assert bars.missing_bars == 434  # README: 434 missing minutes incl. 2021-04-25 maintenance
    assert bars.ts_open_ns[0] == ts("2021-04-02 00:00")
    assert bars.ts_open_ns[-1] == ts("2021-04-30 23:59")
    assert bars.open[0] == pytest.approx(58_700, rel=0.01)  # README: BTC ≈ 58.7k on 2021-04-02
    after_maintenance = np.flatnonzero(np.diff(bars.ts_open_ns) > MINUTE_NS)
    assert ts("2021-04-25 04:00") in bars.ts_open_ns[after_maintenance].tolist()


def test_btc_perp_with_a_timestamp_column() -> None:
    bars = load_bars(DATA / "ohlcv_misc" / "BTC-PERP_1m_2021-12-31_2022-01-21.csv.gz")
    assert bars.symbol == "BTC/USD"
    assert len(bars) == 30_299
    assert bars.interval_ns == MINUTE_NS
    assert bars.ts_open_ns[0] == ts("2021-12-31 23:01")
    assert bars.ts_open_ns[-1] == ts("2022-01-21 23:59")
    assert (bars.gaps, bars.missing_bars) == (0, 0)
    assert (bars.open[0], bars.close[-1]) == (46319.0, 36515.0)


def test_loader_agrees_with_plain_pandas_on_a_real_file() -> None:
    path = DATA / "ohlcv_binance_2021_1m_5m" / "ETHUSDT_spot_5m.csv.gz"
    bars = load_bars(path)
    frame = pd.read_csv(path)
    assert bars.ts_open_ns.tolist() == (frame["open_time_ms"] * 1_000_000).tolist()
    for name in ("open", "high", "low", "close", "volume"):
        assert getattr(bars, name).tolist() == frame[name].tolist()


CANDLE_FILES = sorted(
    p for p in DATA.glob("ohlcv_binance_*/*.csv.gz") if "funding_rate" not in p.name
)


@pytest.mark.parametrize("path", CANDLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_candle_file_loads(path: Path) -> None:
    bars = load_bars(path)
    assert len(bars) > 3_000
    assert bars.symbol.endswith("/USDT")
    assert np.all(np.diff(bars.ts_open_ns) >= bars.interval_ns)
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))


def test_funding_rate_file_is_not_bars() -> None:
    path = DATA / "ohlcv_binance_2024_2025" / "BTCUSDT_usdm_perp_funding_rate_8h.csv.gz"
    with pytest.raises(DataError, match=r"missing columns: open, high, low, close, volume"):
        load_bars(path)


def test_headerless_binance_kline_dump_gets_a_clear_error() -> None:
    path = DATA / "ohlcv_misc" / "binance_ADABTC-1m-2021-11-27.csv"
    with pytest.raises(DataError, match="header row missing") as info:
        load_bars(path)
    assert path.name in str(info.value)


def load_peer_generator() -> ModuleType:
    script = shared_dir() / "peers" / "gen_data.py"
    if not script.is_file():
        pytest.skip(f"peer benchmark generator not found at {script}")
    spec = importlib.util.spec_from_file_location("peer_gen_data", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_peer_benchmark_files_load_in_both_formats(tmp_path: Path) -> None:
    frame = load_peer_generator().make(n=5_000)
    parquet_path, csv_path = tmp_path / "bars_1m_5000.parquet", tmp_path / "bars_1m_5000.csv"
    frame.to_parquet(parquet_path)  # written exactly as gen_data.main() does
    frame.to_csv(csv_path, float_format="%.6f")

    with pytest.raises(DataError, match="--symbol"):
        load_bars(parquet_path)
    from_parquet = load_bars(parquet_path, symbol="BTC/USDT")
    from_csv = load_bars(csv_path, symbol="BTC/USDT")

    assert len(from_parquet) == len(from_csv) == 5_000
    assert from_parquet.ts_open_ns[0] == ts("2020-01-01 00:00")
    assert from_parquet.interval_ns == MINUTE_NS
    assert from_parquet.ts_open_ns.tolist() == from_csv.ts_open_ns.tolist()
    assert from_parquet.close.tolist() == frame["close"].tolist()
    assert from_csv.close.tolist() == pytest.approx(frame["close"].tolist(), abs=1e-6)
    assert from_parquet.open[0] == 30_000.0
