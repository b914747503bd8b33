// Payloads of /api/v1 trading, market and risk routes (src/grekko/api/schemas.py).

export interface Instrument {
  instrument_id: string;
  symbol: string;
  venue: string;
  base: string;
  quote: string;
  price_increment: string;
  size_increment: string;
  min_notional: string;
}

export type OrderKind = "market" | "limit" | "stop_market" | "stop_limit";

export interface OrderBody {
  instrument_id: string;
  side: "buy" | "sell";
  type: OrderKind;
  quantity: string;
  price?: string;
  trigger_price?: string;
  time_in_force: "gtc" | "ioc" | "fok";
}

export interface Order {
  client_order_id: string;
  strategy_id: string;
  instrument_id: string;
  side: string;
  type: string;
  quantity: string;
  price: string | null;
  trigger_price: string | null;
  time_in_force: string;
  status: string;
  filled_qty: string;
  avg_px: string;
  fees: string;
  reason: string | null;
  updated_at: string;
}

export interface Position {
  instrument_id: string;
  quantity: string;
  avg_px: string;
  mark_price: string | null;
  unrealized_pnl: string | null;
  realized_pnl: string;
}

export interface Balance {
  currency: string;
  total: string;
  free: string;
  reserved: string;
}

export interface Portfolio {
  cash_currency: string;
  equity: string;
  realized_pnl: string;
  unrealized_pnl: string;
  fees: string;
  drawdown: number;
  equity_curve: { time: string; equity: string }[];
}

export interface RiskState {
  state: "active" | "reducing" | "halted" | string;
  denials: number;
  open_orders: number;
  drawdown: number;
}

export interface Ticker {
  instrument_id: string;
  last: number | null;
  bid: number | null;
  ask: number | null;
}
