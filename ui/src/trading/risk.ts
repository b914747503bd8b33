// Trading state (GET /risk/state) and, for admins, the kill switch and resume.
import { ApiError, type AppContext } from "../context";
import { h, uid } from "./dom";
import { fmtPct } from "./format";
import { openModal } from "./modal";
import type { RiskState } from "./types";

export interface RiskView {
  root: HTMLElement;
  render(state: RiskState): void;
  state(): string;
}

const STATE_TEXT: Record<string, string> = {
  active: "Trading active",
  reducing: "Reducing only",
  halted: "Trading halted",
};

function problemText(error: unknown): string {
  return error instanceof ApiError ? error.problem.detail || error.problem.title : String(error);
}

function labelled(label: string, input: HTMLInputElement): HTMLElement {
  const id = uid("risk-in");
  input.id = id;
  return h("div", { class: "tk-row" }, h("label", { for: id }, label), input);
}

export function createRisk(ctx: AppContext, onChanged: () => void): RiskView {
  const isAdmin = ctx.user.role === "admin";
  let current = "";
  const badge = h("span", { class: "risk-badge", role: "status", "aria-live": "polite" }, "…");
  const facts = h("span", { class: "risk-facts" });
  const kill = h("button", { type: "button", class: "gk-btn risk-kill" }, "Kill switch");
  const resume = h("button", { type: "button", class: "gk-btn gk-btn-small", hidden: true }, "Resume");
  const root = h("div", { class: "risk-bar", role: "group", "aria-label": "Risk" },
    badge, facts, isAdmin ? resume : null, isAdmin ? kill : null); // prettier-ignore

  function confirmKill(): void {
    const reason = h("input", { type: "text", maxlength: 200, autocomplete: "off" });
    reason.value = `halted by ${ctx.user.username} from the web UI`;
    const word = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "HALT" });
    const error = h("p", { class: "gk-form-error", role: "alert" });
    const go = h("button", { type: "button", class: "gk-btn risk-kill", disabled: true }, "Halt trading");
    const cancel = h("button", { type: "button", class: "gk-btn" }, "Cancel");
    const body = h("div", {},
      h("p", {}, "Every open order is canceled and trading halts. New orders are denied until an admin resumes trading."),
      labelled("Reason (kept in the audit log)", reason), labelled("Type HALT to confirm", word), error,
    ); // prettier-ignore
    const ready = (): boolean => word.value.trim() === "HALT" && reason.value.trim().length > 0;
    const sync = (): void => void (go.disabled = !ready());
    word.addEventListener("input", sync);
    reason.addEventListener("input", sync);
    const modal = openModal("Engage the kill switch?", body, [cancel, go], true);
    word.focus();
    cancel.addEventListener("click", () => modal.close());
    const send = async (): Promise<void> => {
      if (!ready()) return;
      go.disabled = true;
      try {
        const out = await ctx.api.post<{ state: string; canceled: number }>("/risk/kill-switch", { reason: reason.value.trim() });
        modal.close();
        ctx.notifier.notify("risk", "Kill switch engaged", `Trading ${out.state}; ${out.canceled} open order(s) canceled.`);
        onChanged();
      } catch (e) {
        error.textContent = problemText(e);
        go.disabled = false;
      }
    };
    go.addEventListener("click", () => void send());
    word.addEventListener("keydown", (e) => {
      if (e.key === "Enter") void send();
    });
  }

  function confirmResume(): void {
    const reason = h("input", { type: "text", maxlength: 200, autocomplete: "off" });
    reason.value = `resumed by ${ctx.user.username} from the web UI`;
    const error = h("p", { class: "gk-form-error", role: "alert" });
    const go = h("button", { type: "button", class: "gk-btn gk-btn-primary" }, "Resume trading");
    const cancel = h("button", { type: "button", class: "gk-btn" }, "Cancel");
    const body = h("div", {}, h("p", {}, "Trading goes back to active: orders pass the risk engine again."),
      labelled("Reason (kept in the audit log)", reason), error); // prettier-ignore
    const modal = openModal("Resume trading?", body, [cancel, go]);
    cancel.addEventListener("click", () => modal.close());
    go.addEventListener("click", async () => {
      if (!reason.value.trim()) {
        error.textContent = "Give a reason.";
        return;
      }
      go.disabled = true;
      try {
        await ctx.api.post<RiskState>("/risk/state", { state: "active", reason: reason.value.trim() });
        modal.close();
        onChanged();
      } catch (e) {
        error.textContent = problemText(e);
        go.disabled = false;
      }
    });
  }

  kill.addEventListener("click", confirmKill);
  resume.addEventListener("click", confirmResume);

  return {
    root,
    state: () => current,
    render(s) {
      current = s.state;
      badge.textContent = STATE_TEXT[s.state] ?? s.state;
      badge.className = `risk-badge risk-${s.state}`;
      facts.textContent = `${s.denials} denial${s.denials === 1 ? "" : "s"} · DD ${fmtPct(s.drawdown)}`;
      facts.title = `${s.open_orders} open orders, ${s.denials} orders denied, drawdown ${fmtPct(s.drawdown, 3)}`;
      resume.hidden = !isAdmin || s.state === "active";
      kill.disabled = s.state === "halted";
    },
  };
}
