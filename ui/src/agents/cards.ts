// One card per agent: who it is, its switch, its performance and state, its configuration.
import { ApiError, type AppContext } from "../context";
import { shift } from "../trading/decimal";
import { fill, h } from "../trading/dom";
import { fmtMoney, pnlSpan } from "../trading/format";
import { createConfigForm, type ConfigForm } from "./config-form";
import type { Agent, Performance } from "./types";

export interface AgentCard {
  root: HTMLElement;
  show(agent: Agent): void;
  showPerformance(perf: Performance): void;
}

function stat(label: string): { root: HTMLElement; value: HTMLElement } {
  const value = h("span", { class: "ag-stat-value" }, "—");
  return { root: h("div", { class: "ag-stat" }, h("span", { class: "ag-stat-label" }, label), value), value };
}

function stateLine(a: Agent): string {
  const s = a.state;
  const parts: string[] = [];
  if (a.config.running.length) parts.push(`runs ${a.config.running.map((r) => r.replace(/_/g, " ")).join(", ")}`);
  if (typeof s.proposals_made === "number") parts.push(`${s.proposals_made} proposals`);
  if (typeof s.votes_cast === "number") parts.push(`${s.votes_cast} votes`);
  if (typeof s.veto === "number") parts.push(`veto below −${s.veto.toFixed(2)}`);
  const views = s.views as Record<string, string> | undefined;
  if (views) parts.push(Object.entries(views).map(([i, v]) => `${i.split("@")[0]} ${v}`).join(", "));
  return parts.join(" · ");
}

export function createAgentCard(ctx: AppContext, agentId: string, onChanged: () => void): AgentCard {
  const isAdmin = ctx.user.role === "admin";
  let agent: Agent | null = null;
  const title = h("h3", { class: "ag-title" });
  const meta = h("span", { class: "ag-meta" });
  const toggle = h("button", { type: "button", role: "switch", class: "ag-switch", "aria-checked": "false" }, h("span", { class: "ag-switch-knob", "aria-hidden": "true" }));
  const toggleText = h("span", { class: "ag-switch-text" });
  const autonomy = h("p", { class: "ag-autonomy" });
  const pnl = stat("Net PnL");
  const fills = stat("Fills");
  const hitRate = stat("Hit rate");
  const budget = stat("Budget");
  const stats = h("div", { class: "ag-stats" }, pnl.root, fills.root, hitRate.root, budget.root);
  const state = h("p", { class: "ag-state" });
  const paused = h("span", { class: "ag-chip ag-chip-warn", hidden: true }, "paused");
  const form: ConfigForm = createConfigForm(ctx, agentId, onChanged);
  const details = h("details", { class: "ag-config" }, h("summary", {}, isAdmin ? "Configure" : "Configuration"), form.root);
  const root = h("article", { class: "ag-card", "data-agent-id": agentId, "aria-label": agentId },
    h("div", { class: "ag-card-head" }, h("div", { class: "ag-name" }, title, meta, paused), h("div", { class: "ag-toggle" }, toggleText, toggle)),
    autonomy, stats, state, details,
  ); // prettier-ignore

  async function flip(): Promise<void> {
    if (!agent) return;
    toggle.disabled = true;
    try {
      const out = await ctx.api.post<Agent>(`/agents/${encodeURIComponent(agentId)}/enable`, { enabled: !agent.enabled });
      ctx.notifier.notify("info", `${out.title} ${out.enabled ? "enabled" : "disabled"}`);
      show(out);
      onChanged();
    } catch (e) {
      ctx.notifier.notify("error", `Could not switch ${agent.title}`, e instanceof ApiError ? e.problem.detail || e.problem.title : String(e));
    } finally {
      toggle.disabled = !isAdmin;
    }
  }

  function show(a: Agent): void {
    agent = a;
    title.textContent = a.title;
    meta.textContent = `${a.agent_type} · weight ${a.weight}`;
    root.setAttribute("aria-label", `${a.title} agent`);
    root.classList.toggle("ag-off", !a.enabled);
    toggle.setAttribute("aria-checked", String(a.enabled));
    toggle.setAttribute("aria-label", `${a.title} enabled`);
    toggle.disabled = !isAdmin;
    toggle.title = isAdmin ? "Enable or disable this agent" : "Only an admin can switch agents";
    toggleText.textContent = a.enabled ? "On" : "Off";
    autonomy.textContent = a.autonomy;
    paused.hidden = a.state.paused !== true;
    state.textContent = stateLine(a);
    budget.value.textContent = `${shift(a.config.risk_budget_pct, 2)}% / ${shift(a.config.max_risk_budget_pct, 2)}%`;
    budget.root.title = "Risk budget per trade / the hard cap of this agent type";
    form.show(a);
  }

  toggle.addEventListener("click", () => void flip());

  return {
    root,
    show,
    showPerformance(p) {
      fill(pnl.value, pnlSpan(p.net_pnl));
      pnl.root.title = `realized ${fmtMoney(p.realized_pnl)}, unrealized ${fmtMoney(p.unrealized_pnl)}, fees ${fmtMoney(p.fees)}`;
      fills.value.textContent = String(p.fills);
      hitRate.value.textContent = p.hit_rate === null ? "—" : `${(p.hit_rate * 100).toFixed(0)}%`;
    },
  };
}
