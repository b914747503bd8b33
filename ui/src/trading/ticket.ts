// The order ticket for the desk's instrument: validated here, then POST /orders (idempotent).
import { ApiError, type AppContext, type EventFrame } from "../context";
import { coalesce, fill, h, newIdempotencyKey, uid } from "./dom";
import { fmtPrice, fmtQty, fmtType } from "./format";
import { amountField, segmented, selectField, type AmountField } from "./ticket-parts";
import type { Instrument, Order, OrderBody, OrderKind, Ticker } from "./types";
import { NEEDS_PRICE, NEEDS_TRIGGER, validateTicket, type FieldErrors, type TicketValues } from "./validate";

type Tone = "info" | "ok" | "denied" | "error";
type AmountName = "quantity" | "price" | "trigger_price";
const KINDS: OrderKind[] = ["market", "limit", "stop_market", "stop_limit"];
const TICKER_MS = 5000; // a fallback: live prices come from the market.<symbol> topic
const QUOTE_MS = 250;

export interface Ticket {
  root: HTMLElement;
  lastMessage(): string;
  /** A fill of the order the ticket last sent updates its message ("accepted" -> "filled"). */
  onFill(clientOrderId: string, quantity: string, price: string): void;
  setInstruments(list: Instrument[]): void;
  setInstrument(instrumentId: string): void;
}

