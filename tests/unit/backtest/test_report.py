"""The HTML report: self-contained, escaped, parseable, bounded in size on a million points."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from grekko.backtest.report import (
    MAX_LINE_POINTS,
    PLOT_DIV_ID,
    decimation_indices,
    sample_fills,
    write_html_report,
)
from grekko.backtest.results import FillRecord, compute_metrics, trade_stats
from grekko.core.errors import DataError

MINUTE_NS = 60 * 10**9
START_NS = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z
VOID_TAGS = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class PageAudit(HTMLParser):
    """Records tag balance, external references, and text that is not script source."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.external: list[str] = []
        self.div_ids: list[str] = []
        self.scripts: list[int] = []
        self.visible_text: list[str] = []
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.external += [f"{tag} {k}={v}" for k, v in attrs if k in ("src", "href") and v]
        if tag == "div" and values.get("id"):
            self.div_ids.append(str(values["id"]))
        if tag == "script":
            self.scripts.append(0)
        if tag not in VOID_TAGS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts[-1] += len(data)
        else:
            self.visible_text.append(data)
        if self.stack and self.stack[-1] == "title":
            self.title += data


def audit(path: Path) -> tuple[PageAudit, str]:
    page = path.read_text(encoding="utf-8")
    parser = PageAudit()
    parser.feed(page)
    parser.close()
    return parser, page


def random_walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = START_NS + np.arange(n, dtype=np.int64) * MINUTE_NS
    price = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    equity = 10_000.0 * np.exp(np.cumsum(rng.normal(0.0, 5e-4, n)))
    return ts, price, equity


def alternating_fills(ts: np.ndarray, price: np.ndarray, count: int) -> list[FillRecord]:
    picks = np.linspace(0, ts.size - 1, count).astype(np.int64)
    return [
        FillRecord(
            int(ts[i]),
            "buy" if k % 2 == 0 else "sell",
            Decimal("0.5"),
            Decimal(f"{price[i]:.2f}"),
            Decimal("0.05"),
        )
        for k, i in enumerate(picks)
    ]


def write_report(
    path: Path, n: int, n_fills: int, title: str = "t", params: dict[str, str] | None = None
) -> Path:
    ts, price, equity = random_walk(n, seed=n)
    fills = alternating_fills(ts, price, n_fills)
    return write_html_report(
        path,
        title=title,
        ts_ns=ts,
        equity=equity,
        price_ts_ns=ts,
        price_close=price,
        fills=fills,
        metrics=compute_metrics(ts, equity, float(equity[0])),
        trade_stats=trade_stats(fills),
        params=params or {"fast": "10", "slow": "30"},
    )


def test_report_is_one_offline_parseable_page(tmp_path: Path) -> None:
    path = write_report(tmp_path / "out" / "report.html", n=2_000, n_fills=40)

    parser, page = audit(path)
    visible = "".join(parser.visible_text)

    assert path.is_file()
    assert page.startswith("<!DOCTYPE html>")
    assert parser.errors == []
    assert parser.stack == []
    assert PLOT_DIV_ID in parser.div_ids
    assert parser.external == []  # no <script src>, no <link href>: nothing to fetch
    assert max(parser.scripts) > 1_000_000  # plotly.js itself is inline
    assert "cdn" not in visible.lower()
    for heading in ("Equity", "Drawdown (%)", "Price and fills", "time (UTC)"):
        assert heading in page
    for label in ("Total return", "Sharpe", "Max drawdown", "Round trips", "Net PnL"):
        assert label in visible
    assert "fast" in visible
    assert "triangle-up" in page
    assert "triangle-down" in page


def test_x_axis_values_are_utc_datetimes(tmp_path: Path) -> None:
    path = write_report(tmp_path / "r.html", n=100, n_fills=4)

    page = path.read_text(encoding="utf-8")

    assert "2025-01-01T00:00:00" in page
    assert "2025-01-01T01:39:00" in page  # the 100th minute


def test_user_strings_are_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    path = write_report(tmp_path / "r.html", n=200, n_fills=4, title=evil, params={evil: evil})

    parser, page = audit(path)

    assert evil not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert parser.title == evil  # the browser shows the text, it does not run it
    assert parser.external == []
    assert parser.errors == []


def test_empty_fills_and_prices_still_render(tmp_path: Path) -> None:
    ts = START_NS + np.arange(10, dtype=np.int64) * MINUTE_NS
    equity = np.linspace(100.0, 110.0, 10)

    path = write_html_report(
        tmp_path / "r.html",
        title="flat",
        ts_ns=ts,
        equity=equity,
        price_ts_ns=np.array([], dtype=np.int64),
        price_close=np.array([]),
        fills=[],
        metrics=compute_metrics(ts, equity, 100.0),
        trade_stats=trade_stats([]),
        params={},
    )

    parser, _ = audit(path)
    assert parser.errors == []
    assert PLOT_DIV_ID in parser.div_ids


def test_mismatched_arrays_are_a_data_error(tmp_path: Path) -> None:
    ts = START_NS + np.arange(10, dtype=np.int64)
    equity = np.ones(10)
    metrics = compute_metrics(ts, equity, 1.0)

    with pytest.raises(DataError, match="ts_ns"):
        write_html_report(
            tmp_path / "r.html",
            title="x",
            ts_ns=ts[:5],
            equity=equity,
            price_ts_ns=ts,
            price_close=equity,
            fills=[],
            metrics=metrics,
            trade_stats=trade_stats([]),
            params={},
        )
    assert not (tmp_path / "r.html").exists()


def test_one_million_points_stay_small(tmp_path: Path) -> None:
    path = write_report(tmp_path / "big.html", n=1_000_000, n_fills=40_000)

    parser, _ = audit(path)
    visible = "".join(parser.visible_text)

    assert path.stat().st_size < 15 * 1024 * 1024
    assert parser.errors == []
    assert "of 3,000,000 points" in visible
    assert "20,000 of 40,000 fills are marked" in visible


def test_decimation_keeps_extremes_ends_and_requested_points() -> None:
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(size=1_000_000))
    keep = (123_457, 765_433)

    picks = decimation_indices(values, MAX_LINE_POINTS, keep)

    assert picks.size <= MAX_LINE_POINTS
    assert np.all(np.diff(picks) > 0)
    assert {0, values.size - 1, *keep} <= set(picks.tolist())
    assert int(np.argmax(values)) in picks
    assert int(np.argmin(values)) in picks
    size = -(-values.size // ((MAX_LINE_POINTS - 2 - len(keep)) // 2))
    n_buckets = -(-values.size // size)
    for bucket in (0, n_buckets // 2, n_buckets - 1):
        window = slice(bucket * size, (bucket + 1) * size)
        inside = picks[(picks >= bucket * size) & (picks < (bucket + 1) * size)]
        assert values[inside].max() == values[window].max()
        assert values[inside].min() == values[window].min()


def test_short_series_are_not_decimated() -> None:
    values = np.arange(50, dtype=np.float64)

    assert decimation_indices(values, 100).tolist() == list(range(50))


def test_marker_sample_keeps_both_sides_of_alternating_fills() -> None:
    ts = START_NS + np.arange(50_000, dtype=np.int64) * MINUTE_NS
    fills = alternating_fills(ts, np.full(ts.size, 100.0), 50_000)

    sample = sample_fills(fills, limit=1_000)

    assert len(sample) == 1_000
    assert sum(f.side == "buy" for f in sample) == 500
    assert [f.ts_ns for f in sample] == sorted(f.ts_ns for f in sample)
    assert sample_fills(fills[:10], limit=1_000) == fills[:10]
