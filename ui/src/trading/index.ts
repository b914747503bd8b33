// The trading panel: ticket, risk and kill switch, portfolio and equity, positions, balances, open orders.
import "../panels.css";
import type { AppContext, EventFrame } from "../context";
import { coalesce, h } from "./dom";
import { createEquity } from "./equity";
import { fmtMoney, fmtPrice, fmtQty, fmtSource } from "./format";
import { createRisk } from "./risk";
import { createTables } from "./tables";
import { createTabs } from "./tabs";
import { createTicket } from "./ticket";
import type { Balance, Instrument, Order, Portfolio, Position, RiskState } from "./types";

const REFRESH_MS = 120; // events refresh the tables within 250 ms: coalesce window + one request
const POLL_MS = 5000; // marks move without events: positions and equity are polled too
const CURVE_POINTS = 600;
const FILL_GROUP_MS = 3000;

interface FillEvent {
  client_order_id?: string;
  side?: string;
  last_qty?: string;
  last_px?: string;
  instrument_id?: string;
  strategy_id?: string;
  fee?: string;
  fee_currency?: string;
}

export interface TradingHooks {
  positions(): Position[];
  openOrders(): Order[];
  lastTicketMessage(): string;
}

/** A loader whose answers are applied in order: a slow older answer never overwrites a newer one. */
function loader<T>(fetch: () => Promise<T>, apply: (value: T) => void): () => Promise<void> {
  let issued = 0;
  return async () => {
    const mine = ++issued;
    try {
      const value = await fetch();
      if (mine === issued) apply(value);
    } catch {
      /* a failed refresh keeps what is shown; the next event or poll retries */
    }
  };
}

