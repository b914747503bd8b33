// Client-side indicators over candle closes. Each returns one value per input point from the
// first index where the indicator is defined (earlier points are left out).

export interface Point {
  time: number;
  value: number;
}

interface Timed {
  time: number;
  close: number;
}

export function sma(candles: readonly Timed[], period: number): Point[] {
  const out: Point[] = [];
  let sum = 0;
  for (let i = 0; i < candles.length; i += 1) {
    sum += candles[i].close;
    if (i >= period) sum -= candles[i - period].close;
    if (i >= period - 1) out.push({ time: candles[i].time, value: sum / period });
  }
  return out;
}

/** EMA seeded with the SMA of the first `period` closes. */
export function ema(candles: readonly Timed[], period: number): Point[] {
  const out: Point[] = [];
  if (candles.length < period) return out;
  const k = 2 / (period + 1);
  let value = 0;
  for (let i = 0; i < period; i += 1) value += candles[i].close / period;
  out.push({ time: candles[period - 1].time, value });
  for (let i = period; i < candles.length; i += 1) {
    value = candles[i].close * k + value * (1 - k);
    out.push({ time: candles[i].time, value });
  }
  return out;
}

export interface Bands {
  upper: Point[];
  middle: Point[];
  lower: Point[];
}

/** Bollinger bands: SMA(period) plus/minus `width` population standard deviations. */
export function bollinger(candles: readonly Timed[], period: number, width: number): Bands {
  const bands: Bands = { upper: [], middle: [], lower: [] };
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < candles.length; i += 1) {
    const close = candles[i].close;
    sum += close;
    sumSq += close * close;
    if (i >= period) {
      const gone = candles[i - period].close;
      sum -= gone;
      sumSq -= gone * gone;
    }
    if (i < period - 1) continue;
    const mean = sum / period;
    const sd = Math.sqrt(Math.max(0, sumSq / period - mean * mean));
    const time = candles[i].time;
    bands.middle.push({ time, value: mean });
    bands.upper.push({ time, value: mean + width * sd });
    bands.lower.push({ time, value: mean - width * sd });
  }
  return bands;
}

/** Wilder's RSI. */
export function rsi(candles: readonly Timed[], period: number): Point[] {
  const out: Point[] = [];
  if (candles.length <= period) return out;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= period; i += 1) {
    const change = candles[i].close - candles[i - 1].close;
    gain += Math.max(change, 0);
    loss += Math.max(-change, 0);
  }
  gain /= period;
  loss /= period;
  out.push({ time: candles[period].time, value: rsiValue(gain, loss) });
  for (let i = period + 1; i < candles.length; i += 1) {
    const change = candles[i].close - candles[i - 1].close;
    gain = (gain * (period - 1) + Math.max(change, 0)) / period;
    loss = (loss * (period - 1) + Math.max(-change, 0)) / period;
    out.push({ time: candles[i].time, value: rsiValue(gain, loss) });
  }
  return out;
}

function rsiValue(gain: number, loss: number): number {
  if (loss === 0) return gain === 0 ? 50 : 100;
  return 100 - 100 / (1 + gain / loss);
}
