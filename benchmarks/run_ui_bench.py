"""UI benchmark: `grekko up` serving the built UI, measured in headless Debian chromium.

1. First meaningful paint of the desk for a logged-in trader, in a fresh browser context (cold
   cache) and once more on reload (warm): first-contentful-paint from the Performance API, and
   the frame after the chart's first candles are in (window.__grekko.chart.candleCount() > 0).
   Target < 1 s.
2. 100,000 generated candles through window.__grekko.chart.setCandles: the hook's own figure, and
   performance.now() around the call up to the next frame (when the chart has drawn them).
   Target < 1 s.
3. Frames per second while a setInterval in the page pushes 50 candle updates a second through
   window.__grekko.chart.pushUpdate for 10 s, counted with requestAnimationFrame: into the desk's
   chart as it opened (target >= 50), and again once the 100,000 candles are loaded.

Usage: python -m benchmarks.run_ui_bench [--runs N] [--candles N] [--seconds S] [--rate R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_results import machine_info, replace_in_readme
from benchmarks.run_api_bench import PASSWORD, free_port, launch_platform
from benchmarks.run_backtest_bench import REPO, RESULTS_DIR

MARKER = "<!-- UI-BENCH -->"
CHROMIUM = Path("/usr/bin/chromium")
STATIC_INDEX = REPO / "src" / "grekko" / "static" / "index.html"
TOKENS_KEY = "grekko.tokens"  # where ui/src/api.ts keeps the session (sessionStorage)
INSTRUMENT = "BTC/USDT@paper"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]
VIEWPORT = {"width": 1280, "height": 720}
TARGET_PAINT_MS = 1000.0
TARGET_LOAD_MS = 1000.0
TARGET_FPS = 50.0

# Before the app's own scripts: the session, and a watcher for the chart's first candles.
SEED_SESSION = "sessionStorage.setItem(%s, %s);"
WATCH_FIRST_CANDLES = """
window.__bench = { firstCandlesMs: null };
(() => {
  const poll = () => {
    const chart = window.__grekko && window.__grekko.chart;
    if (chart && chart.candleCount() > 0) {
      requestAnimationFrame(() => { window.__bench.firstCandlesMs = performance.now(); });
      return;
    }
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})();
"""
# a function, not an expression string: Playwright would eval a string, which the CSP forbids
FIRST_CANDLES_DRAWN = "() => window.__bench.firstCandlesMs !== null"
PAINT_TIMES = """() => {
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    fcp_ms: fcp ? fcp.startTime : null,
    first_candles_ms: window.__bench.firstCandlesMs,
    dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
    candles_shown: window.__grekko.chart.candleCount(),
  };
}"""
LOAD_CANDLES = """async (n) => {
  let seed = 42;
  const random = () => {  // mulberry32: the same candles on every run
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const candles = [];
  let time = Math.floor(Date.now() / 60000) * 60 - n * 60;
  let close = 30000;
  for (let i = 0; i < n; i += 1, time += 60) {
    const open = close;
    close = Math.max(1, open * (1 + (random() - 0.5) * 0.004));
    const high = Math.max(open, close) * (1 + random() * 0.001);
    const low = Math.min(open, close) * (1 - random() * 0.001);
    candles.push({ time, open, high, low, close, volume: 1 + random() * 10 });
  }
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  const chart = window.__grekko.chart;
  const start = performance.now();
  const hookMs = chart.setCandles(candles);
  const callMs = performance.now() - start;
  await frame();
  const drawnMs = performance.now() - start;
  return { hook_ms: hookMs, call_ms: callMs, drawn_ms: drawnMs, count: chart.candleCount() };
}"""
STREAM_UPDATES = """async ({ seconds, rate }) => {
  const chart = window.__grekko.chart;
  // from the chart's last candle, moved to the present minute if older: the replay's own bars
  // (of 2021) then fall behind and are ignored, so every pushed update is drawn
  let last = chart.lastCandle();
  const now = Math.floor(Date.now() / 60000) * 60;
  if (last.time < now) last = { ...last, time: now };
  const gaps = [];
  let frames = 0;
  let running = true;
  let previous = performance.now();
  const tick = (now) => {
    frames += 1;
    gaps.push(now - previous);
    previous = now;
    if (running) requestAnimationFrame(tick);
  };
  let updates = 0;
  const push = () => {
    updates += 1;
    if (updates % rate === 0) {  // a new minute every second, else the last candle moves
      last = { time: last.time + 60, open: last.close, high: last.close, low: last.close,
               close: last.close, volume: 0 };
    }
    const close = last.close * (1 + (Math.sin(updates) * 0.0005));
    last = { ...last, close, high: Math.max(last.high, close), low: Math.min(last.low, close),
             volume: last.volume + 0.1 };
    chart.pushUpdate(last);
  };
  const start = performance.now();
  requestAnimationFrame(tick);
  const timer = setInterval(push, 1000 / rate);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  running = false;
  clearInterval(timer);
  const elapsed = (performance.now() - start) / 1000;
  gaps.sort((a, b) => a - b);
  return {
    seconds: elapsed,
    frames,
    fps: frames / elapsed,
    updates,
    updates_per_s: updates / elapsed,
    frame_ms_p50: gaps[Math.floor(gaps.length * 0.5)],
    frame_ms_p95: gaps[Math.floor(gaps.length * 0.95)],
    frame_ms_max: gaps[gaps.length - 1],
    candles: chart.candleCount(),
  };
}"""


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`make up`'s platform (default settings) with a trader; logins are not rate limited."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")},
        "GREKKO_API__RATE_LIMIT_LOGIN": "10000/minute",
    }
    return launch_platform(data_dir, port, env, attempts=450)


def login(url: str) -> dict[str, str]:
    answer = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}
    )
    answer.raise_for_status()
    tokens = answer.json()
    return {k: tokens[k] for k in ("access_token", "refresh_token")}


def wait_for_candles(url: str) -> None:
    """Until the replay has made candles for the chart to show."""
    headers = {"Authorization": f"Bearer {login(url)['access_token']}"}
    for _ in range(300):
        answer = httpx.get(
            f"{url}/api/v1/candles", params={"instrument_id": INSTRUMENT}, headers=headers
        )
        if answer.status_code == 200 and len(answer.json()) >= 50:
            return
        time.sleep(0.2)
    raise RuntimeError("the replay made no candles")


def open_desk(browser: Any, url: str) -> tuple[Any, dict[str, Any]]:
    """A fresh context (cold cache) logged in as the trader; the desk's paint times."""
    context = browser.new_context(viewport=VIEWPORT)
    seed = SEED_SESSION % (json.dumps(TOKENS_KEY), json.dumps(json.dumps(login(url))))
    context.add_init_script(seed)
    context.add_init_script(WATCH_FIRST_CANDLES)
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_function(FIRST_CANDLES_DRAWN, timeout=30_000)
    return page, page.evaluate(PAINT_TIMES)


def bench_paint(browser: Any, url: str, runs: int) -> dict[str, Any]:
    cold: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    for _ in range(runs):
        page, times = open_desk(browser, url)
        cold.append(times)
        page.reload()
        page.wait_for_function(FIRST_CANDLES_DRAWN, timeout=30_000)
        warm.append(page.evaluate(PAINT_TIMES))
        page.context.close()
    return {"cold": cold, "warm": warm}


def bench_chart(browser: Any, url: str, candles: int, seconds: float, rate: int) -> dict[str, Any]:
    """Updates streamed into the desk's chart as it opened, then 100k candles loaded, then the
    same stream again on those."""
    page, _ = open_desk(browser, url)
    stream = {"seconds": seconds, "rate": rate}
    try:
        desk = page.evaluate(STREAM_UPDATES, stream)
        load = page.evaluate(LOAD_CANDLES, candles)
        loaded = page.evaluate(STREAM_UPDATES, stream)
        return {"stream_desk": desk, "load": load, "stream_loaded": loaded}
    finally:
        page.context.close()


def median(records: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(float(r[key]) for r in records), 1)


def summarize(paint: dict[str, Any], chart: dict[str, Any], candles: int) -> dict[str, Any]:
    load, desk, loaded = chart["load"], chart["stream_desk"], chart["stream_loaded"]
    return {
        "fcp_cold_ms": median(paint["cold"], "fcp_ms"),
        "first_candles_cold_ms": median(paint["cold"], "first_candles_ms"),
        "first_candles_cold_max_ms": round(max(r["first_candles_ms"] for r in paint["cold"]), 1),
        "fcp_warm_ms": median(paint["warm"], "fcp_ms"),
        "first_candles_warm_ms": median(paint["warm"], "first_candles_ms"),
        "candles": candles,
        "set_candles_hook_ms": round(float(load["hook_ms"]), 1),
        "set_candles_call_ms": round(float(load["call_ms"]), 1),
        "set_candles_drawn_ms": round(float(load["drawn_ms"]), 1),
        "desk_candles": int(desk["candles"]),
        "fps": round(float(desk["fps"]), 1),
        "updates_per_s": round(float(desk["updates_per_s"]), 1),
        "frame_ms_p95": round(float(desk["frame_ms_p95"]), 1),
        "frame_ms_max": round(float(desk["frame_ms_max"]), 1),
        "fps_loaded": round(float(loaded["fps"]), 1),
        "updates_per_s_loaded": round(float(loaded["updates_per_s"]), 1),
        "frame_ms_p95_loaded": round(float(loaded["frame_ms_p95"]), 1),
    }


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def report(s: dict[str, Any], runs: int, chromium: str) -> str:
    paint_ok = s["first_candles_cold_ms"] < TARGET_PAINT_MS
    load_ok = s["set_candles_drawn_ms"] < TARGET_LOAD_MS
    fps_ok = s["fps"] >= TARGET_FPS
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    return "\n".join(
        [
            f"Latest `make bench-ui` ({when} UTC, headless Chromium {chromium}, 1280x720, "
            "`grekko up` replaying on the same 2 cores):",
            "",
            "| measure | result | target | verdict |",
            "|---|---|---|---|",
            f"| first meaningful paint, cold cache (median of {runs}): first contentful paint / "
            f"chart candles drawn | {s['fcp_cold_ms']} ms / **{s['first_candles_cold_ms']} ms** "
            f"(max {s['first_candles_cold_max_ms']} ms) | < 1 s | {verdict(paint_ok)} |",
            f"| same on reload (warm cache) | {s['fcp_warm_ms']} ms / {s['first_candles_warm_ms']} ms "
            "| | |",
            f"| {s['candles']:,} candles: setCandles (hook) / call / until drawn | "
            f"{s['set_candles_hook_ms']} ms / {s['set_candles_call_ms']} ms / "
            f"**{s['set_candles_drawn_ms']} ms** | < 1 s | {verdict(load_ok)} |",
            f"| frames/s while 50 updates/s are pushed for 10 s into the desk's chart "
            f"({s['desk_candles']:,} candles) | **{s['fps']} fps** ({s['updates_per_s']} updates/s "
            f"applied), frame time p95 {s['frame_ms_p95']} ms, max {s['frame_ms_max']} ms "
            f"| ≥ 50 fps | {verdict(fps_ok)} |",
            f"| same after the {s['candles']:,} candles are loaded | {s['fps_loaded']} fps "
            f"({s['updates_per_s_loaded']} updates/s applied), frame time p95 "
            f"{s['frame_ms_p95_loaded']} ms | | |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--candles", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=50)
    args = parser.parse_args(argv)
    if not STATIC_INDEX.is_file():
        raise SystemExit(f"the UI is not built ({STATIC_INDEX} is missing): run `make install`")
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(Path(tmp), port)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_candles(url)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                try:
                    paint = bench_paint(browser, url, args.runs)
                    chart = bench_chart(browser, url, args.candles, args.seconds, args.rate)
                    chromium = browser.version
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(60)
    summary = summarize(paint, chart, args.candles)
    markdown = report(summary, args.runs, chromium)
    print(markdown)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "chromium": chromium,
        "chromium_args": CHROMIUM_ARGS,
        "summary": summary,
        "paint": paint,
        "chart": chart,
    }
    (RESULTS_DIR / "ui.json").write_text(json.dumps(payload, indent=2) + "\n")
    replace_in_readme(REPO / "README.md", MARKER, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
