// A modal dialog with focus trapped inside; Escape or Cancel closes it and focus goes back.
import { h, uid } from "./dom";

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [href], [tabindex]:not([tabindex="-1"])';

export interface Modal {
  close(): void;
  dialog: HTMLElement;
}

export function openModal(title: string, body: HTMLElement, actions: HTMLElement[], danger = false): Modal {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid("modal-title");
  const dialog = h("div", { class: `gk-modal${danger ? " gk-modal-danger" : ""}`, role: "dialog", "aria-modal": "true", "aria-labelledby": titleId },
    h("h2", { id: titleId, class: "gk-modal-title" }, title), body, h("div", { class: "gk-modal-actions" }, ...actions),
  ); // prettier-ignore
  const backdrop = h("div", { class: "gk-backdrop" }, dialog);

  function focusables(): HTMLElement[] {
    return [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)];
  }

  function onKey(event: KeyboardEvent): void {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
      return;
    }
    if (event.key !== "Tab") return;
    const items = focusables();
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const active = document.activeElement;
    if (event.shiftKey && (active === first || !dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  }

  function onFocusIn(event: FocusEvent): void {
    if (event.target instanceof Node && !dialog.contains(event.target)) focusables()[0]?.focus();
  }

  function close(): void {
    document.removeEventListener("keydown", onKey, true);
    document.removeEventListener("focusin", onFocusIn, true);
    backdrop.remove();
    opener?.focus();
  }

  document.addEventListener("keydown", onKey, true);
  document.addEventListener("focusin", onFocusIn, true);
  document.body.append(backdrop);
  focusables()[0]?.focus();
  return { close, dialog };
}
