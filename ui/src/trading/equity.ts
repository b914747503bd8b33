// Portfolio summary and the equity curve (lightweight-charts baseline series).
import { BaselineSeries, ColorType, createChart, type IChartApi, type ISeriesApi, type UTCTimestamp } from "lightweight-charts";
import { fill, h } from "./dom";
import { fmtMoney, fmtPct, pnlSpan } from "./format";
import type { Portfolio } from "./types";

export interface EquityView {
  root: HTMLElement;
  /** Equity and PnL in one line, for the panel header. */
  headline: HTMLElement;
  render(portfolio: Portfolio): void;
  destroy(): void;
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function alpha(color: string, a: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function stat(label: string, value: Node | string): HTMLElement {
  return h("div", { class: "eq-stat" }, h("span", { class: "eq-label" }, label), h("span", { class: "eq-value" }, value));
}

export function createEquity(): EquityView {
  const summary = h("div", { class: "eq-summary", "aria-live": "off" });
  const chartBox = h("div", { class: "eq-chart", role: "img", "aria-label": "Equity curve" });
  const root = h("div", { class: "eq" }, summary, chartBox);
  const headline = h("div", { class: "eq-headline", "aria-label": "Portfolio" });
  let chart: IChartApi | null = null;
  let series: ISeriesApi<"Baseline"> | null = null;
  let lastKey = "";

  function ensureChart(): ISeriesApi<"Baseline"> {
    if (series) return series;
    const pos = cssVar("--pos", cssVar("--up", "#26a69a"));
    const neg = cssVar("--neg", cssVar("--down", "#ef5350"));
    chart = createChart(chartBox, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "transparent" }, textColor: cssVar("--muted", "#8794a6"), attributionLogo: false, fontSize: 11 },
      grid: { vertLines: { visible: false }, horzLines: { color: "rgba(139,148,158,0.12)" } },
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false },
      handleScroll: false,
      handleScale: false,
      crosshair: { horzLine: { labelVisible: true }, vertLine: { labelVisible: true } },
    });
    series = chart.addSeries(BaselineSeries, {
      topLineColor: pos, topFillColor1: alpha(pos, 0.28), topFillColor2: alpha(pos, 0.02),
      bottomLineColor: neg, bottomFillColor1: alpha(neg, 0.02), bottomFillColor2: alpha(neg, 0.28),
      lineWidth: 2, priceLineVisible: false, lastValueVisible: true,
    }); // prettier-ignore
    return series;
  }

  function renderSummary(p: Portfolio): void {
    const ccy = p.cash_currency;
    fill(headline,
      stat("Equity", h("strong", {}, `${fmtMoney(p.equity, ccy)} ${ccy}`)),
      stat("uPnL", pnlSpan(p.unrealized_pnl, ccy)),
      stat("rPnL", pnlSpan(p.realized_pnl, ccy)),
    ); // prettier-ignore
    fill(summary,
      stat("Equity", h("strong", {}, `${fmtMoney(p.equity, ccy)} ${ccy}`)),
      stat("Unrealized", pnlSpan(p.unrealized_pnl, ccy)),
      stat("Realized", pnlSpan(p.realized_pnl, ccy)),
      stat("Fees", fmtMoney(p.fees, ccy)),
      stat("Drawdown", h("span", { class: p.drawdown > 0 ? "gk-neg" : "gk-flat" }, fmtPct(p.drawdown))),
    ); // prettier-ignore
  }

  // Equity values become Numbers only to be drawn.
  function renderCurve(p: Portfolio): void {
    const curve = p.equity_curve;
    const key = `${curve.length}:${curve[curve.length - 1]?.time}:${curve[curve.length - 1]?.equity}`;
    if (key === lastKey) return;
    lastKey = key;
    const points: { time: UTCTimestamp; value: number }[] = [];
    for (const point of curve) {
      const time = Math.floor(Date.parse(point.time) / 1000) as UTCTimestamp;
      const value = Number(point.equity);
      if (!Number.isFinite(time) || !Number.isFinite(value)) continue;
      if (points.length && points[points.length - 1].time >= time) points.pop();
      points.push({ time, value });
    }
    const s = ensureChart();
    if (points.length) s.applyOptions({ baseValue: { type: "price", price: points[0].value } });
    s.setData(points);
    chart?.timeScale().fitContent();
    chartBox.setAttribute("aria-label", `Equity curve, ${points.length} points, now ${fmtMoney(p.equity, p.cash_currency)} ${p.cash_currency}`);
  }

  return {
    root,
    headline,
    render(p) {
      renderSummary(p);
      renderCurve(p);
    },
    destroy() {
      chart?.remove();
      chart = null;
      series = null;
    },
  };
}
