// Small DOM helpers shared by the trading and agent panels.

type Attrs = Record<string, string | number | boolean | undefined | null>;
type Child = Node | string | null | undefined | false;

/** Create an element: attributes ("class", "aria-*", properties like "disabled") and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child);
  }
}

/** Replace an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let idCounter = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** Run `fn` at most once per `ms`, trailing: a burst of calls gives one call, at most ms later. */
export function coalesce(fn: () => void, ms: number): () => void {
  let timer: number | undefined;
  return () => {
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
}

/** A table with a header row; `body` is filled by the caller. */
export function table(label: string, headers: string[], numeric: number[] = []): {
  root: HTMLTableElement;
  body: HTMLTableSectionElement;
} {
  const head = h("tr", {});
  headers.forEach((text, i) => {
    head.append(h("th", { scope: "col", class: numeric.includes(i) ? "num" : undefined }, text));
  });
  const body = h("tbody", {});
  const root = h("table", { class: "gk-table", "aria-label": label }, h("thead", {}, head), body);
  return { root, body };
}

export function td(text: string | Node, cls?: string): HTMLTableCellElement {
  return h("td", { class: cls }, text);
}

/** A row spanning the table with a quiet message (empty state, loading, error). */
export function emptyRow(columns: number, text: string): HTMLTableRowElement {
  return h("tr", { class: "gk-empty" }, h("td", { colspan: columns }, text));
}

export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
