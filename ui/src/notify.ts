// Toasts (bottom-right, fading after ~6 s) and the notification centre behind the bell.
import type { NoticeKind, Notifier } from "./context";
import { el } from "./layout";

const TOAST_MS = 6000;
const FADE_MS = 400;
const MAX_TOASTS = 3;
const MAX_ENTRIES = 200;

const KIND_LABEL: Record<NoticeKind, string> = {
  fill: "Fill",
  risk: "Risk",
  breaker: "Breaker",
  proposal: "Proposal",
  error: "Error",
  info: "Info",
};

interface Entry {
  kind: NoticeKind;
  title: string;
  body: string;
  at: Date;
}

export class DomNotifier implements Notifier {
  readonly bell: HTMLButtonElement;
  private readonly badge: HTMLSpanElement;
  private readonly toasts: HTMLElement;
  private readonly drawer: HTMLElement;
  private readonly list: HTMLOListElement;
  private entries: Entry[] = [];
  private unread = 0;

  constructor(host: HTMLElement) {
    this.badge = el("span", { class: "bell-count", "aria-hidden": "true" });
    this.bell = el("button", {
      class: "icon-button bell",
      type: "button",
      "aria-expanded": "false",
      "aria-controls": "notification-centre",
    });
    this.bell.append(bellIcon(), this.badge);
    this.bell.addEventListener("click", () => this.toggle());
    this.toasts = el("div", { class: "toasts", role: "status", "aria-live": "polite" });
    this.list = el("ol", { class: "notice-list" });
    this.drawer = this.buildDrawer();
    host.append(this.drawer, this.toasts);
    this.renderBadge();
  }

  notify(kind: NoticeKind, title: string, body = ""): void {
    const entry: Entry = { kind, title, body, at: new Date() };
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, MAX_ENTRIES);
    if (this.drawer.hidden) this.unread += 1;
    this.renderBadge();
    this.list.prepend(noticeItem(entry));
    while (this.list.children.length > MAX_ENTRIES) this.list.lastElementChild?.remove();
    this.toast(entry);
  }

  /** For tests: how many entries the centre holds and how many are unread. */
  counts(): { total: number; unread: number } {
    return { total: this.entries.length, unread: this.unread };
  }

  toggle(open = this.drawer.hidden): void {
    this.drawer.hidden = !open;
    this.bell.setAttribute("aria-expanded", String(open));
    if (open) {
      this.unread = 0;
      this.renderBadge();
      this.drawer.querySelector<HTMLButtonElement>(".drawer-close")?.focus();
    } else {
      this.bell.focus();
    }
  }

  private buildDrawer(): HTMLElement {
    const drawer = el("aside", {
      id: "notification-centre",
      class: "drawer",
      "aria-label": "Notifications",
    });
    drawer.hidden = true;
    const close = el("button", { class: "icon-button drawer-close", type: "button" }, "×");
    close.setAttribute("aria-label", "Close notifications");
    close.addEventListener("click", () => this.toggle(false));
    const clear = el("button", { class: "text-button", type: "button" }, "Clear all");
    clear.addEventListener("click", () => {
      this.entries = [];
      this.list.replaceChildren();
    });
    const head = el(
      "header",
      { class: "drawer-head" },
      el("h2", {}, "Notifications"),
      clear,
      close,
    );
    drawer.append(head, this.list);
    drawer.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.toggle(false);
    });
    return drawer;
  }

  private toast(entry: Entry): void {
    const toast = noticeItem(entry, "div");
    toast.classList.add("toast");
    toast.title = "Click to dismiss (every notice stays in the centre)";
    toast.addEventListener("click", () => toast.remove());
    this.toasts.append(toast);
    while (this.toasts.children.length > MAX_TOASTS) this.toasts.firstElementChild?.remove();
    window.setTimeout(() => {
      toast.classList.add("fading");
      window.setTimeout(() => toast.remove(), FADE_MS);
    }, TOAST_MS);
  }

  private renderBadge(): void {
    this.badge.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.badge.hidden = this.unread === 0;
    const label = this.unread ? `Notifications, ${this.unread} unread` : "Notifications";
    this.bell.setAttribute("aria-label", label);
  }
}

function noticeItem(entry: Entry, tag: "li" | "div" = "li"): HTMLElement {
  const item = el(tag, { class: `notice kind-${entry.kind}` });
  const time = entry.at.toLocaleTimeString([], { hour12: false });
  item.append(
    el(
      "div",
      { class: "notice-head" },
      el("span", { class: "notice-kind" }, KIND_LABEL[entry.kind]),
      el("time", { datetime: entry.at.toISOString() }, time),
    ),
    el("div", { class: "notice-title" }, entry.title),
  );
  if (entry.body) item.append(el("div", { class: "notice-body" }, entry.body));
  return item;
}

function bellIcon(): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute(
    "d",
    "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z",
  );
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}
