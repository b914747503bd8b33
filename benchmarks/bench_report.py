"""Turn engine records into the comparison table, the reference checks and the target verdicts.

The same rows feed the terminal (rich) and benchmarks/results/latest.md, so what a reader sees in
the repository is exactly what the run printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import JustifyMethod
from rich.table import Table

GREKKO = "grekko"
EQUITY_TOLERANCE = 1e-4  # 0.01 %


@dataclass(frozen=True)
class Reference:
    """Expected outcome of the SMA(10/30) cross workload (reference loop of the peers dir)."""

    fills: int
    final_equity: float


# 1M: README of the peers dir. 100k: bench_pure_python.py loop on the first 100k bars.
REFERENCES: dict[int, Reference] = {
    1_000_000: Reference(fills=39_050, final_equity=8_760_738.79),
    100_000: Reference(fills=3_912, final_equity=9_880_502.45),
}


@dataclass
class EngineRecord:
    """One engine's measured run (or the reason it has no figures)."""

    engine: str
    kind: str  # "grekko", or the peer's key: "backtesting", "backtrader", "nautilus"
    bars: int
    version: str | None = None
    bars_per_s: float | None = None
    run_s: float | None = None
    fills: int | None = None
    final_equity: float | None = None
    peak_rss_mb: float | None = None
    wall_s: float | None = None
    error: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.bars_per_s is not None


@dataclass(frozen=True)
class RoundTrip:
    """Order round-trip latency reported by benchmarks.roundtrip."""

    median_us: float | None = None
    p99_us: float | None = None
    orders: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Target:
    label: str
    measured: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[self.met]


def _fmt_int(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def speed_ratio(grekko: EngineRecord | None, peer: EngineRecord | None) -> float | None:
    """Grekko's bars/s over the peer's, when both ran."""
    if grekko is None or peer is None or not grekko.ok or not peer.ok:
        return None
    if grekko.bars_per_s is None or not peer.bars_per_s:
        return None
    return grekko.bars_per_s / peer.bars_per_s


def _fmt_ratio(grekko: EngineRecord | None, row: EngineRecord) -> str:
    ratio = None if row.kind == GREKKO else speed_ratio(grekko, row)
    return "—" if ratio is None else f"{ratio:.1f}x"


def fills_ok(row: EngineRecord) -> bool | None:
    ref = REFERENCES.get(row.bars)
    if ref is None or row.fills is None:
        return None
    return row.fills == ref.fills


def equity_diff(row: EngineRecord) -> tuple[float, float] | None:
    """(absolute, relative) difference of the final equity from the reference."""
    ref = REFERENCES.get(row.bars)
    if ref is None or row.final_equity is None:
        return None
    diff = row.final_equity - ref.final_equity
    return diff, diff / ref.final_equity


def correctness_ok(row: EngineRecord) -> bool | None:
    """Fills equal and equity within 0.01 % of the reference; None if it cannot be judged."""
    fills = fills_ok(row)
    diff = equity_diff(row)
    if fills is None or diff is None:
        return None
    return fills and abs(diff[1]) <= EQUITY_TOLERANCE


def _equity_diff_text(row: EngineRecord) -> str:
    diff = equity_diff(row)
    return "—" if diff is None else f"{diff[0]:+,.2f} ({diff[1]:+.4%})"


def _check_text(row: EngineRecord) -> str:
    """OK, or what differs from the reference; peers are reported, never failed."""
    if not row.ok:
        return "ERROR"
    fills = fills_ok(row)
    diff = equity_diff(row)
    if fills is None or diff is None:
        return "no reference"
    problems = []
    if not fills:
        problems.append(f"fills ≠ {REFERENCES[row.bars].fills:,}")
    if abs(diff[1]) > EQUITY_TOLERANCE:
        problems.append("equity off > 0.01%")
    return "OK" if not problems else "; ".join(problems)


HEADERS = (
    "engine",
    "version",
    "bars/s",
    "Grekko ÷ peer",
    "fills",
    "final equity",
    "equity vs ref",
    "peak RSS MB",
    "check",
)


def table_rows(records: list[EngineRecord]) -> list[tuple[str, ...]]:
    grekko = next((r for r in records if r.kind == GREKKO), None)
    rows = []
    for row in records:
        equity = "—" if row.final_equity is None else f"{row.final_equity:,.2f}"
        rss = "—" if row.peak_rss_mb is None else f"{row.peak_rss_mb:,.0f}"
        rows.append(
            (
                row.engine,
                row.version or "—",
                _fmt_int(row.bars_per_s),
                _fmt_ratio(grekko, row),
                _fmt_int(row.fills),
                equity,
                _equity_diff_text(row),
                rss,
                _check_text(row),
            )
        )
    return rows


def reference_text(bars: int) -> str:
    ref = REFERENCES.get(bars)
    if ref is None:
        return f"no reference result for {bars:,} bars"
    return (
        f"reference ({bars:,} bars): {ref.fills:,} fills, final equity {ref.final_equity:,.2f};"
        " Grekko must match fills exactly and equity within 0.01 %, peers are only reported"
    )


def error_lines(records: list[EngineRecord]) -> list[str]:
    return [f"{r.engine}: {r.error}" for r in records if r.error]


def rich_table(records: list[EngineRecord], bars: int) -> Table:
    table = Table(title=f"Backtest, SMA(10/30) cross, {bars:,} one-minute bars")
    for header in HEADERS:
        justify: JustifyMethod = "left" if header in {"engine", "version", "check"} else "right"
        table.add_column(header, justify=justify, no_wrap=header != "check")
    for record, cells in zip(records, table_rows(records), strict=True):
        style = None if record.ok else "red"
        if record.ok and record.kind == GREKKO and correctness_ok(record) is False:
            style = "red"
        table.add_row(*cells, style=style)
    return table


def markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])