export function createTicket(ctx: AppContext, onSubmitted: () => void): Ticket {
  const canTrade = ctx.user.role !== "viewer";
  let instruments: Instrument[] = [];
  let instrumentId = ctx.instrument();
  let lastText = "";
  let pending: { key: string; fingerprint: string } | null = null;
  let ticker: Ticker | null = null;
  let unsubscribeMarket: (() => void) | null = null;

  const messageId = uid("tk-msg");
  const side = segmented<"buy" | "sell">("Side", [["buy", "Buy"], ["sell", "Sell"]], "tk-side");
  const kind = segmented<OrderKind>("Order type", KINDS.map((k) => [k, fmtType(k)]), "tk-kind");
  const amounts: Record<AmountName, AmountField> = {
    quantity: amountField("Quantity", "quantity", messageId),
    price: amountField("Limit price", "price", messageId),
    trigger_price: amountField("Trigger", "trigger_price", messageId),
  };
  const tif = selectField("Time in force", [["gtc", "GTC"], ["ioc", "IOC"], ["fok", "FOK"]]);
  tif.select.title = "GTC: good till canceled · IOC: immediate or cancel · FOK: fill or kill";
  const quote = h("span", { class: "tk-quote" });
  const estimate = h("span", { class: "tk-estimate" });
  const submit = h("button", { type: "submit", class: "tk-submit" }, "Buy");
  const message = h("div", { class: "tk-message tk-info", id: messageId, role: "status", "aria-live": "polite" });
  const fields = h("fieldset", { class: "tk-fields", disabled: !canTrade },
    h("legend", { class: "sr-only" }, "New order"), side.set, kind.set,
    h("div", { class: "tk-grid" }, amounts.quantity.row, tif.row, amounts.price.row, amounts.trigger_price.row),
    h("div", { class: "tk-submit-row" }, h("div", { class: "tk-info-col" }, quote, estimate), submit),
  ); // prettier-ignore
  const form = h("form", { class: "tk-form", novalidate: true, "aria-label": "Order ticket" }, fields);
  const root = h("section", { class: "tk", "aria-label": "Order ticket" }, form, message);

  const current = (): Instrument | undefined => instruments.find((i) => i.instrument_id === instrumentId);

  function values(): TicketValues {
    return {
      instrument_id: instrumentId,
      side: side.value(),
      type: kind.value(),
      quantity: amounts.quantity.input.value.trim(),
      price: amounts.price.input.value.trim(),
      trigger_price: amounts.trigger_price.input.value.trim(),
      time_in_force: tif.select.value as TicketValues["time_in_force"],
    };
  }

  let lastSent: { id: string; text: string } | null = null;

  function say(tone: Tone, text: string, detail = "", detailClass = ""): void {
    lastText = detail ? `${text} ${detail}` : text;
    message.className = `tk-message tk-${tone}`;
    message.setAttribute("role", tone === "denied" || tone === "error" ? "alert" : "status");
    fill(message, h("strong", {}, text), detail ? h("span", { class: detailClass || undefined, title: detail }, ` ${detail}`) : null);
  }

  function markErrors(errors: FieldErrors): void {
    for (const name of Object.keys(amounts) as AmountName[]) {
      amounts[name].input.setAttribute("aria-invalid", errors[name] ? "true" : "false");
    }
  }

  function refreshShape(): void {
    const k = kind.value();
    const inst = current();
    const usePrice = NEEDS_PRICE.has(k);
    const useTrigger = NEEDS_TRIGGER.has(k);
    amounts.price.input.disabled = !usePrice;
    amounts.trigger_price.input.disabled = !useTrigger;
    amounts.price.input.placeholder = usePrice ? inst?.price_increment ?? "0.00" : "market";
    amounts.trigger_price.input.placeholder = useTrigger ? inst?.price_increment ?? "0.00" : "—";
    amounts.quantity.input.placeholder = inst?.size_increment ?? "0.00";
    amounts.quantity.hint.textContent = inst ? ` ${inst.base}` : "";
    amounts.price.hint.textContent = inst ? ` ${inst.quote}` : "";
    amounts.trigger_price.hint.textContent = inst ? ` ${inst.quote}` : "";
    submit.className = `tk-submit tk-submit-${side.value()}`;
    submit.textContent = `${side.value() === "buy" ? "Buy" : "Sell"} ${inst?.base ?? ""}`.trim();
    refreshEstimate();
  }

  // Display only: quantity x price as a Number, never sent anywhere.
  function refreshEstimate(): void {
    const v = values();
    const inst = current();
    const book = v.side === "buy" ? ticker?.ask : ticker?.bid;
    const px = NEEDS_PRICE.has(v.type) ? Number(v.price) : v.type === "stop_market" ? Number(v.trigger_price) : book ?? ticker?.last;
    const q = Number(v.quantity);
    const total = px && q ? px * q : NaN;
    estimate.textContent = inst && Number.isFinite(total)
      ? `≈ ${total.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${inst.quote}`
      : "≈ —"; // prettier-ignore
  }

  function renderQuote(): void {
    const inst = current();
    const px = (value: number | null | undefined): string => (value == null ? "—" : fmtPrice(String(value), inst));
    if (ticker?.bid != null && ticker.ask != null && ticker.bid !== ticker.ask) {
      fill(quote, h("span", { class: "gk-pos" }, px(ticker.bid)), " / ", h("span", { class: "gk-neg" }, px(ticker.ask)));
      quote.title = "Best bid / best ask";
    } else {
      fill(quote, h("small", {}, "Last "), px(ticker?.last));
      quote.title = "Last price";
    }
  }

  const soonQuote = coalesce(() => {
    renderQuote();
    refreshEstimate();
  }, QUOTE_MS);

  function onMarket(frame: EventFrame): void {
    const d = frame.data as { instrument_id?: string; close?: number; price?: number; bid?: number; ask?: number };
    if (d.instrument_id !== instrumentId) return;
    const t: Ticker = ticker ?? { instrument_id: instrumentId, last: null, bid: null, ask: null };
    if (frame.type === "Bar" && typeof d.close === "number") t.last = d.close;
    else if (frame.type === "TradeTick" && typeof d.price === "number") t.last = d.price;
    else if (frame.type === "QuoteTick" && typeof d.bid === "number") Object.assign(t, { bid: d.bid, ask: d.ask ?? null });
    else return;
    ticker = t;
    soonQuote();
  }

  function watchMarket(): void {
    unsubscribeMarket?.();
    unsubscribeMarket = ctx.rt.subscribe(`market.${instrumentId.split("@")[0]}`, onMarket);
  }

  async function loadTicker(): Promise<void> {
    const id = instrumentId;
    if (!id || document.hidden) return;
    try {
      const answer = await ctx.api.get<Ticker>("/ticker", { instrument_id: id });
      if (id === instrumentId) ticker = answer;
    } catch {
      if (id === instrumentId) ticker = null;
    }
    renderQuote();
    refreshEstimate();
  }

  function keyFor(body: OrderBody): string {
    const fingerprint = JSON.stringify(body);
    if (pending && pending.fingerprint === fingerprint) return pending.key; // a retry after a network error
    pending = { key: newIdempotencyKey(), fingerprint };
    return pending.key;
  }

  function describe(body: OrderBody): string {
    const inst = current();
    const at = body.price ? ` @ ${fmtPrice(body.price, inst)}` : "";
    const trigger = body.trigger_price ? `, trigger ${fmtPrice(body.trigger_price, inst)}` : "";
    const name = inst?.symbol ?? body.instrument_id;
    return `${body.side === "buy" ? "Buy" : "Sell"} ${fmtQty(body.quantity)} ${name} ${fmtType(body.type).toLowerCase()}${at}${trigger}`;
  }

  function onAnswer(body: OrderBody, order: Order): void {
    pending = null;
    if (order.status === "rejected" || order.status === "denied") {
      say("denied", "Rejected by the venue.", order.reason ?? describe(body));
      ctx.notifier.notify("risk", "Order rejected", `${describe(body)}: ${order.reason ?? ""}`);
      return;
    }
    const filled = order.status === "filled" ? ` at ${fmtPrice(order.avg_px, current())}` : "";
    lastSent = { id: order.client_order_id, text: describe(body) };
    say("ok", `${describe(body)}: ${order.status.replace(/_/g, " ")}${filled}.`, order.client_order_id, "tk-id");
  }

  function onError(body: OrderBody, error: unknown): void {
    const p = error instanceof ApiError ? error.problem : null;
    if (!p) {
      say("error", "The order could not be sent.", String(error));
    } else if (p.code === "order_denied") {
      pending = null;
      say("denied", "Denied by the risk engine:", p.detail || p.title);
      ctx.notifier.notify("risk", "Order denied by the risk engine", `${describe(body)}: ${p.detail || p.title}`);
    } else if (p.status === 0) {
      say("error", "The server cannot be reached.", "Submitting again reuses the same key: the order cannot be placed twice.");
    } else {
      pending = null;
      say("error", `${p.title || "The order was refused"}.`, p.detail);
    }
  }

  async function onSubmit(event: Event): Promise<void> {
    event.preventDefault();
    if (!canTrade || submit.disabled) return;
    const result = validateTicket(values(), current());
    if (result.errors) {
      markErrors(result.errors);
      const names = (["quantity", "price", "trigger_price"] as const).filter((n) => result.errors[n]);
      say("error", "Check the order:", names.map((n) => result.errors[n]).join(" ") || (result.errors.instrument_id ?? ""));
      if (names[0]) amounts[names[0]].input.focus();
      return;
    }
    markErrors({});
    submit.disabled = true;
    say("info", "Sending…", describe(result.body));
    try {
      const order = await ctx.api.post<Order>("/orders", result.body, { "Idempotency-Key": keyFor(result.body) });
      onAnswer(result.body, order);
    } catch (error) {
      onError(result.body, error);
    } finally {
      submit.disabled = false;
      onSubmitted();
    }
  }

  form.addEventListener("submit", (e) => void onSubmit(e));
  form.addEventListener("input", refreshEstimate);
  form.addEventListener("change", refreshShape);
  window.setInterval(() => void loadTicker(), TICKER_MS);
  if (canTrade) say("info", "Ready.", "Orders pass the risk engine, then go to the paper venue.");
  else say("info", "Read only:", "a viewer cannot place orders.");
  renderQuote();
  refreshShape();
  watchMarket();

  return {
    root,
    lastMessage: () => lastText,
    onFill(clientOrderId, quantity, price) {
      if (lastSent === null || lastSent.id !== clientOrderId) return;
      say("ok", `${lastSent.text}: filled ${fmtQty(quantity)} at ${fmtPrice(price, current())}.`, clientOrderId, "tk-id");
    },
    setInstruments(list) {
      instruments = list;
      refreshShape();
      void loadTicker();
    },
    setInstrument(id) {
      if (id === instrumentId) return;
      instrumentId = id;
      ticker = null;
      watchMarket();
      markErrors({});
      renderQuote();
      refreshShape();
      void loadTicker();
    },
  };
}
