// The agent panel: agent cards, Gordo's confirmations, recent proposals, Spot's explanations.
import "../panels.css";
import { ApiError, type AppContext, type EventFrame } from "../context";
import { coalesce, fill, h } from "../trading/dom";
import { createTabs } from "../trading/tabs";
import { createAgentCard, type AgentCard } from "./cards";
import { createConfirmations } from "./confirmations";
import { createProposals } from "./proposals";
import { createSpot } from "./spot";
import type { Agent, AgentMessage, Performance } from "./types";

const PERF_POLL_MS = 10_000;
const AGENTS_POLL_MS = 15_000;
const CONFIRM_POLL_MS = 5_000;

export interface AgentHooks {
  pendingCount(): number;
  proposalIds(): string[];
  pendingIds(): string[];
}

export function mountAgents(root: HTMLElement, ctx: AppContext): void {
  const isAdmin = ctx.user.role === "admin";
  const cards = new Map<string, AgentCard>();
  let agentIds: string[] = [];

  const cardList = h("div", { class: "ag-cards" }, h("p", { class: "ag-empty" }, "Loading agents…"));
  const enableAll = h("button", { type: "button", class: "gk-btn gk-btn-small" }, "Enable all agents");
  const agentsPane = h("div", { class: "ag-pane" }, cardList, isAdmin ? h("div", { class: "ag-toolbar" }, enableAll) : null);
  const confirmations = createConfirmations(ctx, () => soonAfterDecision());
  const proposals = createProposals(ctx);
  const spot = createSpot(ctx);
  const tabs = createTabs("Agents", [
    { key: "agents", label: "Agents", panel: agentsPane },
    { key: "confirm", label: "Confirm", panel: confirmations.root },
    { key: "proposals", label: "Proposals", panel: proposals.root },
    { key: "spot", label: "Spot", panel: spot.root },
  ]);
  const summary = h("span", { class: "ag-head-summary", "aria-live": "polite" });
  root.classList.add("ag-root");
  root.append(h("div", { class: "panel-head" }, h("h2", { class: "panel-title" }, "Agents"), summary), tabs.root);

  function showSummary(): void {
    const on = [...cards.values()].length ? agentIds.filter((id) => cards.get(id)?.root.classList.contains("ag-off") === false).length : 0;
    const pending = confirmations.pending().length;
    summary.textContent = `${on}/${agentIds.length} on${pending ? ` · ${pending} to confirm` : ""}`;
    summary.classList.toggle("ag-head-alert", pending > 0);
  }

  function notRunning(error: unknown): boolean {
    if (!(error instanceof ApiError) || error.problem.code !== "agents_not_running") return false;
    fill(cardList, h("p", { class: "ag-empty" }, error.problem.detail || "This server runs no agents."));
    return true;
  }

  async function loadAgents(): Promise<void> {
    try {
      const agents = await ctx.api.get<Agent[]>("/agents");
      agentIds = agents.map((a) => a.agent_id);
      for (const a of agents) {
        let card = cards.get(a.agent_id);
        if (!card) {
          card = createAgentCard(ctx, a.agent_id, () => void loadAgents());
          cards.set(a.agent_id, card);
        }
        card.show(a);
      }
      if (cardList.children.length !== agents.length || [...cardList.children].some((c, i) => c !== cards.get(agentIds[i])?.root)) {
        fill(cardList, ...agentIds.map((id) => cards.get(id)!.root));
      }
      showSummary();
      void loadPerformance();
    } catch (error) {
      if (!notRunning(error) && !cards.size) fill(cardList, h("p", { class: "ag-empty" }, "The agents cannot be loaded."));
    }
  }

  async function loadPerformance(): Promise<void> {
    await Promise.all(agentIds.map(async (id) => {
      try {
        cards.get(id)?.showPerformance(await ctx.api.get<Performance>(`/agents/${encodeURIComponent(id)}/performance`));
      } catch {
        /* the next poll retries */
      }
    })); // prettier-ignore
  }

  confirmations.onChange((count) => {
    tabs.setBadge("confirm", String(count), count > 0);
    showSummary();
  });

  const soonConfirmations = coalesce(() => void confirmations.load(), 100);
  const soonProposals = coalesce(() => void proposals.load(), 300);
  const soonPerformance = coalesce(() => void loadPerformance(), 1000);
  const soonAgents = coalesce(() => void loadAgents(), 2000);
  function soonAfterDecision(): void {
    soonProposals();
    soonPerformance();
  }

  function onAgentMessage(frame: EventFrame): void {
    const m = frame.data as AgentMessage;
    switch (m.message_type) {
      case "market_analysis":
        spot.onMessage(frame);
        break;
      case "coordination_request":
        soonConfirmations();
        soonProposals();
        break;
      case "trading_proposal":
        soonProposals();
        break;
      case "execution_result":
        soonConfirmations();
        soonProposals();
        soonPerformance();
        soonAgents();
        break;
    }
  }

  enableAll.addEventListener("click", async () => {
    enableAll.disabled = true;
    try {
      await ctx.api.post<Agent[]>("/agents/select", { agents: agentIds });
      ctx.notifier.notify("info", "All agents enabled");
    } catch (e) {
      ctx.notifier.notify("error", "Could not enable the agents", e instanceof ApiError ? e.problem.detail || e.problem.title : String(e));
    }
    enableAll.disabled = false;
    void loadAgents();
  });

  const loadAll = (): void => {
    void loadAgents();
    void confirmations.load();
    void proposals.load();
    void spot.load();
  };
  ctx.rt.subscribe("agents", onAgentMessage);
  ctx.rt.onReconnect(loadAll);
  window.setInterval(() => !document.hidden && void loadPerformance(), PERF_POLL_MS);
  window.setInterval(() => !document.hidden && void loadAgents(), AGENTS_POLL_MS);
  window.setInterval(() => !document.hidden && void confirmations.load(), CONFIRM_POLL_MS);

  const hooks: AgentHooks = {
    pendingCount: () => confirmations.pending().length,
    proposalIds: () => proposals.ids(),
    pendingIds: () => confirmations.pending().map((p) => p.proposal_id),
  };
  ctx.hooks.agents = hooks;
  loadAll();
}
