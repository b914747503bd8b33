// DOM helpers and the desk's grid: header, chart, trading, news, agents.

type Child = Node | string | null | undefined | false;

/** Create an element with attributes and children; text children are text nodes (never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/** A <select> with a visible or screen-reader label. */
export function labelledSelect(
  label: string,
  options: Array<[value: string, text: string]>,
  visibleLabel = false,
): { wrap: HTMLLabelElement; select: HTMLSelectElement } {
  const select = el("select");
  for (const [value, text] of options) select.append(el("option", { value }, text));
  const caption = el("span", { class: visibleLabel ? "field-label" : "sr-only" }, label);
  return { wrap: el("label", { class: "field" }, caption, select), select };
}

/** A toggle button (aria-pressed). */
export function toggleButton(text: string, label: string, pressed = false): HTMLButtonElement {
  const button = el(
    "button",
    {
      type: "button",
      class: "chip",
      "aria-pressed": String(pressed),
      "aria-label": label,
    },
    text,
  );
  button.addEventListener("click", () => {
    button.setAttribute("aria-pressed", String(button.getAttribute("aria-pressed") !== "true"));
  });
  return button;
}

export function isPressed(button: HTMLButtonElement): boolean {
  return button.getAttribute("aria-pressed") === "true";
}

export interface DeskLayout {
  header: HTMLElement;
  chart: HTMLElement;
  trading: HTMLElement;
  news: HTMLElement;
  agents: HTMLElement;
}

/** The three-panel desk: chart over trading on the left, news over agents on the right. */
export function buildDesk(root: HTMLElement): DeskLayout {
  const header = el("header", { class: "app-header" });
  const chart = el("section", { class: "panel panel-chart", "aria-label": "Chart" });
  const trading = el("section", { class: "panel panel-trading", "aria-label": "Trading" });
  const news = el("section", { class: "panel panel-news", "aria-label": "News" });
  const agents = el("section", { class: "panel panel-agents", "aria-label": "Agents" });
  const main = el("main", { class: "desk" }, chart, trading, news, agents);
  root.replaceChildren(header, main);
  return { header, chart, trading, news, agents };
}

/** A panel's title bar; returns it so callers can add controls. */
export function panelHeader(panel: HTMLElement, title: string): HTMLElement {
  const bar = el("div", { class: "panel-head" }, el("h2", { class: "panel-title" }, title));
  panel.prepend(bar);
  return bar;
}
