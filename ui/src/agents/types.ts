// Payloads of /api/v1/agents (src/grekko/api/agent_schemas.py).

export interface AgentConfig {
  agent_id: string;
  agent_type: string;
  enabled: boolean;
  risk_budget_pct: string; // a fraction: "0.05" is 5 %
  max_risk_budget_pct: string;
  instruments: string[];
  strategies: string[]; // allowed
  running: string[];
  params: Record<string, string>;
}

export interface Agent {
  agent_id: string;
  agent_type: string;
  title: string;
  autonomy: string;
  weight: number;
  enabled: boolean;
  config: AgentConfig;
  hosted_strategies: string[];
  state: Record<string, unknown>;
}

export interface Performance {
  agent_id: string;
  fills: number;
  turnover: string;
  fees: string;
  realized_pnl: string;
  unrealized_pnl: string;
  net_pnl: string;
  hit_rate: number | null;
  positions: Record<string, string>;
}

export interface Vote {
  agent_id: string;
  approve: boolean;
  weight: number;
  reason: string;
  counted_as_no: boolean;
}

export interface Outcome {
  client_order_id: string;
  status: string;
  reason: string;
  filled_qty: string;
  avg_px: string | null;
}

export interface Leg {
  instrument_id: string;
  side: string;
  quantity: string;
  order_type: string;
  price: string | null;
}

export interface Proposal {
  proposal_id: string;
  proposer: string;
  proposal_type: string;
  instrument_id: string;
  quantity: string;
  order_type: string;
  price_target: string | null;
  timeframe: string;
  rationale: string;
  risk_assessment: string;
  strategy: string;
  required_share: string;
  legs: Leg[];
  submitted_at: string;
  status: string;
  votes: Vote[];
  decision: string | null;
  decision_reason: string;
  yes_weight: number;
  total_weight: number;
  approved_quantity: string | null;
  confirmed_by: string | null;
  declined: string | null;
  client_order_ids: string[];
  outcomes: Outcome[];
}

export interface Confirmation extends Proposal {
  seconds_left: number;
}

export interface AgentMessage {
  message_id: string;
  message_type: string;
  sender: string;
  recipient: string | null;
  time?: string;
  ts_ns: number;
  payload: Record<string, unknown>;
}

export interface Signal {
  name: string;
  value: number;
  direction: number;
  what: string;
  why_now: string;
  what_changes_it: string;
}

export interface Analysis {
  agent_id: string;
  instrument_id: string;
  price: number | null;
  score: number;
  stance: string;
  explanation: string;
  signals: Signal[];
}
