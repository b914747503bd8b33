// Balances per wallet: every wallet the platform holds (its own keystore, the traders' MetaMask
// and WalletConnect sessions), each account's ether and the tokens the DEX venue trades.
import { ApiError, type AppContext } from "../context";
import { emptyRow, h, table, td } from "../trading/dom";
import { shortAddress } from "./eip1193";

export interface WalletInfo {
  provider_id: string;
  name: string;
  connected: boolean;
  chain_id: number;
  accounts: string[];
  balances: Record<string, Record<string, string>>;
}

export interface BalancesSection {
  root: HTMLElement;
  refresh(): Promise<WalletInfo[]>;
  unavailable(why: string): void;
}

export function createBalances(ctx: AppContext): BalancesSection {
  const grid = table("Wallet balances", ["Wallet", "Account", "Asset", "Amount"], [3]);
  const note = h("p", { class: "wl-note", role: "status" });
  const root = h("section", { class: "wl-section", "aria-label": "Balances" }, h("h3", { class: "wl-title" }, "Balances"), note, grid.root);

  async function refresh(): Promise<WalletInfo[]> {
    try {
      const wallets = await ctx.api.get<WalletInfo[]>("/wallets");
      const rows: HTMLTableRowElement[] = [];
      for (const w of wallets) {
        for (const account of w.accounts) {
          const held = Object.entries(w.balances[account] ?? {}).filter(([, amount]) => Number(amount) !== 0);
          for (const [asset, amount] of held.length ? held : [["—", "0"]]) {
            const row = h("tr", { "data-wallet": w.provider_id, "data-asset": asset },
              td(w.name), td(h("span", { title: account }, shortAddress(account))), td(asset), td(trim(amount), "num"),
            ); // prettier-ignore
            rows.push(row);
          }
        }
      }
      grid.body.replaceChildren(...(rows.length ? rows : [emptyRow(4, "No wallet connected.")]));
      note.textContent = wallets.length ? `${wallets.length} wallet${wallets.length > 1 ? "s" : ""} on chain ${wallets[0].chain_id}` : "";
      return wallets;
    } catch (error) {
      unavailable(error instanceof ApiError && error.problem.code === "no_wallets" ? "This server runs without a chain: no wallets." : "The balances cannot be loaded.");
      return [];
    }
  }

  function unavailable(why: string): void {
    note.textContent = why;
    grid.body.replaceChildren(emptyRow(4, "—"));
  }

  return { root, refresh, unavailable };
}

/** Token amounts come with all their decimals; trailing zeros say nothing. */
export function trim(amount: string): string {
  return amount.includes(".") ? amount.replace(/0+$/, "").replace(/\.$/, "") : amount;
}
