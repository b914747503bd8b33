// Gordo's trades waiting for the user: proposal, votes, a live countdown, Approve and Reject.
import { ApiError, type AppContext } from "../context";
import { fill, h } from "../trading/dom";
import { agentName, headline, labelled, symbolOf, tally, votesList } from "./proposal-view";
import type { Confirmation, Proposal } from "./types";

export interface Confirmations {
  root: HTMLElement;
  load(): Promise<void>;
  pending(): Confirmation[];
  onChange(handler: (count: number) => void): void;
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function problemText(error: unknown): string {
  return error instanceof ApiError ? error.problem.detail || error.problem.title : String(error);
}

export function createConfirmations(ctx: AppContext, onDecided: () => void): Confirmations {
  const canAct = ctx.user.role === "trader" || ctx.user.role === "admin";
  const list = h("div", { class: "ag-list" });
  const root = h("div", { class: "ag-pane" }, list);
  let items: Confirmation[] = [];
  let deadlines = new Map<string, number>();
  const seen = new Set<string>();
  let firstLoad = true;
  let loading = 0;
  const handlers: ((count: number) => void)[] = [];
  const timers = new Map<string, HTMLElement>();
  const open = new Set<string>(); // cards whose votes are expanded, kept across re-renders

  async function decide(p: Proposal, approve: boolean, buttons: HTMLButtonElement[], status: HTMLElement): Promise<void> {
    buttons.forEach((b) => (b.disabled = true));
    status.textContent = approve ? "Confirming…" : "Rejecting…";
    try {
      const path = `/agents/proposals/${encodeURIComponent(p.proposal_id)}/${approve ? "confirm" : "reject"}`;
      const out = await ctx.api.post<Proposal>(path, approve ? undefined : { reason: `rejected by ${ctx.user.username} in the web UI` });
      const what = `${p.proposal_type.toUpperCase()} ${p.approved_quantity ?? p.quantity} ${symbolOf(p.instrument_id)}`;
      ctx.notifier.notify("info", approve ? `Confirmed ${p.proposal_id}` : `Rejected ${p.proposal_id}`, `${what}: ${out.status.replace(/_/g, " ")}`);
    } catch (error) {
      status.textContent = problemText(error);
      buttons.forEach((b) => (b.disabled = false));
      return;
    }
    onDecided();
    await load();
  }

  function more(p: Confirmation): HTMLElement {
    const details = h("details", { class: "ag-more", open: open.has(p.proposal_id) },
      h("summary", {}, `Decision and votes (${p.votes.length})`), labelled("Decision:", p.decision_reason), votesList(p.votes)); // prettier-ignore
    details.addEventListener("toggle", () => (details.open ? open.add(p.proposal_id) : open.delete(p.proposal_id)));
    return details;
  }

  function card(p: Confirmation): HTMLElement {
    const timer = h("span", { class: "ag-timer", role: "timer", "aria-label": "Time left to decide" }, clock(p.seconds_left));
    timers.set(p.proposal_id, timer);
    const status = h("p", { class: "gk-form-error", role: "status", "aria-live": "polite" });
    const approve = h("button", { type: "button", class: "gk-btn gk-btn-approve", "aria-label": `Approve ${p.proposal_id}` }, "Approve");
    const reject = h("button", { type: "button", class: "gk-btn gk-btn-reject", "aria-label": `Reject ${p.proposal_id}` }, "Reject");
    approve.addEventListener("click", () => void decide(p, true, [approve, reject], status));
    reject.addEventListener("click", () => void decide(p, false, [approve, reject], status));
    return h("article", { class: "ag-confirm", "aria-label": `Proposal ${p.proposal_id} awaits confirmation`, "data-proposal-id": p.proposal_id },
      h("div", { class: "ag-confirm-head" }, headline(p), timer),
      h("div", { class: "ag-confirm-bar" },
        h("div", { class: "ag-meta" }, `${p.proposal_id} · ${agentName(p.proposer)} · ${p.strategy.replace(/_/g, " ")} · votes `, tally(p)),
        canAct ? h("div", { class: "ag-actions ag-actions-inline" }, reject, approve) : null),
      canAct ? null : h("p", { class: "ag-quiet" }, "Only a trader or an admin can decide."),
      status,
      labelled("Why:", p.rationale), labelled("Risk:", p.risk_assessment),
      more(p),
    ); // prettier-ignore
  }

  function render(): void {
    timers.clear();
    if (!items.length) {
      fill(list, h("p", { class: "ag-empty" }, "Nothing awaits your confirmation. Gordo's trades appear here, with the votes and a countdown."));
      return;
    }
    const focusedId = (document.activeElement?.closest("[data-proposal-id]") as HTMLElement | null)?.dataset.proposalId;
    fill(list, ...items.map(card));
    if (focusedId) list.querySelector<HTMLElement>(`[data-proposal-id="${CSS.escape(focusedId)}"] button`)?.focus();
  }

  function tick(): void {
    const now = Date.now();
    let expired = false;
    for (const [id, el] of timers) {
      const left = ((deadlines.get(id) ?? now) - now) / 1000;
      el.textContent = left > 0 ? clock(left) : "expired";
      el.classList.toggle("ag-timer-urgent", left < 15);
      if (left <= 0) expired = true;
    }
    if (expired) void load();
  }

  function announce(fresh: Confirmation[]): void {
    if (firstLoad) {
      if (fresh.length) ctx.notifier.notify("proposal", `${fresh.length} trade(s) await your confirmation`, "Agents panel, Confirm tab.");
      return;
    }
    if (fresh.length > 1) {
      ctx.notifier.notify("proposal", `${fresh.length} new trades await your confirmation`, fresh.map((p) => p.proposal_id).join(", "));
    } else if (fresh.length === 1) {
      const p = fresh[0];
      const what = `${p.proposal_type.toUpperCase()} ${p.approved_quantity ?? p.quantity} ${symbolOf(p.instrument_id)}`;
      ctx.notifier.notify("proposal", `${agentName(p.proposer)} asks you to confirm ${p.proposal_id}`, `${what}: ${clock(p.seconds_left)} left.`);
    }
  }

  async function load(): Promise<void> {
    const mine = ++loading;
    let answer: Confirmation[];
    try {
      answer = await ctx.api.get<Confirmation[]>("/agents/confirmations");
    } catch {
      return;
    }
    if (mine !== loading) return;
    const now = Date.now();
    deadlines = new Map(answer.map((p) => [p.proposal_id, now + p.seconds_left * 1000]));
    const fresh = answer.filter((p) => !seen.has(p.proposal_id));
    fresh.forEach((p) => seen.add(p.proposal_id));
    const changed = answer.map((p) => p.proposal_id + p.status).join() !== items.map((p) => p.proposal_id + p.status).join();
    items = answer;
    if (changed) render();
    tick();
    announce(fresh);
    firstLoad = false;
    handlers.forEach((handler) => handler(items.length));
  }

  window.setInterval(tick, 1000);
  render();
  return { root, load, pending: () => items, onChange: (handler) => void handlers.push(handler) };
}
