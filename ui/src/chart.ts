// The chart panel: toolbar (timeframes, indicators, legend), candles from REST, live bars from
// market.<symbol>, our fills as markers, and the chart's test hooks.
import {
  TIMEFRAMES,
  countInk,
  decimals,
  fillMarkers,
  fromCandleOut,
  fromFillOut,
  normalizeCandle,
  nsToSec,
  tfLabel,
  type CandleOut,
  type Fill,
  type FillOut,
} from "./chart-data";
import { ChartView, type Candle, type IndicatorName } from "./chart-view";
import type { AppContext, EventFrame } from "./context";
import { el, isPressed, panelHeader, toggleButton } from "./layout";

export interface InstrumentInfo {
  instrument_id: string;
  symbol: string;
  base: string;
  quote: string;
  price_increment: string;
}

const INDICATORS: Array<[IndicatorName, string, string]> = [
  ["sma", "SMA 20", "Simple moving average, 20"],
  ["ema", "EMA 20", "Exponential moving average, 20"],
  ["bb", "BB 20,2", "Bollinger bands, 20 periods, 2 deviations"],
  ["rsi", "RSI 14", "Relative strength index, 14"],
];
const CANDLE_LIMIT = 1000;
const FILL_LIMIT = 1000;
const PREFS_KEY = "grekko.chart";

export function mountChart(
  root: HTMLElement,
  ctx: AppContext,
  instruments: InstrumentInfo[],
): void {
  new ChartPanel(root, ctx, instruments);
}

class ChartPanel {
  private readonly view: ChartView;
  private readonly legend = el("div", { class: "chart-legend", "aria-live": "off" });
  private readonly quote = el("div", { class: "chart-quote" });
  private readonly status = el("div", { class: "chart-status", role: "status" });
  private timeframe = 60;
  private fills: Fill[] = [];
  private lastSourceOpen = -Infinity; // ts_open (s) of the newest source bar in the candles
  private loading = 0;
  private pending: Candle[] | null = null;
  private unsubscribeMarket: (() => void) | null = null;

  constructor(
    root: HTMLElement,
    private readonly ctx: AppContext,
    private readonly instruments: InstrumentInfo[],
  ) {
    const prefs = loadPrefs();
    this.timeframe = prefs.timeframe;
    const head = panelHeader(root, "Chart");
    head.append(this.quote, this.toolbar(prefs.indicators));
    const surface = el("div", {
      class: "chart-surface",
      tabindex: "0",
      role: "application",
      "aria-roledescription": "price chart",
      "aria-label":
        "Price chart. Plus and minus zoom, arrow keys pan, End jumps to the latest bar.",
    });
    const frame = el("div", { class: "chart-frame" }, surface, this.legend, this.status);
    root.append(frame);
    this.view = new ChartView(surface);
    for (const name of prefs.indicators) this.view.toggleIndicator(name, true);
    this.view.crosshairCandle((candle) => this.showLegend(candle));
    this.registerHooks();
    ctx.onInstrumentChange(() => this.switchInstrument());
    ctx.rt.subscribe("orders", (frame) => this.onOrderEvent(frame));
    ctx.rt.onReconnect(() => void this.reload());
    this.switchInstrument();
  }

  private toolbar(indicators: IndicatorName[]): HTMLElement {
    const frames = el("div", { class: "segmented", role: "group", "aria-label": "Timeframe" });
    for (const [label, seconds] of TIMEFRAMES) {
      const button = el(
        "button",
        {
          type: "button",
          class: "seg",
          "aria-pressed": String(seconds === this.timeframe),
          "aria-label": `Timeframe ${label}`,
        },
        label,
      );
      button.addEventListener("click", () => {
        frames
          .querySelectorAll("button")
          .forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        this.timeframe = seconds;
        this.savePrefs();
        void this.reload();
      });
      frames.append(button);
    }
    const chips = el("div", { class: "chips", role: "group", "aria-label": "Indicators" });
    for (const [name, text, label] of INDICATORS) {
      const chip = toggleButton(text, label, indicators.includes(name));
      chip.dataset.indicator = name;
      chip.addEventListener("click", () => {
        this.view.toggleIndicator(name, isPressed(chip));
        this.savePrefs();
      });
      chips.append(chip);
    }
    return el("div", { class: "chart-tools" }, frames, chips);
  }

