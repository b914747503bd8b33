// ARIA tabs: arrow keys, Home and End move between tabs; panels stay mounted (no reloads).
import { h, uid } from "./dom";

export interface TabSpec {
  key: string;
  label: string;
  panel: HTMLElement;
}

export interface Tabs {
  root: HTMLElement;
  /** The small count shown after a tab's label ("" hides it, "0" is dimmed); `alert` highlights it. */
  setBadge(key: string, text: string, alert?: boolean): void;
  select(key: string): void;
  selected(): string;
}

export function createTabs(label: string, specs: TabSpec[], cls = ""): Tabs {
  const list = h("div", { class: "gk-tablist", role: "tablist", "aria-label": label });
  const panels = h("div", { class: "gk-tabpanels" });
  const buttons = new Map<string, HTMLButtonElement>();
  const badges = new Map<string, HTMLElement>();
  let current = specs[0]?.key ?? "";

  for (const spec of specs) {
    const tabId = uid("tab");
    const panelId = uid("tabpanel");
    const badge = h("span", { class: "gk-badge", hidden: true });
    const button = h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId, class: "gk-tab" }, spec.label, badge);
    spec.panel.id = panelId;
    spec.panel.setAttribute("role", "tabpanel");
    spec.panel.setAttribute("aria-labelledby", tabId);
    spec.panel.classList.add("gk-tabpanel");
    button.addEventListener("click", () => select(spec.key));
    button.addEventListener("keydown", (event) => onKey(event, spec.key));
    buttons.set(spec.key, button);
    badges.set(spec.key, badge);
    list.append(button);
    panels.append(spec.panel);
  }

  function select(key: string, focus = false): void {
    current = key;
    for (const spec of specs) {
      const on = spec.key === key;
      const button = buttons.get(spec.key)!;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      spec.panel.hidden = !on;
      if (on && focus) button.focus();
    }
  }

  function onKey(event: KeyboardEvent, key: string): void {
    const keys = specs.map((s) => s.key);
    const at = keys.indexOf(key);
    const next: Record<string, number> = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: keys.length - 1 };
    if (!(event.key in next)) return;
    event.preventDefault();
    select(keys[(next[event.key] + keys.length) % keys.length], true);
  }

  select(current);
  return {
    root: h("div", { class: `gk-tabs ${cls}`.trim() }, list, panels),
    setBadge(key, text, alert = false) {
      const badge = badges.get(key);
      if (!badge) return;
      badge.textContent = text;
      badge.hidden = text === "";
      badge.classList.toggle("gk-badge-alert", alert);
      badge.classList.toggle("gk-badge-zero", text === "0");
    },
    select: (key) => select(key),
    selected: () => current,
  };
}
