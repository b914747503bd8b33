// The app shell: login, the header, the three-panel desk, and the AppContext the panels share.
import "./styles.css";
import { HttpApiClient, TokenStore } from "./api";
import { mountAgents } from "./agents/index";
import { mountChart, type InstrumentInfo } from "./chart";
import { ApiError, type AppContext, type Role } from "./context";
import { buildDesk, el } from "./layout";
import { showLogin } from "./login";
import { mountNews } from "./news";
import { DomNotifier } from "./notify";
import { WsRealTime } from "./realtime";
import { mountTrading } from "./trading/index";
import { mountWallets } from "./wallets/index";

interface Me {
  username: string;
  role: Role;
  effective_role: Role;
}

const INSTRUMENT_KEY = "grekko.instrument";

declare global {
  interface Window {
    __grekko?: Record<string, unknown>;
  }
}

async function start(): Promise<void> {
  const root = document.getElementById("app")!;
  const api = new HttpApiClient(new TokenStore());
  const hooks: Record<string, unknown> = {};
  window.__grekko = hooks;
  let me: Me | null = null;
  while (!me) {
    if (!api.tokens.get()) await showLogin(root, api);
    me = await whoAmI(api, root);
  }
  api.onSessionEnd(() => location.reload());
  const instruments = await api
    .get<InstrumentInfo[]>("/instruments")
    .catch(() => [] as InstrumentInfo[]);
  openDesk(root, api, me, instruments, hooks);
}

/** The signed-in user; null when the session is gone. Waits out a server that is down. */
async function whoAmI(api: HttpApiClient, root: HTMLElement): Promise<Me | null> {
  for (;;) {
    try {
      return await api.get<Me>("/auth/me");
    } catch (error) {
      const status = error instanceof ApiError ? error.problem.status : 0;
      if (status === 401 || status === 403) {
        api.tokens.clear();
        return null;
      }
      root.replaceChildren(
        el("p", { class: "boot-wait", role: "status" }, "Waiting for the Grekko server…"),
      );
      await new Promise((resolve) => window.setTimeout(resolve, 1000));
    }
  }
}

function openDesk(
  root: HTMLElement,
  api: HttpApiClient,
  me: Me,
  instruments: InstrumentInfo[],
  hooks: Record<string, unknown>,
): void {
  const layout = buildDesk(root);
  const notifier = new DomNotifier(document.body);
  const rt = new WsRealTime({
    token: () => api.tokens.get()?.access_token ?? null,
    renew: () => api.refresh(),
    onSessionEnd: () => location.reload(),
  });
  const instrument = new InstrumentState(instruments);
  const ctx: AppContext = {
    api,
    rt,
    notifier,
    user: { username: me.username, role: me.effective_role ?? me.role },
    instrument: () => instrument.current,
    onInstrumentChange: (handler) => instrument.listen(handler),
    hooks,
  };
  buildHeader(layout.header, ctx, instruments, instrument, rt, notifier, async () => {
    rt.stop();
    await api.logout();
    location.reload();
  });
  hooks.app = {
    connected: () => rt.connected,
    eventLagMs: () => rt.lastLagMs,
    instrument: () => instrument.current,
    setInstrument: (id: string) => instrument.set(id),
    notify: (kind: Parameters<typeof notifier.notify>[0], title: string, body?: string) =>
      notifier.notify(kind, title, body),
    notifications: () => notifier.counts(),
  };
  const assets = [...new Set(instruments.map((i) => i.base))].sort();
  mountPanel("Chart", layout.chart, () => mountChart(layout.chart, ctx, instruments), notifier);
  mountPanel("Trading", layout.trading, () => mountTrading(layout.trading, ctx), notifier);
  mountPanel("News", layout.news, () => mountNews(layout.news, ctx, assets), notifier);
  mountPanel("Agents", layout.agents, () => mountAgents(layout.agents, ctx), notifier);
  mountWallets(ctx).then(
    ({ button, drawer }) => {
      layout.header.querySelector(".header-spacer")?.after(button);
      document.body.append(drawer);
    },
    (error: unknown) => notifier.notify("error", "Wallets failed", String(error)),
  );
  rt.start();
}

/** One panel failing to mount leaves the others working. */
function mountPanel(
  name: string,
  root: HTMLElement,
  mount: () => void,
  notifier: DomNotifier,
): void {
  try {
    mount();
  } catch (error) {
    console.error(`${name} panel failed`, error);
    root.append(
      el("p", { class: "panel-error", role: "alert" }, `The ${name} panel failed to load.`),
    );
    notifier.notify(
      "error",
      `${name} panel failed`,
      error instanceof Error ? error.message : String(error),
    );
  }
}

class InstrumentState {
  current: string;
  private handlers = new Set<(id: string) => void>();

  constructor(private readonly instruments: InstrumentInfo[]) {
    const saved = localStorage.getItem(INSTRUMENT_KEY);
    const known = instruments.some((i) => i.instrument_id === saved);
    this.current = known && saved ? saved : (instruments[0]?.instrument_id ?? "BTC/USDT@paper");
  }

  set(id: string): void {
    if (id === this.current || !this.instruments.some((i) => i.instrument_id === id)) return;
    this.current = id;
    localStorage.setItem(INSTRUMENT_KEY, id);
    for (const handler of [...this.handlers]) handler(id);
  }

  listen(handler: (id: string) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
}

function buildHeader(
  header: HTMLElement,
  ctx: AppContext,
  instruments: InstrumentInfo[],
  instrument: InstrumentState,
  rt: WsRealTime,
  notifier: DomNotifier,
  logout: () => void,
): void {
  const select = el("select", { id: "instrument-select", "aria-label": "Instrument" });
  for (const i of instruments)
    select.append(
      el(
        "option",
        { value: i.instrument_id },
        `${i.symbol} · ${i.instrument_id.split("@")[1] ?? ""}`,
      ),
    );
  select.value = instrument.current;
  select.addEventListener("change", () => instrument.set(select.value));
  instrument.listen((id) => (select.value = id));
  const dot = el("span", { class: "conn-dot", "aria-hidden": "true" });
  const connText = el("span", { class: "conn-text" });
  const conn = el(
    "div",
    { class: "conn", role: "status", "data-connected": "false" },
    dot,
    connText,
  );
  const showStatus = (connected: boolean) => {
    conn.dataset.connected = String(connected);
    connText.textContent = connected ? "Live" : "Reconnecting…";
    conn.title = connected
      ? "Real-time connection open"
      : "Real-time connection lost; reconnecting";
  };
  showStatus(rt.connected);
  rt.onStatus(showStatus);
  const name =
    ctx.user.username.length > 16
      ? `${ctx.user.username.slice(0, 8)}…${ctx.user.username.slice(-4)}`
      : ctx.user.username;
  const user = el(
    "div",
    { class: "user", title: ctx.user.username },
    el("span", { class: "user-name" }, name),
    el("span", { class: `role role-${ctx.user.role}` }, ctx.user.role),
  );
  const out = el("button", { type: "button", class: "text-button" }, "Log out");
  out.addEventListener("click", logout);
  header.append(
    el("div", { class: "brand" }, el("span", { class: "logo" }, "Grekko")),
    el("div", { class: "header-instrument" }, select),
    el("div", { class: "header-spacer" }),
    conn,
    notifier.bell,
    user,
    out,
  );
}

void start().catch((error) => {
  console.error(error);
  document
    .getElementById("app")!
    .replaceChildren(
      el("p", { class: "panel-error", role: "alert" }, `Grekko failed to start: ${String(error)}`),
    );
});
