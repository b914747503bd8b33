// Chart data shapes and pure helpers: API rows to candles, fills to markers, pixels counted.
import type { SeriesMarker, Time, UTCTimestamp } from "lightweight-charts";
import { BACKGROUND, type Candle } from "./chart-view";

export interface CandleOut {
  ts_open: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface Fill {
  instrument_id: string;
  side: string;
  quantity: string;
  price: string;
  timeSec: number;
}

export const TIMEFRAMES: Array<[label: string, seconds: number]> = [
  ["1m", 60],
  ["5m", 300],
  ["15m", 900],
  ["1h", 3600],
  ["4h", 14400],
  ["1d", 86400],
];

export interface FillOut {
  instrument_id: string;
  side: string;
  quantity: string;
  price: string;
  time: string;
}

export function fromFillOut(f: FillOut): Fill {
  return {
    instrument_id: f.instrument_id,
    side: f.side,
    quantity: f.quantity,
    price: f.price,
    timeSec: Date.parse(f.time) / 1000,
  };
}

/** One marker per candle and side (a bucket can hold many fills); buys below, sells above. */
export function fillMarkers(
  fills: Fill[],
  instrumentId: string,
  candles: Candle[],
  tf: number,
): SeriesMarker<Time>[] {
  if (!candles.length) return [];
  const first = candles[0].time;
  const last = candles[candles.length - 1].time;
  const groups = new Map<string, { bucket: number; buy: boolean; count: number }>();
  for (const f of fills) {
    if (f.instrument_id !== instrumentId) continue;
    const bucket = Math.floor(f.timeSec / tf) * tf;
    if (bucket < first || bucket > last) continue;
    const buy = f.side.toLowerCase() === "buy";
    const key = `${bucket}:${buy}`;
    const group = groups.get(key) ?? { bucket, buy, count: 0 };
    group.count += 1;
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => a.bucket - b.bucket)
    .map(
      (g) =>
        ({
          id: `${g.buy ? "buy" : "sell"}:${g.bucket}:${g.count}`,
          time: g.bucket as UTCTimestamp,
          position: g.buy ? "belowBar" : "aboveBar",
          shape: g.buy ? "arrowUp" : "arrowDown",
          color: g.buy ? "#26a69a" : "#ef5350",
          size: 0.8,
        }) as SeriesMarker<Time>,
    );
}

export function fromCandleOut(c: CandleOut): Candle {
  return {
    time: nsToSec(c.ts_open),
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
  };
}

/** A candle from the shapes tests and benchmarks hand in: time in seconds or ISO text, or ts_open in ns. */
export function normalizeCandle(row: unknown): Candle {
  const r = row as Record<string, unknown>;
  let time: number;
  if (typeof r.ts_open === "number") time = nsToSec(r.ts_open);
  else if (typeof r.time === "string") time = Date.parse(r.time) / 1000;
  else time = Number(r.time);
  return {
    time: Math.floor(time),
    open: Number(r.open),
    high: Number(r.high),
    low: Number(r.low),
    close: Number(r.close),
    volume: Number(r.volume ?? 0),
  };
}

export function countInk(canvas: HTMLCanvasElement): number {
  const context = canvas.getContext("2d");
  if (!context || !canvas.width || !canvas.height) return 0;
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const bg = [
    parseInt(BACKGROUND.slice(1, 3), 16),
    parseInt(BACKGROUND.slice(3, 5), 16),
    parseInt(BACKGROUND.slice(5, 7), 16),
  ];
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (
      Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]) >
      24
    )
      ink += 1;
  }
  return ink;
}

export function nsToSec(ns: number): number {
  return Math.floor(ns / 1e9);
}

export function tfLabel(seconds: number): string {
  return TIMEFRAMES.find(([, s]) => s === seconds)?.[0] ?? "1m";
}

export function decimals(increment: string): number {
  const dot = increment.indexOf(".");
  return dot < 0 ? 0 : increment.replace(/0+$/, "").length - dot - 1;
}
