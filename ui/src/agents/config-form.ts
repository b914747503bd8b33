// An agent's configuration form: risk budget (with its hard cap), running strategies, parameters.
import { ApiError, type AppContext } from "../context";
import { isPlainDecimal, shift } from "../trading/decimal";
import { fill, h, uid } from "../trading/dom";
import type { Agent } from "./types";

const RUN_PARAM = "run";
const PARAM_KEY = /^[A-Za-z0-9_.]{1,64}$/;

export interface ConfigForm {
  root: HTMLElement;
  /** Show the server's configuration, unless the user is editing. */
  show(agent: Agent): void;
}

function paramsText(params: Record<string, string>): string {
  return Object.entries(params)
    .filter(([key]) => key !== RUN_PARAM)
    .map(([key, value]) => `${key}=${value}`)
    .join("\n");
}

function parseParams(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    const key = at < 0 ? "" : line.slice(0, at).trim();
    if (!PARAM_KEY.test(key)) return `Line ${n + 1}: write key=value; keys use letters, digits, "_" and ".".`;
    if (key === RUN_PARAM) return `Line ${n + 1}: choose running strategies with the checkboxes, not "run".`;
    out[key] = line.slice(at + 1).trim().slice(0, 200);
  }
  return out;
}

export function createConfigForm(ctx: AppContext, agentId: string, onChanged: () => void): ConfigForm {
  const isAdmin = ctx.user.role === "admin";
  let editing = false;
  let agent: Agent | null = null;
  const budgetId = uid("ag-budget");
  const paramsId = uid("ag-params");
  const budget = h("input", { id: budgetId, type: "text", inputmode: "decimal", autocomplete: "off", class: "ag-budget" });
  const cap = h("span", { class: "tk-hint" });
  const strategies = h("fieldset", { class: "ag-strategies" });
  const params = h("textarea", { id: paramsId, rows: 3, spellcheck: "false", class: "ag-params", placeholder: "key=value, one per line" });
  const error = h("p", { class: "gk-form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "gk-btn gk-btn-primary gk-btn-small" }, "Save");
  const only = h("button", { type: "button", class: "gk-btn gk-btn-small", title: "Enable this agent and disable the others" }, "Use only this agent");
  const fields = h("fieldset", { class: "ag-fields", disabled: !isAdmin },
    h("legend", { class: "sr-only" }, "Configuration"),
    h("div", { class: "ag-field" }, h("label", { for: budgetId }, "Risk budget per trade, % of equity", cap), budget),
    strategies,
    h("div", { class: "ag-field" }, h("label", { for: paramsId }, "Parameters"), params),
  ); // prettier-ignore
  const form = h("form", { class: "ag-form", novalidate: true }, fields, error,
    isAdmin ? h("div", { class: "ag-actions" }, only, save) : h("p", { class: "ag-quiet" }, "Read only: an admin configures the agents.")); // prettier-ignore

  function showStrategies(a: Agent): void {
    const allowed = a.config.strategies;
    fill(strategies, h("legend", {}, "Running strategies"));
    if (!allowed.length) {
      strategies.append(h("p", { class: "ag-quiet" }, "This agent runs no strategies."));
      return;
    }
    for (const name of allowed) {
      const id = uid("ag-strat");
      const box = h("input", { type: "checkbox", id, value: name, checked: a.config.running.includes(name) });
      strategies.append(h("span", { class: "ag-check" }, box, h("label", { for: id }, name.replace(/_/g, " "))));
    }
  }

  function problem(e: unknown): string {
    return e instanceof ApiError ? e.problem.detail || e.problem.title : String(e);
  }

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    if (!isAdmin || !agent) return;
    const pct = budget.value.trim();
    if (!isPlainDecimal(pct)) {
      error.textContent = "The risk budget is a percentage like 2 or 0.5.";
      budget.focus();
      return;
    }
    const parsed = parseParams(params.value);
    if (typeof parsed === "string") {
      error.textContent = parsed;
      params.focus();
      return;
    }
    const running = [...strategies.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value);
    if (running.length) parsed[RUN_PARAM] = running.join(",");
    save.disabled = true;
    error.textContent = "";
    try {
      const out = await ctx.api.put<Agent>(`/agents/${encodeURIComponent(agentId)}/config`, { risk_budget_pct: shift(pct, -2), params: parsed });
      editing = false;
      ctx.notifier.notify("info", `${out.title} configured`, `Budget ${shift(out.config.risk_budget_pct, 2)}%, running ${out.config.running.join(", ") || "nothing"}`);
      onChanged();
    } catch (e) {
      error.textContent = problem(e);
    } finally {
      save.disabled = false;
    }
  }

  async function selectOnly(): Promise<void> {
    only.disabled = true;
    try {
      await ctx.api.post<Agent[]>("/agents/select", { agents: [agentId] });
      ctx.notifier.notify("info", "Agents selected", `Only ${agent?.title ?? agentId} is enabled; the others are off.`);
      onChanged();
    } catch (e) {
      error.textContent = problem(e);
    } finally {
      only.disabled = false;
    }
  }

  form.addEventListener("input", () => (editing = true));
  form.addEventListener("change", () => (editing = true));
  form.addEventListener("submit", (e) => void submit(e));
  only.addEventListener("click", () => void selectOnly());

  return {
    root: form,
    show(a) {
      const first = agent === null;
      agent = a;
      cap.textContent = ` · hard cap ${shift(a.config.max_risk_budget_pct, 2)}%`;
      if (editing && !first) return;
      budget.value = shift(a.config.risk_budget_pct, 2) ?? "";
      params.value = paramsText(a.config.params);
      showStrategies(a);
      error.textContent = "";
    },
  };
}
