// Display formatting of API values (decimal strings in, text out).
import { decimalsOf, formatDecimal } from "./decimal";
import { h } from "./dom";
import type { Instrument } from "./types";

const FIAT_LIKE = new Set(["USD", "USDT", "USDC", "BUSD", "EUR", "GBP", "DAI"]);

export function fmtQty(text: string | null | undefined): string {
  return formatDecimal(text, { max: 8 });
}

export function fmtPrice(text: string | null | undefined, instrument?: Instrument): string {
  const digits = instrument ? decimalsOf(instrument.price_increment) : 2;
  return formatDecimal(text, { max: Math.max(digits, 2), min: Math.min(digits, 2) });
}

/** Money in a currency: 2 decimals for fiat and stablecoins, up to 8 for crypto. */
export function fmtMoney(text: string | null | undefined, currency = "USDT", signed = false): string {
  return FIAT_LIKE.has(currency.toUpperCase())
    ? formatDecimal(text, { max: 2, min: 2, signed })
    : formatDecimal(text, { max: 8, signed });
}

/** A span coloured by sign (green up, red down). */
export function pnlSpan(text: string | null | undefined, currency = "USDT"): HTMLSpanElement {
  const shown = fmtMoney(text, currency, true);
  const cls = shown.startsWith("+") ? "gk-pos" : shown.startsWith("−") ? "gk-neg" : "gk-flat";
  return h("span", { class: cls }, shown);
}

export function fmtPct(fraction: number, digits = 2): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** "2021-04-19T02:02:00.000000Z" -> "04-19 02:02:00" (UTC, the market clock). */
export function fmtTime(iso: string): string {
  const m = /^\d{4}-(\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

/** "O-agent:gekko:trend_following:BTC-USDT-5" strategy ids read better as their owner. */
export function fmtSource(strategyId: string): string {
  if (strategyId.startsWith("manual:")) return strategyId.slice(7);
  const agent = /^agent:([^:]+):([^:]+)/.exec(strategyId);
  if (agent) return `${agent[1]} · ${agent[2].replace(/_/g, " ")}`;
  return strategyId;
}

export function fmtType(type: string): string {
  return { market: "Market", limit: "Limit", stop_market: "Stop", stop_limit: "Stop limit" }[type] ?? type;
}

export function fmtStatus(status: string): string {
  return status.replace(/_/g, " ");
}
