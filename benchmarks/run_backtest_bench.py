"""`make bench`: Grekko's backtester against peer engines on the same data, in the same run.

Absolute speeds drift between machines, so a ratio is only quoted when Grekko and the peers were
measured together here. Each engine runs as its own process (peers from the shared peers dir, in
their own venvs under .bench/); the table, the reference checks and the target verdicts are printed
and written to benchmarks/results/latest.{md,json}.

Exit code: 0 when the run completed, 1 when Grekko ran but disagreed with the reference result,
2 when the harness could not run at all (no shared dir, no data).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rich.console import Console

from benchmarks.bench_process import child_env, parse_result_line, run_measured
from benchmarks.bench_report import (
    GREKKO,
    EngineRecord,
    RoundTrip,
    correctness_ok,
    error_lines,
    evaluate_targets,
    reference_text,
    rich_table,
    roundtrip_text,
    targets_table,
)
from benchmarks.bench_results import write_results
from benchmarks.peer_envs import PEERS, PeerEnvError, PeerSpec, ensure_peer_envs

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "bench-data"
BENCH_ROOT = REPO / ".bench"
RESULTS_DIR = REPO / "benchmarks" / "results"
BAR_COUNTS = (100_000, 1_000_000)


class HarnessError(RuntimeError):
    """The benchmark cannot run at all (as opposed to one engine failing)."""


def shared_dir() -> Path:
    """GREKKO_SHARED_DIR, else the `shared` folder next to the repository."""
    configured = os.environ.get("GREKKO_SHARED_DIR")
    candidate = Path(configured) if configured else REPO.parent / "shared"
    peers = candidate / "peers"
    if not (peers / "gen_data.py").is_file():
        source = "GREKKO_SHARED_DIR" if configured else "the default location"
        raise HarnessError(
            f"shared peers dir not found at {peers} ({source}); set GREKKO_SHARED_DIR to the "
            "folder that holds peers/gen_data.py"
        )
    return candidate


def project_python() -> Path:
    venv_python = REPO / ".venv" / "bin" / "python"
    return venv_python if venv_python.exists() else Path(sys.executable)


def ensure_dataset(peers_dir: Path, console: Console) -> None:
    """Generate the deterministic dataset once; later runs reuse the parquet files."""
    wanted = [DATA_DIR / f"bars_1m_{n}.parquet" for n in BAR_COUNTS]
    if all(path.is_file() for path in wanted):
        return
    with console.status("Generating the benchmark dataset (1M GBM bars, once) ..."):
        proc = subprocess.run(
            [str(project_python()), str(peers_dir / "gen_data.py")],
            cwd=REPO,
            env=child_env(DATA_DIR=str(DATA_DIR)),
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0 or not all(path.is_file() for path in wanted):
        raise HarnessError(f"gen_data.py failed (exit {proc.returncode}): {proc.stderr[-800:]}")
    console.print(f"Dataset written to {DATA_DIR}")


def _failed(kind: str, engine: str, bars: int, error: str) -> EngineRecord:
    return EngineRecord(engine=engine, kind=kind, bars=bars, error=error)


def run_peer(
    spec: PeerSpec, python: Path, peers_dir: Path, bars: int, timeout_s: float
) -> EngineRecord:
    cmd = [str(python), str(peers_dir / spec.script), str(bars), *spec.script_args]
    outcome = run_measured(cmd, peers_dir, child_env(DATA_DIR=str(DATA_DIR)), timeout_s)
    result = parse_result_line(outcome.stdout)
    if outcome.timed_out:
        return _failed(spec.name, spec.package, bars, f"timed out after {timeout_s:.0f} s")
    if outcome.returncode != 0 or result is None:
        detail = outcome.stderr_tail(3) or "no RESULT line"
        return _failed(spec.name, spec.package, bars, f"exit {outcome.returncode}: {detail}")
    known = {"engine", "version", "bars", "bars_per_s", "run_s", "fills", "final_equity"}
    return EngineRecord(
        engine=str(result.get("engine", spec.package)),
        kind=spec.name,
        bars=int(str(result.get("bars", bars))),
        version=str(result.get("version")),
        bars_per_s=float(str(result["bars_per_s"])),
        run_s=float(str(result["run_s"])),
        fills=int(str(result["fills"])),
        final_equity=float(str(result["final_equity"])),
        peak_rss_mb=round(outcome.peak_rss_mb, 1),
        wall_s=round(outcome.wall_s, 2),
        extra={k: v for k, v in result.items() if k not in known},
    )


def _grekko_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("grekko")
    except ImportError:
        return None


def _grekko_unavailable(stderr: str) -> bool:
    markers = ("No module named 'grekko.cli'", "No such command", "No module named 'grekko.")
    return any(marker in stderr for marker in markers)


def _grekko_record_from_json(path: Path, bars: int) -> EngineRecord:
    try:
        payload = json.loads(path.read_text())
        elapsed = float(payload["elapsed_s"])
        fills = payload["fills"]
        counted = len(fills) if isinstance(fills, list) else int(fills)
        equity = float(Decimal(str(payload["final_equity"])))
        run_bars = int(payload["bars"])
    except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
        return _failed(GREKKO, "grekko", bars, f"unreadable --json-out: {exc!r}")
    if elapsed <= 0:
        return _failed(GREKKO, "grekko", bars, f"elapsed_s must be > 0, got {elapsed}")
    return EngineRecord(
        engine="grekko",
        kind=GREKKO,
        bars=run_bars,
        version=_grekko_version(),
        bars_per_s=run_bars / elapsed,
        run_s=round(elapsed, 4),
        fills=counted,
        final_equity=equity,
    )


def run_grekko(bars: int, timeout_s: float) -> EngineRecord:
    executable = REPO / ".venv" / "bin" / "grekko"
    if not executable.exists():
        return _failed(GREKKO, "grekko", bars, f"not available yet ({executable} missing)")
    with tempfile.TemporaryDirectory(prefix="grekko-bench-") as tmp:
        json_out = Path(tmp) / "grekko.json"
        cmd = [
            str(executable), "backtest",
            "--data", str(DATA_DIR / f"bars_1m_{bars}.parquet"),
            "--symbol", "BTC/USDT", "--strategy", "sma_cross",
            "--param", "fast=10", "--param", "slow=30",
            "--quantity", "1", "--fee", "0.001", "--cash", "10000000",
            "--json-out", str(json_out), "--no-progress",
        ]  # fmt: skip
        outcome = run_measured(cmd, REPO, child_env(), timeout_s)
        if outcome.timed_out:
            return _failed(GREKKO, "grekko", bars, f"timed out after {timeout_s:.0f} s")
        if outcome.returncode != 0:
            if _grekko_unavailable(outcome.stderr):
                reason = outcome.stderr_tail(1)
                return _failed(GREKKO, "grekko", bars, f"not available yet ({reason})")
            detail = outcome.stderr_tail(3)
            return _failed(GREKKO, "grekko", bars, f"exit {outcome.returncode}: {detail}")
        record = _grekko_record_from_json(json_out, bars)
    record.peak_rss_mb = round(outcome.peak_rss_mb, 1)
    record.wall_s = round(outcome.wall_s, 2)
    return record


def run_roundtrip(timeout_s: float) -> RoundTrip | None:
    """benchmarks.roundtrip, when someone has written it; None means it does not exist yet."""
    if not (REPO / "benchmarks" / "roundtrip.py").is_file():
        return None
    cmd = [str(project_python()), "-m", "benchmarks.roundtrip"]
    outcome = run_measured(cmd, REPO, child_env(), timeout_s)
    result = parse_result_line(outcome.stdout)
    if outcome.returncode != 0 or result is None:
        detail = outcome.stderr_tail(3) or "no RESULT line"
        return RoundTrip(error=f"failed (exit {outcome.returncode}): {detail}")
    try:
        return RoundTrip(
            median_us=float(str(result["median_us"])),
            p99_us=float(str(result["p99_us"])),
            orders=int(str(result["orders"])),
        )
    except (KeyError, ValueError) as exc:
        return RoundTrip(error=f"unexpected RESULT line: {exc!r}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_backtest_bench",
        description="Compare Grekko's backtester with peer engines on the same data, same run.",
    )
    parser.add_argument(
        "--bars", type=int, choices=BAR_COUNTS, default=1_000_000, help="dataset size"
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"comma-separated peers to run (default: all of {','.join(PEERS)})",
    )
    parser.add_argument("--skip-peers", action="store_true", help="run Grekko only")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fresh-process runs per engine; the median-speed run is reported (default 1)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds before one engine is killed"
    )
    args = parser.parse_args(argv)
    chosen = [] if args.skip_peers else [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.peer_names = chosen
    return args


def _summary_line(record: EngineRecord) -> str:
    if not record.ok:
        return f"  [red]{record.engine}: {record.error}[/]"
    return (
        f"  {record.engine}: {record.bars_per_s:,.0f} bars/s, {record.fills} fills,"
        f" peak RSS {record.peak_rss_mb} MB, process {record.wall_s} s"
    )


def median_of_runs(run_once: Callable[[], EngineRecord], repeat: int) -> EngineRecord:
    """Run an engine `repeat` times in fresh processes; keep the run with the median speed."""
    runs: list[EngineRecord] = []
    for _ in range(repeat):
        record = run_once()
        if not record.ok:
            return record
        runs.append(record)
    runs.sort(key=lambda r: r.bars_per_s or 0.0)
    chosen = runs[(len(runs) - 1) // 2]
    if repeat > 1:
        chosen.extra["samples_bars_per_s"] = [round(r.bars_per_s or 0.0) for r in runs]
    return chosen


def run_engines(args: argparse.Namespace, peers_dir: Path, console: Console) -> list[EngineRecord]:
    specs = [PEERS[name] for name in args.peer_names]
    pythons = ensure_peer_envs(specs, BENCH_ROOT, project_python(), console) if specs else {}
    suffix = f" ({args.repeat} runs)" if args.repeat > 1 else ""
    with console.status(f"grekko backtest on {args.bars:,} bars{suffix} ..."):
        records = [median_of_runs(lambda: run_grekko(args.bars, args.timeout), args.repeat)]
    console.print(_summary_line(records[0]))
    for spec in specs:
        python = pythons[spec.name]
        if isinstance(python, PeerEnvError):
            records.append(_failed(spec.name, spec.package, args.bars, f"no venv: {python}"))
        else:
            with console.status(f"{spec.package} on {args.bars:,} bars{suffix} ..."):
                records.append(
                    median_of_runs(
                        lambda spec=spec, python=python: run_peer(
                            spec, python, peers_dir, args.bars, args.timeout
                        ),
                        args.repeat,
                    )
                )
        console.print(_summary_line(records[-1]))
    return records


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    try:
        peers_dir = shared_dir() / "peers"
        ensure_dataset(peers_dir, console)
    except HarnessError as exc:
        console.print(f"[red]bench: {exc}[/]")
        return 2
    records = run_engines(args, peers_dir, console)
    with console.status("order round trip ..."):
        roundtrip = run_roundtrip(args.timeout)
    targets = evaluate_targets(records, roundtrip)
    console.print()
    console.print(rich_table(records, args.bars))
    console.print(reference_text(args.bars))
    for line in error_lines(records):
        console.print(f"[red]{line}[/]", highlight=False)
    console.print(roundtrip_text(roundtrip))
    console.print(targets_table(targets))
    md_path, json_path = write_results(RESULTS_DIR, args.bars, records, roundtrip, targets)
    console.print(f"Written {md_path.relative_to(REPO)} and {json_path.relative_to(REPO)}")
    grekko = records[0]
    return 1 if grekko.ok and correctness_ok(grekko) is False else 0


if __name__ == "__main__":
    sys.exit(main())