def _ratio_target(
    grekko: EngineRecord | None, peer: EngineRecord | None, label: str, factor: float
) -> Target:
    ratio = speed_ratio(grekko, peer)
    if ratio is None:
        return Target(label, "—", None)
    return Target(label, f"{ratio:.1f}x", ratio >= factor)


def evaluate_targets(records: list[EngineRecord], roundtrip: RoundTrip | None) -> list[Target]:
    by_kind = {r.kind: r for r in records}
    grekko = next((r for r in records if r.kind == GREKKO), None)
    grekko_ok = grekko is not None and grekko.ok
    targets = [
        Target(
            "Grekko >= 500k bars/s",
            _fmt_int(grekko.bars_per_s) if grekko_ok and grekko else "—",
            (grekko.bars_per_s or 0) >= 500_000 if grekko_ok and grekko else None,
        ),
        _ratio_target(grekko, by_kind.get("backtesting"), "Grekko >= 3x backtesting.py", 3),
        _ratio_target(grekko, by_kind.get("nautilus"), "Grekko >= 25x nautilus_trader", 25),
        Target(
            "Grekko peak RSS <= 600 MB",
            f"{grekko.peak_rss_mb:,.0f} MB" if grekko_ok and grekko and grekko.peak_rss_mb else "—",
            (grekko.peak_rss_mb or 0) <= 600 if grekko_ok and grekko else None,
        ),
    ]
    rt_ok = roundtrip is not None and roundtrip.error is None and roundtrip.median_us is not None
    targets.append(
        Target(
            "order round trip median <= 20 us",
            f"{roundtrip.median_us:.1f} us" if rt_ok and roundtrip and roundtrip.median_us else "—",
            (roundtrip.median_us or 0) <= 20 if rt_ok and roundtrip else None,
        )
    )
    return targets


def targets_table(targets: list[Target]) -> Table:
    table = Table(title="Targets")
    for header in ("target", "measured", "verdict"):
        table.add_column(header)
    colours = {True: "green", False: "red", None: "yellow"}
    for target in targets:
        table.add_row(target.label, target.measured, f"[{colours[target.met]}]{target.verdict}[/]")
    return table


def roundtrip_text(roundtrip: RoundTrip | None) -> str:
    if roundtrip is None:
        return "order round trip: not run (benchmarks/roundtrip.py does not exist yet)"
    if roundtrip.error:
        return f"order round trip: {roundtrip.error}"
    median = "—" if roundtrip.median_us is None else f"{roundtrip.median_us:.1f}"
    p99 = "—" if roundtrip.p99_us is None else f"{roundtrip.p99_us:.1f}"
    orders = _fmt_int(roundtrip.orders)
    return f"order round trip: median {median} us, p99 {p99} us over {orders} orders"
