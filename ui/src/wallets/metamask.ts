// MetaMask in the browser as a wallet of the platform: connect (SIWE), keep it on the platform's
// chain, and answer what the server asks of it (transactions, signatures) as they arrive.
import { ApiError, type AppContext, type EventFrame } from "../context";
import { siweMessage, toChecksumAddress, type SiweNonce } from "../login";
import { fill, h } from "../trading/dom";
import { chainIdOf, errorText, injectedWallet, shortAddress, switchToPlatformChain } from "./eip1193";

const CONNECT_STATEMENT = "Connect MetaMask to Grekko.";

interface Bridge {
  provider_id: string;
  connected: boolean;
  chain_id: number;
  accounts: string[];
}

interface PendingRequest {
  request_id: string;
  provider_id: string;
  method: string;
  params: unknown[];
}

export interface MetaMaskSection {
  root: HTMLElement;
  onFrame(frame: EventFrame): void;
  /** After a reconnect: answer whatever the server asked while the page was away. */
  resume(): void;
  connected(): boolean;
  account(): string | null;
}

export function createMetaMask(
  ctx: AppContext,
  providerId: string,
  platformChainId: () => number | null,
  known: { chain: { enabled: boolean }; metamask: { connected: boolean } },
): MetaMaskSection {
  const wallet = injectedWallet();
  const canConnect = ctx.user.role !== "viewer" && known.chain.enabled;
  const status = h("p", { class: "wl-status", role: "status", "aria-live": "polite" });
  const network = h("p", { class: "wl-network" });
  const connectButton = h("button", { type: "button", class: "gk-btn gk-btn-primary", disabled: !wallet || !canConnect }, "Connect MetaMask");
  const switchButton = h("button", { type: "button", class: "gk-btn", hidden: true }, "Switch network");
  const disconnectButton = h("button", { type: "button", class: "gk-btn gk-btn-reject", hidden: true }, "Disconnect");
  const root = h("section", { class: "wl-section", "aria-label": "MetaMask" },
    h("h3", { class: "wl-title" }, "MetaMask"), status, network, h("div", { class: "wl-actions" }, connectButton, switchButton, disconnectButton),
  ); // prettier-ignore
  let bridge: Bridge | null = null;
  let walletChain: number | null = null;
  const handled = new Set<string>();

  function show(): void {
    if (!wallet) {
      status.textContent = "No browser wallet found: install MetaMask to connect one.";
    } else if (!known.chain.enabled) {
      status.textContent = "This server runs without a chain.";
    } else if (!canConnect) {
      status.textContent = "Viewers cannot connect a wallet.";
    } else if (bridge?.connected) {
      status.textContent = `Connected: ${shortAddress(bridge.accounts[0] ?? "")}`;
      status.title = bridge.accounts[0] ?? "";
    } else {
      status.textContent = "Not connected.";
    }
    connectButton.textContent = bridge?.connected ? "Reconnect" : "Connect MetaMask";
    disconnectButton.hidden = !bridge?.connected;
    const want = platformChainId();
    const wrong = bridge?.connected && want !== null && walletChain !== null && walletChain !== want;
    switchButton.hidden = !wrong;
    fill(network, bridge?.connected && walletChain !== null ? `Network: chain ${walletChain}${wrong ? ` (the platform trades on chain ${want})` : ""}` : "");
    network.classList.toggle("wl-warn", Boolean(wrong));
  }

  async function connect(): Promise<void> {
    if (!wallet) return;
    connectButton.disabled = true;
    status.textContent = "Confirm in MetaMask…";
    try {
      const accounts = (await wallet.request({ method: "eth_requestAccounts" })) as string[];
      if (!accounts?.length) throw new Error("MetaMask shared no account");
      const address = toChecksumAddress(accounts[0]);
      walletChain = await switchToPlatformChain(wallet, ctx.api);
      const nonce = await ctx.api.get<SiweNonce>("/auth/siwe/nonce");
      const message = siweMessage(address, nonce, new Date(), CONNECT_STATEMENT);
      const hexMessage = `0x${Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, "0")).join("")}`;
      const signature = (await wallet.request({ method: "personal_sign", params: [hexMessage, address] })) as string;
      bridge = await ctx.api.post<Bridge>("/metamask/connect", { address, chain_id: walletChain, message, signature });
      ctx.notifier.notify("info", "MetaMask connected", address);
      resume();
    } catch (error) {
      ctx.notifier.notify("error", "MetaMask did not connect", describe(error));
    } finally {
      connectButton.disabled = !canConnect;
      show();
    }
  }

  async function switchNetwork(): Promise<void> {
    if (!wallet) return;
    try {
      walletChain = await switchToPlatformChain(wallet, ctx.api);
      bridge = await ctx.api.post<Bridge>("/metamask/network", { chain_id: walletChain });
    } catch (error) {
      ctx.notifier.notify("error", "The network did not switch", describe(error));
    }
    show();
  }

  /** MetaMask does what the server asked, and the server hears the outcome either way. */
  async function answer(request: PendingRequest): Promise<void> {
    if (!wallet || handled.has(request.request_id) || request.provider_id !== providerId) return;
    handled.add(request.request_id);
    const body: Record<string, string> = { request_id: request.request_id };
    try {
      const result = (await wallet.request({ method: request.method, params: request.params })) as string;
      body[request.method === "eth_sendTransaction" ? "tx_hash" : "signature"] = result;
    } catch (error) {
      body.error = errorText(error).slice(0, 500) || "refused";
    }
    try {
      await ctx.api.post("/metamask/transaction/sign", body);
    } catch (error) {
      ctx.notifier.notify("error", "The wallet's answer was not taken", describe(error));
    }
  }

  function resume(): void {
    if (!bridge?.connected) return;
    ctx.api.get<PendingRequest[]>("/metamask/requests").then((list) => list.forEach((r) => void answer(r)), () => undefined);
  }

  async function restore(): Promise<void> {
    if (!wallet || !canConnect || !known.metamask.connected) return show();
    try {
      const mine = (await ctx.api.get<Array<Bridge & { provider_id: string }>>("/wallets")).find((w) => w.provider_id === providerId);
      const granted = ((await wallet.request({ method: "eth_accounts" })) as string[]).map((a) => a.toLowerCase());
      if (mine?.connected && granted.includes((mine.accounts[0] ?? "").toLowerCase())) {
        bridge = mine;
        walletChain = await chainIdOf(wallet);
        resume();
      }
    } catch {
      /* no wallets on this server, or the wallet is locked: stays "not connected" */
    }
    show();
  }

  function onFrame(frame: EventFrame): void {
    const data = frame.data as { provider_id?: string } | null;
    if (!data || data.provider_id !== providerId) return;
    if (frame.type === "MetaMaskRequest") void answer(frame.data as PendingRequest);
    else if (frame.type === "WalletNotice" && (frame.data as { event?: string }).event === "disconnect") {
      bridge = null;
      show();
    }
  }

  wallet?.on?.("chainChanged", (hex) => {
    walletChain = Number.parseInt(String(hex), 16);
    if (bridge?.connected) ctx.api.post<Bridge>("/metamask/network", { chain_id: walletChain }).then((b) => (bridge = b), () => undefined).finally(show);
    else show();
  });
  wallet?.on?.("accountsChanged", (accounts) => {
    const now = (accounts as string[] | undefined)?.[0]?.toLowerCase();
    if (bridge?.connected && now !== bridge.accounts[0]?.toLowerCase()) {
      bridge = { ...bridge, connected: false };
      ctx.notifier.notify("info", "MetaMask account changed", "Reconnect to use the new account.");
      show();
    }
  });
  connectButton.addEventListener("click", () => void connect());
  disconnectButton.addEventListener("click", () => {
    ctx.api.post<Bridge>("/metamask/disconnect").then(
      (b) => (bridge = b),
      (error: unknown) => ctx.notifier.notify("error", "MetaMask did not disconnect", describe(error)),
    ).finally(show);
  });
  switchButton.addEventListener("click", () => void switchNetwork());
  void restore();
  return { root, onFrame, resume, connected: () => Boolean(bridge?.connected), account: () => bridge?.accounts[0] ?? null };
}

export function describe(error: unknown): string {
  return error instanceof ApiError ? error.problem.detail || error.problem.title : errorText(error);
}
