// The contract between the app shell and the panels: every panel gets one AppContext and
// reaches the server only through it (REST with auth and RFC 9457 problems, the WebSocket).

export type Role = "viewer" | "trader" | "admin";

export interface Problem {
  status: number;
  code: string;
  title: string;
  detail: string;
}

/** Thrown by every ApiClient call that does not answer 2xx. */
export class ApiError extends Error {
  constructor(public readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
}

export interface ApiClient {
  /** path is relative to /api/v1, e.g. "/orders". Bodies and answers are JSON. */
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  put<T>(path: string, body?: unknown): Promise<T>;
  patch<T>(path: string, body?: unknown): Promise<T>;
  del<T>(path: string): Promise<T>;
}

/** One server event frame: {"op":"event","topic","type","data","seq","ts"}. */
export interface EventFrame {
  topic: string;
  type: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  seq: number;
  ts?: number;
}

export interface RealTime {
  /** Subscribe to a topic (market.<symbol>, orders, positions, risk, news, agents ...); the
   * subscription survives reconnects. Returns the unsubscribe function. */
  subscribe(topic: string, handler: (frame: EventFrame) => void): () => void;
  /** Called after every (re)connection, so panels can reload what they show. */
  onReconnect(handler: () => void): () => void;
  readonly connected: boolean;
}

export type NoticeKind = "fill" | "risk" | "breaker" | "proposal" | "error" | "info";

export interface Notifier {
  /** A toast plus an entry in the notification centre. */
  notify(kind: NoticeKind, title: string, body?: string): void;
}

export interface AppContext {
  api: ApiClient;
  rt: RealTime;
  notifier: Notifier;
  user: { username: string; role: Role };
  /** The instrument the desk looks at, e.g. "BTC/USDT@paper". */
  instrument(): string;
  onInstrumentChange(handler: (instrumentId: string) => void): () => void;
  /** Test and benchmark hooks live on window.__grekko; panels register theirs here. */
  hooks: Record<string, unknown>;
}
