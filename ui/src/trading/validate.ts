// Client-side checks of the order ticket, before anything is sent.
import { isMultipleOf, isPlainDecimal, isPositive } from "./decimal";
import type { Instrument, OrderBody, OrderKind } from "./types";

export interface TicketValues {
  instrument_id: string;
  side: "buy" | "sell";
  type: OrderKind;
  quantity: string;
  price: string;
  trigger_price: string;
  time_in_force: "gtc" | "ioc" | "fok";
}

export type FieldName = "quantity" | "price" | "trigger_price" | "instrument_id";
export type FieldErrors = Partial<Record<FieldName, string>>;

export const NEEDS_PRICE: ReadonlySet<OrderKind> = new Set(["limit", "stop_limit"]);
export const NEEDS_TRIGGER: ReadonlySet<OrderKind> = new Set(["stop_market", "stop_limit"]);

function checkAmount(text: string, what: string, step: string | undefined, unit: string): string | undefined {
  if (text === "") return `Enter a ${what}.`;
  if (!isPlainDecimal(text)) return `The ${what} is a number like 0.25 (digits and one dot).`;
  if (!isPositive(text)) return `The ${what} must be greater than zero.`;
  if (step && !isMultipleOf(text, step)) return `The ${what} must be a multiple of ${step}${unit ? ` ${unit}` : ""}.`;
  return undefined;
}

/** The order body, or the errors per field. */
export function validateTicket(
  values: TicketValues,
  instrument: Instrument | undefined,
): { body: OrderBody; errors?: undefined } | { body?: undefined; errors: FieldErrors } {
  const errors: FieldErrors = {};
  if (!instrument) errors.instrument_id = "Choose an instrument.";
  const quantity = checkAmount(values.quantity, "quantity", instrument?.size_increment, instrument?.base ?? "");
  if (quantity) errors.quantity = quantity;
  if (NEEDS_PRICE.has(values.type)) {
    const price = checkAmount(values.price, "limit price", instrument?.price_increment, instrument?.quote ?? "");
    if (price) errors.price = price;
  }
  if (NEEDS_TRIGGER.has(values.type)) {
    const trigger = checkAmount(values.trigger_price, "trigger price", instrument?.price_increment, instrument?.quote ?? "");
    if (trigger) errors.trigger_price = trigger;
  }
  if (Object.keys(errors).length > 0) return { errors };
  const body: OrderBody = {
    instrument_id: values.instrument_id,
    side: values.side,
    type: values.type,
    quantity: values.quantity,
    time_in_force: values.time_in_force,
  };
  if (NEEDS_PRICE.has(values.type)) body.price = values.price;
  if (NEEDS_TRIGGER.has(values.type)) body.trigger_price = values.trigger_price;
  return { body };
}
