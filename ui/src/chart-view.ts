// The lightweight-charts view: candles, volume, indicators (incremental on live updates),
// RSI in its own pane, fill markers and keyboard zoom/pan.
import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  HistogramSeries,
  LineSeries,
  LineStyle,
  createChart,
  createSeriesMarkers,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type LineWidth,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { bollinger, ema, rsi, sma, type Point } from "./indicators";

export interface Candle {
  time: number; // UTC seconds, the bucket open
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export type IndicatorName = "sma" | "ema" | "bb" | "rsi";
export const PERIOD = 20;
const RSI_PERIOD = 14;
const BB_WIDTH = 2;
const UP = "#26a69a";
const DOWN = "#ef5350";
export const BACKGROUND = "#0e131a";

type Line = ISeriesApi<"Line">;

export class ChartView {
  readonly chart: IChartApi;
  candles: Candle[] = [];
  private readonly candleSeries: ISeriesApi<"Candlestick">;
  private readonly volumeSeries: ISeriesApi<"Histogram">;
  private readonly markerApi: ISeriesMarkersPluginApi<Time>;
  private lines = new Map<string, Line>();
  private enabled = new Set<IndicatorName>();
  private precision = 2;

  constructor(container: HTMLElement) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: BACKGROUND },
        textColor: "#9aa4b2",
        fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        fontSize: 11,
        attributionLogo: true, // the library's licence asks for the TradingView attribution
        panes: { separatorColor: "#243041", separatorHoverColor: "#2f3d52" },
      },
      grid: { vertLines: { color: "#161d27" }, horzLines: { color: "#161d27" } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: "#243041" },
      timeScale: {
        borderColor: "#243041",
        timeVisible: true,
        secondsVisible: false,
        rightOffset: 4,
      },
    });
    this.candleSeries = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    this.volumeSeries = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    this.candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.2 } });
    this.markerApi = createSeriesMarkers(this.candleSeries, []);
    container.addEventListener("keydown", (event) => this.onKey(event));
  }

  setPrecision(precision: number): void {
    this.precision = precision;
    const minMove = 10 ** -precision;
    this.candleSeries.applyOptions({ priceFormat: { type: "price", precision, minMove } });
    for (const [name, line] of this.lines) {
      if (name !== "rsi") line.applyOptions({ priceFormat: { type: "price", precision, minMove } });
    }
  }

  /** Replace all candles (sorted by time, unique) and recompute the indicators. */
  setCandles(candles: Candle[]): void {
    this.candles = candles;
    this.candleSeries.setData(candles.map(toBar));
    this.volumeSeries.setData(candles.map(toVolume));
    for (const name of this.enabled) this.fillIndicator(name);
  }

  /** Update the last candle (same time) or append a newer one; older candles are ignored. */
  upsert(candle: Candle): boolean {
    const last = this.candles[this.candles.length - 1];
    if (last && candle.time < last.time) return false;
    if (last && candle.time === last.time) this.candles[this.candles.length - 1] = candle;
    else this.candles.push(candle);
    this.candleSeries.update(toBar(candle));
    this.volumeSeries.update(toVolume(candle));
    for (const name of this.enabled) this.updateIndicator(name);
    return true;
  }

  setMarkers(markers: SeriesMarker<Time>[]): void {
    this.markerApi.setMarkers(markers);
  }

  markers(): readonly SeriesMarker<Time>[] {
    return this.markerApi.markers();
  }

  toggleIndicator(name: IndicatorName, on: boolean): void {
    if (on === this.enabled.has(name)) return;
    if (on) {
      this.enabled.add(name);
      this.createLines(name);
      this.fillIndicator(name);
    } else {
      this.enabled.delete(name);
      this.removeLines(name);
    }
  }

  crosshairCandle(handler: (candle: Candle | null) => void): void {
    this.chart.subscribeCrosshairMove((param) => {
      const bar = param.seriesData.get(this.candleSeries) as { open?: number } | undefined;
      if (!param.time || !bar || bar.open === undefined) return handler(null);
      const time = param.time as number;
      handler(this.candles.find((c) => c.time === time) ?? null);
    });
  }

  private createLines(name: IndicatorName): void {
    const line = (
      key: string,
      color: string,
      pane = 0,
      style = LineStyle.Solid,
      width: LineWidth = 1.5 as LineWidth,
    ) => {
      this.lines.set(
        key,
        this.chart.addSeries(
          LineSeries,
          {
            color,
            lineWidth: width,
            lineStyle: style,
            priceLineVisible: false,
            lastValueVisible: pane > 0,
            crosshairMarkerVisible: false,
            title: pane > 0 ? "RSI 14" : "",
            priceFormat:
              pane > 0
                ? { type: "price", precision: 1, minMove: 0.1 }
                : { type: "price", precision: this.precision, minMove: 10 ** -this.precision },
          },
          pane,
        ),
      );
    };
    if (name === "sma") line("sma", "#f0b90b");
    if (name === "ema") line("ema", "#c77dff");
    if (name === "bb") {
      line("bb.upper", "#4f8cff", 0, LineStyle.Solid, 1);
      line("bb.middle", "#4f8cff", 0, LineStyle.Dashed, 1);
      line("bb.lower", "#4f8cff", 0, LineStyle.Solid, 1);
    }
    if (name === "rsi") {
      line("rsi", "#e5c07b", 1);
      const series = this.lines.get("rsi")!;
      series.createPriceLine({
        price: 70,
        color: "#ef535080",
        lineStyle: LineStyle.Dashed,
        lineWidth: 1,
        axisLabelVisible: false,
        title: "",
      });
      series.createPriceLine({
        price: 30,
        color: "#26a69a80",
        lineStyle: LineStyle.Dashed,
        lineWidth: 1,
        axisLabelVisible: false,
        title: "",
      });
      this.chart.panes()[1]?.setStretchFactor(0.3);
    }
  }

  private removeLines(name: IndicatorName): void {
    for (const [key, series] of [...this.lines]) {
      if (key === name || key.startsWith(`${name}.`)) {
        this.chart.removeSeries(series);
        this.lines.delete(key);
      }
    }
    if (name === "rsi" && this.chart.panes().length > 1) this.chart.removePane(1);
  }

  private fillIndicator(name: IndicatorName): void {
    const set = (key: string, points: Point[]) => this.lines.get(key)?.setData(points.map(toLine));
    if (name === "sma") set("sma", sma(this.candles, PERIOD));
    if (name === "ema") set("ema", ema(this.candles, PERIOD));
    if (name === "rsi") set("rsi", rsi(this.candles, RSI_PERIOD));
    if (name === "bb") {
      const bands = bollinger(this.candles, PERIOD, BB_WIDTH);
      set("bb.upper", bands.upper);
      set("bb.middle", bands.middle);
      set("bb.lower", bands.lower);
    }
  }

  /** The last point from a tail of the candles: exact for SMA/BB, and for EMA/RSI the tail is
   * long enough (10 periods and more) that the seed no longer shows at chart precision. */
  private updateIndicator(name: IndicatorName): void {
    const tailOf = (n: number) => this.candles.slice(Math.max(0, this.candles.length - n));
    const put = (key: string, points: Point[]) => {
      const last = points[points.length - 1];
      if (last) this.lines.get(key)?.update(toLine(last));
    };
    if (name === "sma") put("sma", sma(tailOf(PERIOD), PERIOD));
    if (name === "ema") put("ema", ema(tailOf(PERIOD * 20), PERIOD));
    if (name === "rsi") put("rsi", rsi(tailOf(RSI_PERIOD * 20), RSI_PERIOD));
    if (name === "bb") {
      const bands = bollinger(tailOf(PERIOD), PERIOD, BB_WIDTH);
      put("bb.upper", bands.upper);
      put("bb.middle", bands.middle);
      put("bb.lower", bands.lower);
    }
  }

  private onKey(event: KeyboardEvent): void {
    const scale = this.chart.timeScale();
    const range = scale.getVisibleLogicalRange();
    if (!range) return;
    const width = range.to - range.from;
    const centre = (range.from + range.to) / 2;
    let next: { from: number; to: number } | null = null;
    if (event.key === "+" || event.key === "=")
      next = { from: centre - width * 0.4, to: centre + width * 0.4 };
    if (event.key === "-" || event.key === "_")
      next = { from: centre - width * 0.625, to: centre + width * 0.625 };
    if (event.key === "ArrowLeft")
      next = { from: range.from - width * 0.1, to: range.to - width * 0.1 };
    if (event.key === "ArrowRight")
      next = { from: range.from + width * 0.1, to: range.to + width * 0.1 };
    if (event.key === "End") {
      scale.scrollToRealTime();
      event.preventDefault();
      return;
    }
    if (!next || next.to - next.from < 5) return;
    event.preventDefault();
    scale.setVisibleLogicalRange(next);
  }
}

function toBar(c: Candle) {
  return { time: c.time as UTCTimestamp, open: c.open, high: c.high, low: c.low, close: c.close };
}

function toVolume(c: Candle) {
  return {
    time: c.time as UTCTimestamp,
    value: c.volume,
    color: c.close >= c.open ? "#26a69a55" : "#ef535055",
  };
}

function toLine(p: Point) {
  return { time: p.time as UTCTimestamp, value: p.value };
}