export function mountTrading(root: HTMLElement, ctx: AppContext): void {
  let positions: Position[] = [];
  let openOrders: Order[] = [];
  let instruments: Instrument[] = [];

  const refreshAll = (): void => {
    void loadOrders();
    void loadPositions();
    void loadBalances();
    void loadPortfolio();
    void loadRisk();
  };
  const ticket = createTicket(ctx, () => refreshAll());
  const risk = createRisk(ctx, () => refreshAll());
  const equity = createEquity();
  const tables = createTables(ctx, () => {
    void loadOrders();
    void loadRisk();
  });

  const tabs = createTabs("Account", [
    { key: "positions", label: "Positions", panel: tables.positions },
    { key: "orders", label: "Open orders", panel: tables.orders },
    { key: "balances", label: "Balances", panel: tables.balances },
    { key: "equity", label: "Equity", panel: equity.root },
  ]);
  const updateBadges = (): void => {
    const c = tables.counts();
    tabs.setBadge("positions", String(c.positions));
    tabs.setBadge("orders", String(c.orders));
  };
  root.classList.add("tp-root");
  root.append(
    h("div", { class: "panel-head tp-head" }, h("h2", { class: "panel-title" }, "Trading"), equity.headline, h("span", { class: "tp-spacer" }), risk.root),
    h("div", { class: "tp-body" }, ticket.root, tabs.root),
  );

  const api = ctx.api;
  const loadOrders = loader(() => api.get<Order[]>("/orders", { status: "open", limit: 500 }), (o) => {
    openOrders = o;
    tables.renderOrders(o);
    updateBadges();
  });
  const loadPositions = loader(() => api.get<Position[]>("/positions"), (p) => {
    positions = p;
    tables.renderPositions(p);
    updateBadges();
  });
  const loadBalances = loader(() => api.get<Balance[]>("/balances"), (b) => tables.renderBalances(b));
  const loadPortfolio = loader(() => api.get<Portfolio>("/portfolio", { points: CURVE_POINTS }), (p) => equity.render(p));
  const loadRisk = loader(() => api.get<RiskState>("/risk/state"), (s) => risk.render(s));
  const loadInstruments = loader(() => api.get<Instrument[]>("/instruments"), (list) => {
    instruments = list;
    tables.setInstruments(list);
    ticket.setInstruments(list);
    refreshAll();
  });

  const soonOrders = coalesce(() => void loadOrders(), REFRESH_MS);
  const soonPositions = coalesce(() => void loadPositions(), REFRESH_MS);
  const soonBalances = coalesce(() => void loadBalances(), REFRESH_MS);
  const soonRisk = coalesce(() => void loadRisk(), REFRESH_MS);
  const soonPortfolio = coalesce(() => void loadPortfolio(), 1000);

  function describeFill(f: FillEvent): string {
    const inst = instruments.find((i) => i.instrument_id === f.instrument_id);
    return `${String(f.side ?? "").toUpperCase()} ${fmtQty(f.last_qty)} ${inst?.symbol ?? f.instrument_id ?? ""} @ ${fmtPrice(f.last_px, inst)}`;
  }

  // The user's own fills are told at once; the agents' and strategies' are grouped (fast replays fill often).
  let grouped: FillEvent[] = [];
  const flushFills = coalesce(() => {
    const fills = grouped;
    grouped = [];
    if (fills.length === 1) {
      const f = fills[0];
      ctx.notifier.notify("fill", `Filled: ${describeFill(f)}`, `${fmtSource(f.strategy_id ?? "")} · fee ${fmtMoney(f.fee, f.fee_currency)} ${f.fee_currency ?? ""}`);
    } else if (fills.length > 1) {
      const lines = fills.slice(0, 3).map((f) => `${describeFill(f)} (${fmtSource(f.strategy_id ?? "")})`);
      ctx.notifier.notify("fill", `${fills.length} fills`, lines.join("; ") + (fills.length > 3 ? "; …" : ""));
    }
  }, FILL_GROUP_MS);

  function notifyFill(frame: EventFrame): void {
    const f = frame.data as FillEvent;
    if (String(f.strategy_id ?? "").startsWith("manual:")) {
      ctx.notifier.notify("fill", `Filled: ${describeFill(f)}`, `your order ${f.client_order_id ?? ""} · fee ${fmtMoney(f.fee, f.fee_currency)} ${f.fee_currency ?? ""}`);
      return;
    }
    grouped.push(f);
    flushFills();
  }

  function onRisk(frame: EventFrame): void {
    const d = frame.data as { state?: string; reason?: string; breaker?: string };
    if (frame.type === "CircuitBreakerTripped") {
      ctx.notifier.notify("breaker", `Circuit breaker tripped: ${(d.breaker ?? "").replace(/_/g, " ")}`, d.reason ?? "");
    } else if (frame.type === "TradingStateChanged") {
      ctx.notifier.notify("risk", `Trading state: ${d.state ?? "?"}`, d.reason ?? "");
    }
    soonRisk();
    soonOrders();
  }

  ctx.rt.subscribe("orders", (frame) => {
    soonOrders();
    soonRisk();
    if (frame.type === "OrderFilled") {
      const d = frame.data as { client_order_id: string; last_qty: string; last_px: string };
      ticket.onFill(String(d.client_order_id), String(d.last_qty), String(d.last_px));
      notifyFill(frame);
      soonBalances();
      soonPortfolio();
    }
  });
  ctx.rt.subscribe("positions", () => {
    soonPositions();
    soonBalances();
    soonPortfolio();
  });
  ctx.rt.subscribe("risk", onRisk);
  ctx.rt.onReconnect(() => void loadInstruments());
  ctx.onInstrumentChange((id) => ticket.setInstrument(id));
  window.setInterval(() => {
    if (document.hidden) return;
    void loadPositions();
    void loadPortfolio();
  }, POLL_MS);

  const hooks: TradingHooks = {
    positions: () => positions,
    openOrders: () => openOrders,
    lastTicketMessage: () => ticket.lastMessage(),
  };
  ctx.hooks.trading = hooks;
  void loadInstruments();
}
