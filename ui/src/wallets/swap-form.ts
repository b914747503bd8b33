// A Uniswap swap signed by the trader's own MetaMask: the server quotes and builds it, MetaMask
// asks the trader to confirm each step, and the outcome comes back on the 'wallets' topic.
import type { AppContext, EventFrame } from "../context";
import { h, uid } from "../trading/dom";
import { trim } from "./balances";
import { describe } from "./metamask";

interface SwapAnswer {
  swap_id: string;
  sell: string;
  buy: string;
  amount_in: string;
  expected_out: string;
  min_out: string;
  route: string[];
  steps: string[];
}

interface SwapOutcome extends SwapAnswer {
  received?: string;
  block_number?: number;
  tx_hash?: string | null;
  reason?: string;
}

export interface SwapForm {
  root: HTMLElement;
  onFrame(frame: EventFrame): void;
  setTokens(tokens: string[]): void;
  setEnabled(enabled: boolean): void;
}

export function createSwapForm(ctx: AppContext, providerId: string): SwapForm {
  const sell = h("select", { "aria-label": "Sell" });
  const buy = h("select", { "aria-label": "Buy" });
  const amountId = uid("wl-amount");
  const amount = h("input", { id: amountId, inputmode: "decimal", autocomplete: "off", placeholder: "0.0", "aria-label": "Amount to sell" });
  const submit = h("button", { type: "submit", class: "gk-btn gk-btn-primary" }, "Swap with MetaMask");
  const result = h("p", { class: "wl-swap-result", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "wl-swap", "aria-label": "Swap with MetaMask" },
    h("div", { class: "wl-swap-row" }, sell, h("span", { "aria-hidden": "true" }, "→"), buy),
    h("div", { class: "wl-swap-row" }, amount, submit), result,
  ); // prettier-ignore
  let enabled = false;

  function setTokens(tokens: string[]): void {
    const all = ["ETH", ...tokens.filter((t) => t !== "ETH")];
    for (const [select, pick] of [[sell, "ETH"], [buy, all.find((t) => t === "USDC") ?? all[1]]] as const) {
      const keep = select.value;
      select.replaceChildren(...all.map((t) => h("option", { value: t }, t)));
      select.value = all.includes(keep) ? keep : (pick ?? "");
    }
  }

  async function swap(): Promise<void> {
    const text = amount.value.trim();
    if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) {
      result.textContent = "Enter the amount to sell, e.g. 0.5.";
      return;
    }
    if (sell.value === buy.value) {
      result.textContent = "Choose two different assets.";
      return;
    }
    submit.disabled = true;
    try {
      const made = await ctx.api.post<SwapAnswer>("/metamask/swap", { sell: sell.value, buy: buy.value, amount: text });
      const steps = made.steps.length > 1 ? ` in ${made.steps.length} steps (${made.steps.join(", ")})` : "";
      result.textContent = `Confirm in MetaMask${steps}: ${trim(made.amount_in)} ${made.sell} for about ${trim(made.expected_out)} ${made.buy} (at least ${trim(made.min_out)}).`;
      result.dataset.state = "pending";
    } catch (error) {
      result.textContent = `Swap refused: ${describe(error)}`;
      result.dataset.state = "failed";
    } finally {
      submit.disabled = !enabled;
    }
  }

  function onFrame(frame: EventFrame): void {
    if (frame.type !== "SwapNotice") return;
    const notice = frame.data as { provider_id: string; event: string; data: SwapOutcome };
    if (notice.provider_id !== providerId) return;
    const swapped = notice.data;
    if (notice.event === "completed") {
      result.textContent = `Swap confirmed in block ${swapped.block_number}: received ${swapped.received} ${swapped.buy}.`;
      result.dataset.state = "completed";
      ctx.notifier.notify("fill", "Swap confirmed", `${trim(swapped.amount_in)} ${swapped.sell} → ${trim(swapped.received ?? "0")} ${swapped.buy}`);
    } else {
      result.textContent = `Swap failed: ${swapped.reason ?? "unknown reason"}`;
      result.dataset.state = "failed";
      ctx.notifier.notify("error", "Swap failed", swapped.reason ?? "");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void swap();
  });
  return {
    root: form,
    onFrame,
    setTokens,
    setEnabled(on: boolean) {
      enabled = on;
      submit.disabled = !on;
      form.classList.toggle("wl-disabled", !on);
    },
  };
}
