// Coinbase: an admin links the exchange with a CDP API key (kept only in the secrets store);
// traders see the accounts it holds.
import { ApiError, type AppContext } from "../context";
import { emptyRow, h, table, td, uid } from "../trading/dom";
import { describe } from "./metamask";

interface Account {
  currency: string;
  available: string;
  hold: string;
  type: string;
}

export interface CoinbaseSection {
  root: HTMLElement;
  refresh(state: { available: boolean; linked: boolean }): Promise<void>;
}

export function createCoinbase(ctx: AppContext): CoinbaseSection {
  const isAdmin = ctx.user.role === "admin";
  const status = h("p", { class: "wl-status", role: "status", "aria-live": "polite" });
  const accounts = table("Coinbase accounts", ["Asset", "Available", "On hold"], [1, 2]);
  const root = h("section", { class: "wl-section", "aria-label": "Coinbase" }, h("h3", { class: "wl-title" }, "Coinbase"), status);
  if (isAdmin) root.append(linkForm());
  else root.append(h("p", { class: "wl-note" }, "An admin links Coinbase with an API key."));
  root.append(accounts.root);

  function linkForm(): HTMLElement {
    const nameId = uid("cb-key");
    const secretId = uid("cb-secret");
    const name = h("input", { id: nameId, autocomplete: "off", spellcheck: "false", placeholder: "organizations/…/apiKeys/…" });
    const secret = h("textarea", { id: secretId, rows: 3, autocomplete: "off", spellcheck: "false", placeholder: "-----BEGIN EC PRIVATE KEY-----" });
    const submit = h("button", { type: "submit", class: "gk-btn gk-btn-primary" }, "Link Coinbase");
    const form = h("form", { class: "wl-form", "aria-label": "Link Coinbase" },
      h("label", { for: nameId }, "API key name"), name, h("label", { for: secretId }, "API private key"), secret, submit,
    ); // prettier-ignore
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { api_key_name: name.value.trim(), api_private_key: secret.value };
      secret.value = ""; // the key goes to the server's secrets store, never stays in the page
      submit.disabled = true;
      ctx.api
        .post<Account[]>("/coinbase/connect", body)
        .then((found) => {
          name.value = "";
          ctx.notifier.notify("info", "Coinbase linked", `${found.length} accounts`);
          show(found);
        })
        .catch((error: unknown) => {
          status.textContent = `Not linked: ${describe(error)}`;
        })
        .finally(() => (submit.disabled = false));
    });
    return form;
  }

  function show(found: Account[]): void {
    const held = found.filter((a) => Number(a.available) !== 0 || Number(a.hold) !== 0);
    status.textContent = `Linked: ${found.length} accounts.`;
    accounts.body.replaceChildren(
      ...(held.length ? held.map((a) => h("tr", {}, td(a.currency), td(a.available, "num"), td(a.hold, "num"))) : [emptyRow(3, "No balances.")]),
    );
  }

  async function refresh(state: { available: boolean; linked: boolean }): Promise<void> {
    if (!state.available) {
      status.textContent = "Coinbase is not available on this server.";
      root.querySelector("form")?.remove();
      accounts.root.hidden = true;
      return;
    }
    if (!state.linked) {
      status.textContent = "Coinbase is not linked.";
      accounts.body.replaceChildren(emptyRow(3, "—"));
      return;
    }
    if (ctx.user.role === "viewer") {
      status.textContent = "Traders and admins see the Coinbase accounts.";
      accounts.root.hidden = true;
      return;
    }
    try {
      show(await ctx.api.get<Account[]>("/coinbase/accounts"));
    } catch (error) {
      const code = error instanceof ApiError ? error.problem.code : "";
      status.textContent = code === "coinbase_not_linked" ? "Coinbase is not linked." : `Coinbase: ${describe(error)}`;
      accounts.body.replaceChildren(emptyRow(3, "—"));
    }
  }

  return { root, refresh };
}
