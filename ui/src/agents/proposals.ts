// The latest proposals of the desk: decision, status, weights; votes and reasons on expanding.
import type { AppContext } from "../context";
import { fill, h } from "../trading/dom";
import { fmtTime } from "../trading/format";
import { agentName, headline, labelled, outcomesList, tally, votesList } from "./proposal-view";
import type { Proposal } from "./types";

const LIMIT = 20;

export interface Proposals {
  root: HTMLElement;
  load(): Promise<void>;
  ids(): string[];
}

const STATUS_TONE: Record<string, string> = {
  executed: "pos", confirmed: "pos", approved: "pos",
  rejected: "neg", declined: "neg", not_executed: "neg", expired: "warn",
  awaiting_confirmation: "warn", voting: "accent",
}; // prettier-ignore

function chip(text: string | null, tone: string): HTMLElement | null {
  return text ? h("span", { class: `ag-chip ag-chip-${tone}` }, text.replace(/_/g, " ")) : null;
}

export function createProposals(ctx: AppContext): Proposals {
  const list = h("div", { class: "ag-list" });
  const root = h("div", { class: "ag-pane" }, list);
  const open = new Set<string>();
  let items: Proposal[] = [];
  let loading = 0;
  let loaded = false;

  function item(p: Proposal): HTMLElement {
    const details = h("details", { class: "ag-proposal", "data-proposal-id": p.proposal_id, open: open.has(p.proposal_id) },
      h("summary", {},
        h("span", { class: "ag-summary-top" }, headline(p), tally(p)),
        h("span", { class: "ag-summary-meta" },
          h("span", { class: "gk-muted" }, `${p.proposal_id} · ${agentName(p.proposer)} · ${fmtTime(p.submitted_at)}`),
          chip(p.decision, p.decision === "rejected" ? "neg" : "pos"), chip(p.status, STATUS_TONE[p.status] ?? "muted")),
      ),
      labelled("Why:", p.rationale), labelled("Decision:", p.decision_reason), labelled("Risk:", p.risk_assessment),
      p.confirmed_by ? labelled("Confirmed by:", agentName(p.confirmed_by)) : null,
      p.declined ? labelled("Declined:", p.declined) : null,
      votesList(p.votes), outcomesList(p),
    ); // prettier-ignore
    details.addEventListener("toggle", () => (details.open ? open.add(p.proposal_id) : open.delete(p.proposal_id)));
    return details;
  }

  function render(): void {
    if (!items.length) {
      fill(list, h("p", { class: "ag-empty" }, loaded ? "No proposals yet. The agents propose as the market moves." : "Loading proposals…"));
      return;
    }
    const focused = (document.activeElement?.closest("[data-proposal-id]") as HTMLElement | null)?.dataset.proposalId;
    const scroll = root.parentElement?.scrollTop ?? 0;
    fill(list, ...items.map(item));
    if (root.parentElement) root.parentElement.scrollTop = scroll;
    if (focused) list.querySelector<HTMLElement>(`[data-proposal-id="${CSS.escape(focused)}"] summary`)?.focus();
  }

  async function load(): Promise<void> {
    const mine = ++loading;
    try {
      const answer = await ctx.api.get<Proposal[]>("/agents/proposals", { limit: LIMIT });
      if (mine !== loading) return;
      const key = (ps: Proposal[]) => ps.map((p) => `${p.proposal_id}:${p.status}:${p.votes.length}:${p.outcomes.length}`).join();
      const changed = key(answer) !== key(items) || !loaded;
      items = answer;
      loaded = true;
      if (changed) render();
    } catch {
      /* keep what is shown */
    }
  }

  render();
  return { root, load, ids: () => items.map((p) => p.proposal_id) };
}