  private switchInstrument(): void {
    this.unsubscribeMarket?.();
    const info = this.instrument();
    if (info) this.view.setPrecision(decimals(info.price_increment));
    const symbol = this.ctx.instrument().split("@")[0];
    this.unsubscribeMarket = this.ctx.rt.subscribe(`market.${symbol}`, (frame) =>
      this.onMarket(frame),
    );
    void this.reload();
  }

  private async reload(): Promise<void> {
    const token = ++this.loading;
    const instrumentId = this.ctx.instrument();
    const tf = this.timeframe;
    const label = tfLabel(tf);
    this.pending = [];
    this.status.textContent = "Loading…";
    try {
      const [candles, source, fills] = await Promise.all([
        this.ctx.api.get<CandleOut[]>("/candles", {
          instrument_id: instrumentId,
          timeframe: label,
          limit: CANDLE_LIMIT,
        }),
        tf === 60
          ? Promise.resolve([])
          : this.ctx.api
              .get<CandleOut[]>("/candles", {
                instrument_id: instrumentId,
                timeframe: "1m",
                limit: 1,
              })
              .catch(() => []),
        this.ctx.api.get<FillOut[]>("/fills", { limit: FILL_LIMIT }).catch(() => [] as FillOut[]),
      ]);
      if (token !== this.loading) return;
      const rows = candles.map(fromCandleOut);
      this.lastSourceOpen = source.length
        ? nsToSec(source[0].ts_open)
        : rows.length
          ? rows[rows.length - 1].time
          : -Infinity;
      this.view.setCandles(rows);
      this.fills = fills.map(fromFillOut);
      const early = this.pending ?? [];
      this.pending = null;
      for (const bar of early) this.applyBar(bar);
      this.renderMarkers();
      this.status.textContent = rows.length
        ? ""
        : "No candles yet for this instrument and timeframe";
      this.showLegend(null);
    } catch (error) {
      if (token !== this.loading) return;
      this.pending = null;
      this.status.textContent = `Cannot load candles: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  private onMarket(frame: EventFrame): void {
    if (frame.type !== "Bar" || frame.data?.instrument_id !== this.ctx.instrument()) return;
    const d = frame.data as {
      ts_open: number;
      ts_event: number;
      open: number;
      high: number;
      low: number;
      close: number;
      volume: number;
    };
    const bar: Candle = {
      time: nsToSec(d.ts_open),
      open: d.open,
      high: d.high,
      low: d.low,
      close: d.close,
      volume: d.volume,
    };
    if (this.pending) this.pending.push(bar);
    else this.applyBar(bar);
  }

  /** A source bar (1m) into the current timeframe: replace/append, or merge into its bucket. */
  private applyBar(bar: Candle): void {
    if (this.timeframe === 60) {
      this.pushCandle(bar);
      return;
    }
    if (bar.time <= this.lastSourceOpen) return; // already in the loaded bucket
    this.lastSourceOpen = bar.time;
    const bucket = bar.time - (bar.time % this.timeframe);
    const last = this.view.candles[this.view.candles.length - 1];
    if (last && last.time === bucket) {
      this.pushCandle({
        time: bucket,
        open: last.open,
        close: bar.close,
        high: Math.max(last.high, bar.high),
        low: Math.min(last.low, bar.low),
        volume: last.volume + bar.volume,
      });
    } else {
      this.pushCandle({ ...bar, time: bucket });
    }
  }

  private pushCandle(candle: Candle): void {
    const wasEmpty = this.view.candles.length === 0;
    if (!this.view.upsert(candle)) return;
    if (wasEmpty) this.status.textContent = "";
    this.showLegend(null);
    if (this.fills.length && this.fills[this.fills.length - 1].timeSec >= candle.time)
      this.renderMarkers();
  }

  private onOrderEvent(frame: EventFrame): void {
    if (frame.type !== "OrderFilled") return;
    const d = frame.data as {
      instrument_id: string;
      side: string;
      last_qty: string;
      last_px: string;
      ts_event: number;
    };
    this.fills.push({
      instrument_id: d.instrument_id,
      side: String(d.side),
      quantity: String(d.last_qty),
      price: String(d.last_px),
      timeSec: nsToSec(d.ts_event),
    });
    if (d.instrument_id === this.ctx.instrument()) this.renderMarkers();
  }

  private renderMarkers(): void {
    this.view.setMarkers(
      fillMarkers(this.fills, this.ctx.instrument(), this.view.candles, this.timeframe),
    );
  }

  private showLegend(hovered: Candle | null): void {
    const candles = this.view.candles;
    const candle = hovered ?? candles[candles.length - 1];
    if (!candle) {
      this.legend.replaceChildren();
      this.quote.replaceChildren(el("span", { class: "quote-symbol" }, this.ctx.instrument()));
      return;
    }
    const p = decimals(this.instrument()?.price_increment ?? "0.01");
    const fmt = (n: number) =>
      n.toLocaleString("en-US", { minimumFractionDigits: p, maximumFractionDigits: p });
    const dir = candle.close >= candle.open ? "up" : "down";
    const time = new Date(candle.time * 1000).toISOString().slice(0, 16).replace("T", " ");
    this.legend.replaceChildren(
      el("span", {}, `${time} UTC`),
      el("span", {}, "O ", el("b", { class: dir }, fmt(candle.open))),
      el("span", {}, "H ", el("b", { class: dir }, fmt(candle.high))),
      el("span", {}, "L ", el("b", { class: dir }, fmt(candle.low))),
      el("span", {}, "C ", el("b", { class: dir }, fmt(candle.close))),
      el(
        "span",
        {},
        "V ",
        el("b", {}, candle.volume.toLocaleString("en-US", { maximumFractionDigits: 2 })),
      ),
    );
    if (hovered) return;
    const prev = candles[candles.length - 2];
    const change = prev ? ((candle.close - prev.close) / prev.close) * 100 : 0;
    const sign = change >= 0 ? "up" : "down";
    this.quote.replaceChildren(
      el("span", { class: "quote-symbol" }, this.ctx.instrument()),
      el("span", { class: `quote-last ${sign}` }, fmt(candle.close)),
      el(
        "span",
        { class: `quote-change ${sign}` },
        `${change >= 0 ? "+" : ""}${change.toFixed(2)}%`,
      ),
    );
  }

  private instrument(): InstrumentInfo | undefined {
    return this.instruments.find((i) => i.instrument_id === this.ctx.instrument());
  }

  private savePrefs(): void {
    const indicators = INDICATORS.map(([name]) => name).filter(
      (name) =>
        document
          .querySelector<HTMLButtonElement>(`[data-indicator="${name}"]`)
          ?.getAttribute("aria-pressed") === "true",
    );
    localStorage.setItem(PREFS_KEY, JSON.stringify({ timeframe: this.timeframe, indicators }));
  }

  private registerHooks(): void {
    const view = this.view;
    this.ctx.hooks.chart = {
      candleCount: () => view.candles.length,
      lastCandle: () => (view.candles.length ? { ...view.candles[view.candles.length - 1] } : null),
      setCandles: (rows: unknown[]) => {
        const byTime = new Map(rows.map(normalizeCandle).map((c) => [c.time, c]));
        const candles = [...byTime.values()].sort((a, b) => a.time - b.time);
        const started = performance.now();
        view.setCandles(candles);
        const ms = performance.now() - started;
        this.renderMarkers();
        this.showLegend(null);
        return ms;
      },
      pushUpdate: (row: unknown) => this.pushCandle(normalizeCandle(row)),
      markers: () => view.markers().map((m) => ({ ...m })),
      timeframe: () => tfLabel(this.timeframe),
      nonBlankPixels: () => countInk(view.chart.takeScreenshot()),
    };
  }
}

function loadPrefs(): { timeframe: number; indicators: IndicatorName[] } {
  try {
    const saved = JSON.parse(localStorage.getItem(PREFS_KEY) ?? "{}") as {
      timeframe?: number;
      indicators?: IndicatorName[];
    };
    const timeframe = TIMEFRAMES.some(([, s]) => s === saved.timeframe) ? saved.timeframe! : 60;
    const indicators = (saved.indicators ?? ["sma"]).filter((n) =>
      INDICATORS.some(([name]) => name === n),
    );
    return { timeframe, indicators };
  } catch {
    return { timeframe: 60, indicators: ["sma"] };
  }
}
