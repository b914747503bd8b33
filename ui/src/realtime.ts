// The /ws client: auth frame first, topic subscriptions that survive reconnects, backoff, watchdog.
import type { EventFrame, RealTime } from "./context";

const BACKOFF_START_MS = 250;
const BACKOFF_CAP_MS = 5000;
const SILENCE_LIMIT_MS = 35_000; // two missed server pings (15 s heartbeat) and a margin
const WATCHDOG_EVERY_MS = 5000;
const CLOSE_UNAUTHORIZED = 4401;

type Handler = (frame: EventFrame) => void;

export interface RealTimeOptions {
  /** The current access token (read at every connection). */
  token(): string | null;
  /** Renew the tokens after the server refused the token; false ends the session. */
  renew(): Promise<boolean>;
  onSessionEnd(): void;
  url?: string;
}

export class WsRealTime implements RealTime {
  private socket: WebSocket | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private reconnectHandlers = new Set<() => void>();
  private statusHandlers = new Set<(connected: boolean) => void>();
  private attempt = 0;
  private lastFrameAt = 0;
  private retryTimer: number | undefined;
  private watchdog: number | undefined;
  private stopped = false;
  private isConnected = false;
  /** Milliseconds from the server's publish (frame.ts) to this client's dispatch, last event. */
  lastLagMs: number | null = null;
  private readonly url: string;

  constructor(private readonly options: RealTimeOptions) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = options.url ?? `${scheme}//${location.host}/ws`;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  start(): void {
    this.stopped = false;
    this.open();
    this.watchdog = window.setInterval(() => this.checkSilence(), WATCHDOG_EVERY_MS);
  }

  stop(): void {
    this.stopped = true;
    window.clearInterval(this.watchdog);
    window.clearTimeout(this.retryTimer);
    this.socket?.close(1000, "logout");
    this.socket = null;
    this.setConnected(false);
  }

  subscribe(topic: string, handler: Handler): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
      if (this.isConnected) this.sendFrame({ op: "subscribe", topics: [topic] });
    }
    set.add(handler);
    return () => this.removeHandler(topic, handler);
  }

  onReconnect(handler: () => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  /** Not in the contract: the header's connection dot. */
  onStatus(handler: (connected: boolean) => void): () => void {
    this.statusHandlers.add(handler);
    return () => this.statusHandlers.delete(handler);
  }

  private removeHandler(topic: string, handler: Handler): void {
    const set = this.handlers.get(topic);
    if (!set || !set.delete(handler) || set.size > 0) return;
    this.handlers.delete(topic);
    if (this.isConnected) this.sendFrame({ op: "unsubscribe", topics: [topic] });
  }

  private open(): void {
    const token = this.options.token();
    if (!token) {
      this.options.onSessionEnd();
      return;
    }
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.lastFrameAt = Date.now();
    socket.onopen = () => socket.send(JSON.stringify({ op: "auth", token }));
    socket.onmessage = (message) => this.receive(socket, message);
    socket.onclose = (event) => this.closed(socket, event.code);
  }

  private receive(socket: WebSocket, message: MessageEvent): void {
    if (socket !== this.socket) return;
    this.lastFrameAt = Date.now();
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(String(message.data)) as Record<string, unknown>;
    } catch {
      return;
    }
    if (frame.op === "event") {
      if (typeof frame.ts === "number") this.lastLagMs = Date.now() - frame.ts / 1e6;
      this.dispatch(frame as unknown as EventFrame);
    } else if (frame.op === "auth" && frame.ok === true) this.authenticated();
    else if (frame.op === "error") console.warn("ws error frame", frame);
  }

  private dispatch(frame: EventFrame): void {
    const set = this.handlers.get(frame.topic);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(frame);
      } catch (error) {
        console.error(`handler of ${frame.topic} failed`, error);
      }
    }
  }

  private authenticated(): void {
    this.attempt = 0;
    const topics = [...this.handlers.keys()];
    if (topics.length > 0) this.sendFrame({ op: "subscribe", topics });
    this.setConnected(true);
    for (const handler of [...this.reconnectHandlers]) {
      try {
        handler();
      } catch (error) {
        console.error("reconnect handler failed", error);
      }
    }
  }

  private closed(socket: WebSocket, code: number): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.setConnected(false);
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHORIZED) {
      void this.options.renew().then((ok) => {
        if (ok) this.scheduleRetry();
        else this.options.onSessionEnd();
      });
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const base = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.open(), delay);
  }

  private checkSilence(): void {
    if (this.socket && Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
      const stale = this.socket;
      this.socket = null;
      stale.close();
      this.setConnected(false);
      this.scheduleRetry();
    }
  }

  private sendFrame(frame: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private setConnected(value: boolean): void {
    if (value === this.isConnected) return;
    this.isConnected = value;
    for (const handler of [...this.statusHandlers]) handler(value);
  }
}
