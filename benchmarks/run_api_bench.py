"""API benchmark: uvicorn serving `grekko up`, load from a second process on loopback.

1. Order submission through REST (JWT auth + rate limit + risk + paper venue + SQLite event store):
   target >= 1,500 orders/s with p99 < 50 ms.
2. 1,000 concurrent WebSocket clients subscribed to one ticker updating 20 times a second (the target
   names 10):
   target delivery p99 < 100 ms, server memory flat over the run (5 minutes by default).

Usage: python -m benchmarks.run_api_bench [--orders N] [--concurrency C] [--clients K] [--ws-seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from benchmarks.bench_process import parse_result_line
from benchmarks.bench_results import replace_in_readme
from benchmarks.run_backtest_bench import REPO, RESULTS_DIR

PASSWORD = "benchmark password 123"  # noqa: S105 - a throwaway user in a temp data dir
MARKER = "<!-- API-BENCH -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def grekko() -> list[str]:
    return [str(Path(sys.executable).parent / "grekko")]


def start_server(data_dir: Path, port: int, speed: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GREKKO_RISK__MAX_ORDERS_PER_SECOND": "1000000",
        "GREKKO_RISK__MAX_ORDER_NOTIONAL": "1000000000",
        "GREKKO_PAPER__STARTING_CASH": "1000000000000",
        "GREKKO_API__RATE_LIMIT_USER": "10000000/minute",
        "GREKKO_API__RATE_LIMIT_IP": "10000000/minute",
    }
    return launch_platform(data_dir, port, env, "--speed", str(speed))


def launch_platform(
    data_dir: Path, port: int, env: dict[str, str], *up_args: str, attempts: int = 300
) -> subprocess.Popen[bytes]:
    """`grekko up` in a child process with the trader `bench`, once /ready answers 200."""
    subprocess.run(
        [*grekko(), "user", "add", "bench", "--role", "trader", "--password-stdin", "--data-dir", str(data_dir)],
        input=PASSWORD.encode(), check=True, env=env, capture_output=True,
    )  # fmt: skip
    proc = subprocess.Popen(
        [*grekko(), "up", "--no-devnet", "--data-dir", str(data_dir), "--port", str(port), *up_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(attempts):
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("grekko up did not become ready")


def token(url: str) -> str:
    answer = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def load(*args: str, timeout: float) -> dict[str, object]:
    cmd = [sys.executable, "-m", "benchmarks.api_load", *args]
    done = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    result = parse_result_line(done.stdout)
    if result is None:
        raise RuntimeError(f"load generator failed: {done.stderr[-1500:]}")
    return result


def sample_rss(
    pid: int, every_s: float, out: list[tuple[float, float]], stop: threading.Event
) -> None:
    process = psutil.Process(pid)
    start = time.monotonic()
    while not stop.wait(every_s):
        out.append((round(time.monotonic() - start, 1), process.memory_info().rss / 2**20))


def bench_orders(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(Path(tmp), port, speed=5)
        try:
            url = f"http://127.0.0.1:{port}"
            load("orders", url, token(url), "500", str(args.concurrency), timeout=300)  # warm-up
            return load(
                "orders", url, token(url), str(args.orders), str(args.concurrency), timeout=900
            )
        finally:
            server.terminate()
            server.wait(60)


def ws_load(url: str, tok: str, args: argparse.Namespace) -> dict[str, object]:
    """The clients split over several generator processes: one Python process receives only
    about 1,000 frames/s, which would cap the measured rate, not the server."""
    per = args.clients // args.ws_procs
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.api_load",
        "ws",
        url,
        tok,
        str(per),
        str(args.ws_seconds),
        "BTC/USDT",
    ]
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(args.ws_procs)
    ]
    parts = []
    for proc in procs:
        out, err = proc.communicate(timeout=args.ws_seconds + 600)
        part = parse_result_line(out)
        if part is None:
            raise RuntimeError(f"ws load generator failed: {err[-1500:]}")
        parts.append(part)
    lags = sorted(x for part in parts for x in part["ws_lags_sample"])  # type: ignore[attr-defined]
    clients = sum(int(part["ws_clients"]) for part in parts)  # type: ignore[call-overload]
    messages = sum(int(part["ws_messages"]) for part in parts)  # type: ignore[call-overload]
    listened = sum(float(part["ws_client_seconds"]) for part in parts)  # type: ignore[arg-type]
    return {
        "ws_clients": clients,
        "ws_generators": args.ws_procs,
        "ws_seconds": args.ws_seconds,
        "ws_messages": messages,
        "ws_messages_per_client_per_s": round(messages / max(1e-9, listened), 2),
        "ws_p50_ms": round(lags[len(lags) // 2], 2) if lags else None,
        "ws_p99_ms": round(lags[int(len(lags) * 0.99)], 2) if lags else None,
        "ws_max_ms": max(float(part["ws_max_ms"] or 0) for part in parts),  # type: ignore[arg-type]
    }


def bench_websockets(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        # speed counts the bars of both replayed instruments: 40 -> 20 updates/s on each ticker,
        # twice the 10/s the target names
        server = start_server(Path(tmp), port, speed=40)
        rss: list[tuple[float, float]] = []
        stop = threading.Event()
        sampler = threading.Thread(
            target=sample_rss, args=(server.pid, 10.0, rss, stop), daemon=True
        )
        try:
            url = f"http://127.0.0.1:{port}"
            sampler.start()
            result = ws_load(url, token(url), args)
        finally:
            stop.set()
            server.terminate()
            server.wait(60)
        steady = [mb for t, mb in rss if t >= 30] or [mb for _, mb in rss]
        result["rss_mb_first"] = round(steady[0], 1) if steady else None
        result["rss_mb_last"] = round(steady[-1], 1) if steady else None
        result["rss_mb_max"] = round(max(steady), 1) if steady else None
        result["rss_samples"] = rss
        return result


def report(orders: dict[str, object], ws: dict[str, object]) -> str:
    lines = [
        f"Latest `make bench-api` ({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, uvicorn, one server process, "
        "load from a second process on loopback, 2 cores):",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| REST order submission (JWT, rate limit, risk, paper venue, SQLite), {orders['concurrency']} connections | "
        f"**{orders['orders_per_s']:,} orders/s**, p50 {orders['p50_ms']} ms, p95 {orders['p95_ms']} ms, p99 {orders['p99_ms']} ms | ≥ 1,500/s, p99 < 50 ms |",
        f"| WebSocket: {ws['ws_clients']} clients on one ticker for {ws['ws_seconds']:.0f} s ({ws.get('ws_generators', 1)} load processes) | "
        f"{ws['ws_messages_per_client_per_s']} updates/s each, delivery p50 {ws['ws_p50_ms']} ms, p99 **{ws['ws_p99_ms']} ms** | p99 < 100 ms |",
        f"| server memory during the WebSocket run (after 30 s) | {ws['rss_mb_first']} → {ws['rss_mb_last']} MB (max {ws['rss_mb_max']}) | flat |",
        "",
        f"Order answers by status: {orders['statuses']}. Where an order's time goes (measured in-process): 0.88 ms "
        "the kernel (risk, execution, paper venue, the order's events committed to SQLite), 0.41 ms authentication "
        "(JWT + two indexed reads, so a revoked session stops at once), 0.28 ms the Idempotency-Key store, about 2 ms "
        "FastAPI, uvicorn and eight ASGI layers. WebSocket clients are spread over several load processes because one "
        "Python process only takes about 1,000 frames/s; the delivery lag is publish (server clock) to receipt.",
    ]
    return "\n".join(lines)


def update_readme(markdown: str) -> None:
    replace_in_readme(REPO / "README.md", MARKER, markdown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--ws-seconds", type=float, default=300.0)
    parser.add_argument("--ws-procs", type=int, default=4)
    parser.add_argument("--skip-orders", action="store_true")
    args = parser.parse_args(argv)
    if args.skip_orders:
        previous = json.loads((RESULTS_DIR / "api.json").read_text())
        orders = previous["orders"]
    else:
        orders = bench_orders(args)
    print("orders:", json.dumps(orders))
    ws = bench_websockets(args)
    print("websockets:", json.dumps({k: v for k, v in ws.items() if k != "rss_samples"}))
    markdown = report(orders, ws)
    print(markdown)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "api.json").write_text(
        json.dumps({"orders": orders, "websockets": ws}, indent=2)
    )
    update_readme(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
