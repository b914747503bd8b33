// Open orders (with cancel), positions and balances tables.
import { ApiError, type AppContext } from "../context";
import { signOf } from "./decimal";
import { emptyRow, fill, h, table, td } from "./dom";
import { fmtMoney, fmtPrice, fmtQty, fmtSource, fmtStatus, fmtTime, fmtType, pnlSpan } from "./format";
import type { Balance, Instrument, Order, Position } from "./types";

export interface Tables {
  /** Counts for the tab badges. */
  counts(): { orders: number; positions: number };
  orders: HTMLElement;
  positions: HTMLElement;
  balances: HTMLElement;
  renderOrders(orders: Order[]): void;
  renderPositions(positions: Position[]): void;
  renderBalances(balances: Balance[]): void;
  setInstruments(list: Instrument[]): void;
}

function scroller(body: HTMLElement): HTMLElement {
  return h("div", { class: "gk-scroll" }, body);
}

function orderCell(o: Order): HTMLTableCellElement {
  return td(h("span", {}, h("span", { class: `gk-side gk-side-${o.side}` }, o.side.toUpperCase()), " ", h("span", { class: "gk-muted" }, fmtType(o.type).toLowerCase())));
}

/** The limit price, the trigger, or both ("49,000.00 · stop 50,000.00"). */
function priceCell(o: Order, inst: Instrument | undefined): HTMLTableCellElement {
  const parts: string[] = [];
  if (o.price !== null) parts.push(fmtPrice(o.price, inst));
  if (o.trigger_price !== null) parts.push(`stop ${fmtPrice(o.trigger_price, inst)}`);
  return td(parts.join(" · ") || "market", "num");
}

/** Keep keyboard focus on the same row's button across a re-render. */
function keepFocus(container: HTMLElement, render: () => void): void {
  const active = document.activeElement;
  const focusedId = active instanceof HTMLElement && container.contains(active) ? active.dataset.orderId : undefined;
  render();
  if (focusedId) container.querySelector<HTMLElement>(`[data-order-id="${CSS.escape(focusedId)}"]`)?.focus();
}

export function createTables(ctx: AppContext, onChanged: () => void): Tables {
  let instruments = new Map<string, Instrument>();
  const ordersTable = table("Open orders", ["Time", "Instrument", "Order", "Filled / qty", "Price", "Status", "Source", ""], [3, 4]);
  const positionsTable = table("Positions", ["Instrument", "Quantity", "Avg price", "Mark", "Unrealized PnL", "Realized PnL"], [1, 2, 3, 4, 5]);
  const balancesTable = table("Balances", ["Currency", "Total", "Free", "Reserved"], [1, 2, 3]);
  let counts = { orders: 0, positions: 0 };
  ordersTable.body.append(emptyRow(8, "Loading…"));
  positionsTable.body.append(emptyRow(6, "Loading…"));
  balancesTable.body.append(emptyRow(4, "Loading…"));

  const mayCancel = (o: Order): boolean =>
    ctx.user.role === "admin" || (ctx.user.role === "trader" && o.strategy_id === `manual:${ctx.user.username}`);

  async function cancel(order: Order, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    button.textContent = "Canceling…";
    try {
      await ctx.api.del<Order>(`/orders/${encodeURIComponent(order.client_order_id)}`);
      ctx.notifier.notify("info", "Order canceled", `${order.side} ${fmtQty(order.quantity)} ${order.instrument_id}`);
    } catch (error) {
      const detail = error instanceof ApiError ? error.problem.detail || error.problem.title : String(error);
      ctx.notifier.notify("error", "Cancel failed", detail);
      button.disabled = false;
      button.textContent = "Cancel";
    }
    onChanged();
  }

  function orderRow(o: Order): HTMLTableRowElement {
    const inst = instruments.get(o.instrument_id);
    const action = h("td", { class: "gk-action" });
    if (mayCancel(o)) {
      const button = h("button", { type: "button", class: "gk-btn gk-btn-small", "data-order-id": o.client_order_id,
        "aria-label": `Cancel ${o.side} ${fmtQty(o.quantity)} ${o.instrument_id} (${o.client_order_id})` }, "Cancel"); // prettier-ignore
      button.addEventListener("click", () => void cancel(o, button));
      action.append(button);
    }
    const source = o.strategy_id === `manual:${ctx.user.username}` ? "you" : fmtSource(o.strategy_id).split(" · ")[0];
    return h("tr", { title: `${o.client_order_id} · ${o.strategy_id} · ${o.time_in_force}` },
      td(fmtTime(o.updated_at).slice(6, 11)), td(inst?.symbol ?? o.instrument_id), orderCell(o),
      td(`${fmtQty(o.filled_qty)} / ${fmtQty(o.quantity)}`, "num"), priceCell(o, inst),
      td(fmtStatus(o.status)), td(source, "gk-muted"), action,
    ); // prettier-ignore
  }

  function positionRow(p: Position): HTMLTableRowElement {
    const inst = instruments.get(p.instrument_id);
    const quote = inst?.quote ?? "USDT";
    return h("tr", {},
      td(inst?.symbol ?? p.instrument_id), td(fmtQty(p.quantity), "num"), td(fmtPrice(p.avg_px, inst), "num"),
      td(fmtPrice(p.mark_price, inst), "num"), td(pnlSpan(p.unrealized_pnl, quote), "num"),
      td(pnlSpan(p.realized_pnl, quote), "num"),
    ); // prettier-ignore
  }

  function balanceRow(b: Balance): HTMLTableRowElement {
    return h("tr", {},
      td(b.currency), td(fmtMoney(b.total, b.currency), "num"), td(fmtMoney(b.free, b.currency), "num"),
      td(fmtMoney(b.reserved, b.currency), "num"),
    ); // prettier-ignore
  }

  const ordersBox = scroller(ordersTable.root);
  return {
    counts: () => counts,
    orders: ordersBox,
    positions: scroller(positionsTable.root),
    balances: scroller(balancesTable.root),
    renderOrders(orders) {
      counts = { ...counts, orders: orders.length };
      keepFocus(ordersBox, () =>
        fill(ordersTable.body, ...(orders.length ? orders.map(orderRow) : [emptyRow(8, "No open orders")])),
      );
    },
    renderPositions(positions) {
      const open = positions.filter((p) => signOf(p.quantity) !== 0 || signOf(p.realized_pnl) !== 0);
      counts = { ...counts, positions: positions.filter((p) => signOf(p.quantity) !== 0).length };
      fill(positionsTable.body, ...(open.length ? open.map(positionRow) : [emptyRow(6, "No positions")]));
    },
    renderBalances(balances) {
      fill(balancesTable.body, ...(balances.length ? balances.map(balanceRow) : [emptyRow(4, "No balances")]));
    },
    setInstruments(list) {
      instruments = new Map(list.map((i) => [i.instrument_id, i]));
    },
  };
}
