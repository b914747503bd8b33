// The wallet drawer: balances per wallet, MetaMask (connect, network, swaps it signs),
// WalletConnect pairing, Coinbase. It stays mounted while closed, so MetaMask keeps answering
// the server's requests whatever the trader looks at.
import "../panels.css";
import "./wallets.css";
import type { AppContext, EventFrame } from "../context";
import { coalesce, h } from "../trading/dom";
import { createBalances } from "./balances";
import { createCoinbase } from "./coinbase";
import { createMetaMask } from "./metamask";
import { createSwapForm } from "./swap-form";
import { createWalletConnect } from "./walletconnect";

export interface Connections {
  chain: { enabled: boolean; chain_id: number | null };
  coinbase: { available: boolean; linked: boolean };
  metamask: { provider_id: string; connected: boolean };
}

interface Instrument {
  instrument_id: string;
  base: string;
  quote: string;
}

export interface WalletDrawer {
  button: HTMLButtonElement;
  drawer: HTMLElement;
}

export async function mountWallets(ctx: AppContext): Promise<WalletDrawer> {
  let known = await ctx.api.get<Connections>("/connections");
  const providerId = known.metamask.provider_id;
  const chainId = known.chain.chain_id;
  const balances = createBalances(ctx);
  const metamask = createMetaMask(ctx, providerId, () => chainId, known);
  const swap = createSwapForm(ctx, providerId);
  const walletconnect = createWalletConnect(ctx, known.chain.enabled);
  const coinbase = createCoinbase(ctx);
  metamask.root.append(swap.root);
  const close = h("button", { type: "button", class: "text-button", "aria-label": "Close wallets" }, "×");
  const drawer = h("aside", { class: "wl-drawer", "aria-label": "Wallets", hidden: true },
    h("div", { class: "wl-head" }, h("h2", { class: "panel-title" }, "Wallets"), close),
    h("div", { class: "wl-body" }, balances.root, metamask.root, walletconnect.root, coinbase.root),
  ); // prettier-ignore
  const button = h("button", { type: "button", class: "text-button", "aria-expanded": "false", "aria-controls": "wallet-drawer" }, "Wallets");
  drawer.id = "wallet-drawer";

  async function reload(): Promise<void> {
    known = await ctx.api.get<Connections>("/connections").catch(() => known);
    if (known.chain.enabled) await balances.refresh();
    else balances.unavailable("This server runs without a chain: no wallets.");
    swap.setEnabled(metamask.connected());
  }
  const soon = coalesce(() => void reload(), 400);

  function toggle(open: boolean): void {
    drawer.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) void reload().then(() => coinbase.refresh(known.coinbase));
  }

  button.addEventListener("click", () => toggle(drawer.hidden));
  close.addEventListener("click", () => toggle(false));
  drawer.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toggle(false);
  });
  ctx.rt.subscribe("wallets", (frame: EventFrame) => {
    metamask.onFrame(frame);
    swap.onFrame(frame);
    walletconnect.onFrame(frame);
    soon();
  });
  ctx.rt.onReconnect(() => {
    metamask.resume();
    soon();
  });
  ctx.api.get<Instrument[]>("/instruments").then((list) => {
    const dex = list.filter((i) => i.instrument_id.endsWith("@uniswap"));
    swap.setTokens([...new Set(dex.flatMap((i) => [i.base, i.quote]))].sort());
  }, () => swap.setTokens([]));
  swap.setEnabled(false);
  void reload();
  ctx.hooks.wallets = {
    metamaskConnected: () => metamask.connected(),
    walletConnectState: () => walletconnect.state(),
    open: () => toggle(true),
  };
  return { button, drawer };
}
