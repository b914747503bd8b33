// Pieces that show a proposal: its headline, its votes with reasons, its outcomes.
import { h } from "../trading/dom";
import { fmtPrice, fmtQty, fmtType } from "../trading/format";
import type { Proposal, Vote } from "./types";

export function agentName(id: string): string {
  if (id.startsWith("user:")) return id.slice(5);
  return id.charAt(0).toUpperCase() + id.slice(1);
}

export function symbolOf(instrumentId: string): string {
  return instrumentId.split("@")[0] ?? instrumentId;
}

/** "BUY 0.05 BTC/USDT market" (with the approved quantity when the vote cut it). */
export function headline(p: Proposal): HTMLElement {
  const side = p.proposal_type.toLowerCase();
  const cut = p.approved_quantity !== null && p.approved_quantity !== p.quantity;
  const qty = cut ? p.approved_quantity : p.quantity;
  const legs = p.legs.length ? ` (${p.legs.length} legs)` : "";
  const price = p.price_target ? ` @ ${fmtPrice(p.price_target)}` : "";
  return h("span", { class: "ag-headline" },
    h("span", { class: `gk-side gk-side-${side}` }, side.toUpperCase()), " ",
    side === "hold" ? "" : `${fmtQty(qty)} `, symbolOf(p.instrument_id), " ",
    h("span", { class: "gk-muted" }, `${fmtType(p.order_type).toLowerCase()}${price}${legs}`),
    cut ? h("span", { class: "ag-cut", title: `proposed ${p.quantity}` }, ` (cut from ${fmtQty(p.quantity)})`) : null,
  ); // prettier-ignore
}

export function votesList(votes: Vote[]): HTMLElement {
  if (!votes.length) return h("p", { class: "ag-quiet" }, "No votes yet.");
  return h("ul", { class: "ag-votes", "aria-label": "Votes" },
    ...votes.map((v) =>
      h("li", { class: v.approve && !v.counted_as_no ? "ag-vote-yes" : "ag-vote-no" },
        h("span", { class: "ag-vote-mark", "aria-hidden": "true" }, v.approve && !v.counted_as_no ? "✓" : "✗"),
        h("span", { class: "ag-vote-who" }, `${agentName(v.agent_id)} `,
          h("small", {}, `${v.approve ? "yes" : "no"}${v.counted_as_no ? " (counted as no)" : ""} · weight ${v.weight}`)),
        h("span", { class: "ag-vote-reason" }, v.reason),
      ),
    ),
  ); // prettier-ignore
}

/** "4/6" with a bar: the yes weight of the total. */
export function tally(p: Proposal): HTMLElement {
  const share = p.total_weight > 0 ? p.yes_weight / p.total_weight : 0;
  const bar = h("span", { class: "ag-tally-bar", "aria-hidden": "true" });
  bar.style.setProperty("--share", `${Math.round(share * 100)}%`);
  return h("span", { class: "ag-tally", title: `yes weight ${p.yes_weight} of ${p.total_weight}; needs ${Number(p.required_share) * 100}%` },
    bar, `${p.yes_weight}/${p.total_weight}`); // prettier-ignore
}

export function outcomesList(p: Proposal): HTMLElement | null {
  if (!p.outcomes.length) return null;
  return h("ul", { class: "ag-outcomes", "aria-label": "Orders" },
    ...p.outcomes.map((o) =>
      h("li", {}, `${o.status.replace(/_/g, " ")}: ${fmtQty(o.filled_qty)} filled`,
        o.avg_px ? ` @ ${fmtPrice(o.avg_px)}` : "", o.reason ? ` · ${o.reason}` : ""),
    ),
  ); // prettier-ignore
}

export function labelled(label: string, text: string): HTMLElement | null {
  if (!text) return null;
  return h("p", { class: "ag-text" }, h("span", { class: "ag-label" }, `${label} `), text);
}
