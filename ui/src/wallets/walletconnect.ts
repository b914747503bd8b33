// WalletConnect: pair a phone wallet by QR code, follow the session, end it.
import { ApiError, type AppContext, type EventFrame } from "../context";
import { fill, h } from "../trading/dom";
import { shortAddress } from "./eip1193";
import { describe } from "./metamask";

const POLL_MS = 2000;

interface Created {
  uri: string;
  qr_svg: string;
  topic: string;
}

interface Status {
  state: "idle" | "proposed" | "established" | "rejected" | "expired" | "disconnected";
  reason?: string | null;
  peer?: Record<string, string> | null;
  accounts: string[];
  chain_id?: number | null;
  expiry?: number | null;
}

const STATE_TEXT: Record<Status["state"], string> = {
  idle: "No session.",
  proposed: "Scan the code with your wallet app…",
  established: "Connected",
  rejected: "The wallet declined the session.",
  expired: "The session expired.",
  disconnected: "Disconnected.",
};

export interface WalletConnectSection {
  root: HTMLElement;
  onFrame(frame: EventFrame): void;
  state(): string;
}

export function createWalletConnect(ctx: AppContext, chainEnabled: boolean): WalletConnectSection {
  const canPair = ctx.user.role !== "viewer" && chainEnabled;
  const status = h("p", { class: "wl-status", role: "status", "aria-live": "polite" });
  const pairing = h("div", { class: "wl-pairing" });
  const pair = h("button", { type: "button", class: "gk-btn gk-btn-primary", disabled: !canPair }, "Pair a wallet");
  const end = h("button", { type: "button", class: "gk-btn gk-btn-reject", hidden: true }, "Disconnect");
  const root = h("section", { class: "wl-section", "aria-label": "WalletConnect" },
    h("h3", { class: "wl-title" }, "WalletConnect"), status, pairing, h("div", { class: "wl-actions" }, pair, end),
  ); // prettier-ignore
  let current: Status = { state: "idle", accounts: [] };
  let timer: number | undefined;

  function show(): void {
    const s = current;
    root.dataset.state = s.state;
    let text = canPair ? STATE_TEXT[s.state] : chainEnabled ? "Viewers cannot pair a wallet." : "This server runs without a chain.";
    if (s.state === "established") {
      const peer = s.peer?.name ? ` to ${s.peer.name}` : "";
      text = `Connected${peer}: ${s.accounts.map(shortAddress).join(", ")} on chain ${s.chain_id ?? "?"}`;
      if (s.expiry) text += ` · expires ${new Date(s.expiry * 1000).toLocaleString()}`;
    } else if (s.reason && s.state !== "idle" && s.state !== "proposed") {
      text += ` (${s.reason})`;
    }
    status.textContent = text;
    if (s.state !== "proposed") fill(pairing);
    end.hidden = !(s.state === "established" || s.state === "proposed");
    pair.hidden = s.state === "established";
  }

  async function refresh(): Promise<void> {
    try {
      current = await ctx.api.get<Status>("/walletconnect/session/status");
    } catch (error) {
      if (error instanceof ApiError && error.problem.code === "no_wallets") current = { state: "idle", accounts: [] };
    }
    show();
    schedule();
  }

  function schedule(): void {
    window.clearTimeout(timer);
    if (current.state === "proposed") timer = window.setTimeout(() => void refresh(), POLL_MS);
  }

  async function create(): Promise<void> {
    pair.disabled = true;
    try {
      const made = await ctx.api.post<Created>("/walletconnect/session/create");
      const qr = h("img", { class: "wl-qr", alt: "WalletConnect pairing code", src: `data:image/svg+xml;base64,${btoa(made.qr_svg)}` });
      const uri = h("input", { class: "wl-uri", readonly: true, value: made.uri, "aria-label": "Pairing link" });
      const copy = h("button", { type: "button", class: "gk-btn gk-btn-small" }, "Copy link");
      copy.addEventListener("click", () => {
        void navigator.clipboard?.writeText(made.uri).then(() => (copy.textContent = "Copied"), () => uri.select());
      });
      current = { state: "proposed", accounts: [] };
      show();
      fill(pairing, qr, h("div", { class: "wl-uri-row" }, uri, copy));
      schedule();
    } catch (error) {
      ctx.notifier.notify("error", "WalletConnect pairing failed", describe(error));
    } finally {
      pair.disabled = !canPair;
    }
  }

  async function disconnect(): Promise<void> {
    try {
      current = await ctx.api.del<Status>("/walletconnect/session/disconnect");
    } catch (error) {
      ctx.notifier.notify("error", "WalletConnect did not disconnect", describe(error));
    }
    show();
  }

  pair.addEventListener("click", () => void create());
  end.addEventListener("click", () => void disconnect());
  if (canPair) void refresh();
  else show();
  return {
    root,
    onFrame(frame) {
      const pid = (frame.data as { provider_id?: string } | null)?.provider_id ?? "";
      if (pid.startsWith("walletconnect:")) void refresh();
    },
    state: () => current.state,
  };
}
