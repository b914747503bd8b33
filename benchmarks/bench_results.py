"""benchmarks/results/latest.{md,json}: what the last `make bench` printed, and its raw records.

The markdown is the committed evidence behind any ratio quoted elsewhere; the JSON keeps every field
the engines reported so a later reader can recompute.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench_report import (
    HEADERS,
    EngineRecord,
    RoundTrip,
    Target,
    error_lines,
    markdown_table,
    reference_text,
    roundtrip_text,
    table_rows,
)


def machine_info() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def render_markdown(
    bars: int,
    records: list[EngineRecord],
    roundtrip: RoundTrip | None,
    targets: list[Target],
    machine: dict[str, object],
) -> str:
    """The same tables the terminal showed, with the conditions they were measured under."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    target_rows = [(t.label, t.measured, t.verdict) for t in targets]
    return "\n".join(
        [
            "# Backtest benchmark: Grekko vs peer engines (same run)",
            "",
            f"Generated {generated} by `make bench` (`python -m benchmarks.run_backtest_bench"
            f" --bars {bars}`) on {machine['cpu']}, {machine['cores']} cores,"
            f" Python {machine['python']}, load average {machine['load_average_1m']} at the end"
            " of the run (other work on the machine slows every engine).",
            "Workload: SMA(10/30) cross on close, long/flat, 1 unit, market orders, fee 0.1 %,"
            " cash 10M, deterministic GBM 1-minute bars (shared/peers/gen_data.py).",
            "bars/s times only each engine's run (as each peer script defines it);"
            " peak RSS is the whole child process (kernel rusage).",
            "",
            markdown_table(HEADERS, table_rows(records)),
            "",
            reference_text(bars) + ".",
            "",
            *(f"- {line}" for line in error_lines(records)),
            "",
            roundtrip_text(roundtrip),
            "",
            "## Targets",
            "",
            markdown_table(("target", "measured", "verdict"), target_rows),
            "",
        ]
    )


def write_results(
    results_dir: Path,
    bars: int,
    records: list[EngineRecord],
    roundtrip: RoundTrip | None,
    targets: list[Target],
) -> tuple[Path, Path]:
    """benchmarks/results/latest.md (the printed tables) and latest.json (the raw records)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    md_path = results_dir / "latest.md"
    md_path.write_text(render_markdown(bars, records, roundtrip, targets, machine))
    payload = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bars": bars,
        "machine": machine,
        "records": [asdict(r) for r in records],
        "roundtrip": None if roundtrip is None else asdict(roundtrip),
        "targets": [{**asdict(t), "verdict": t.verdict} for t in targets],
    }
    json_path = results_dir / "latest.json"
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    return md_path, json_path


def replace_in_readme(readme: Path, marker: str, markdown: str) -> bool:
    """Put `markdown` between the README's pair of `marker` lines; False when they are missing."""
    text = readme.read_text()
    if text.count(marker) != 2:
        return False
    head, _, rest = text.partition(marker)
    _, _, tail = rest.partition(marker)
    readme.write_text(f"{head}{marker}\n{markdown}\n{marker}{tail}")
    return True
