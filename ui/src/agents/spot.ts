// Spot's explanations: its analysis of the desk's instrument, and its latest market notes.
import type { AppContext, EventFrame } from "../context";
import { fill, h } from "../trading/dom";
import { fmtTime } from "../trading/format";
import { symbolOf } from "./proposal-view";
import type { AgentMessage, Analysis, Signal } from "./types";

const NOTES = 12;
const RENDER_MS = 1000; // Spot speaks every bar: the notes are redrawn at most once a second
const ANALYSIS_MS = 5000;

export interface SpotView {
  root: HTMLElement;
  load(): Promise<void>;
  onMessage(frame: EventFrame): void;
}

function stanceChip(stance: string, score?: number): HTMLElement {
  const tone = stance === "bullish" ? "pos" : stance === "bearish" ? "neg" : "muted";
  const text = score === undefined ? stance : `${stance} ${score >= 0 ? "+" : ""}${score.toFixed(2)}`;
  return h("span", { class: `ag-chip ag-chip-${tone}` }, text);
}

function signalItem(s: Signal): HTMLElement {
  const arrow = s.direction > 0.05 ? "▲" : s.direction < -0.05 ? "▼" : "■";
  const tone = s.direction > 0.05 ? "gk-pos" : s.direction < -0.05 ? "gk-neg" : "gk-muted";
  return h("li", { class: "ag-signal" },
    h("span", { class: `ag-signal-name ${tone}` }, h("span", { "aria-hidden": "true" }, `${arrow} `), s.name),
    h("p", {}, s.what), h("p", { class: "gk-muted" }, s.why_now), h("p", { class: "ag-quiet" }, s.what_changes_it),
  ); // prettier-ignore
}

function timeOf(m: AgentMessage): string {
  if (m.time) return fmtTime(m.time);
  return fmtTime(new Date(Math.floor(m.ts_ns / 1e6)).toISOString());
}

export function createSpot(ctx: AppContext): SpotView {
  const analysisBox = h("section", { class: "ag-analysis", "aria-label": "Spot's analysis", "aria-live": "off" });
  const notesList = h("ol", { class: "ag-notes", "aria-label": "Spot's latest notes" });
  const root = h("div", { class: "ag-pane" }, analysisBox,
    h("h3", { class: "ag-subtitle" }, "Latest note per instrument"), notesList); // prettier-ignore
  const latest = new Map<string, AgentMessage>(); // the newest note per instrument
  let dirty = false;
  let loadingAnalysis = 0;

  function renderAnalysis(a: Analysis): void {
    const price = a.price === null ? "" : ` at ${a.price.toLocaleString("en-US", { maximumFractionDigits: 2 })}`;
    fill(analysisBox,
      h("div", { class: "ag-analysis-head" }, h("strong", {}, `Spot on ${symbolOf(a.instrument_id)}${price}`), stanceChip(a.stance, a.score)),
      h("p", { class: "ag-lead" }, a.explanation.split(/(?<=\.)\s/)[0] ?? ""),
      a.signals.length ? h("ul", { class: "ag-signals" }, ...a.signals.map(signalItem)) : h("p", { class: "ag-text" }, a.explanation),
    ); // prettier-ignore
  }

  function instrumentOf(m: AgentMessage): string {
    return String((m.payload as { instrument_id?: string }).instrument_id ?? "");
  }

  function keep(m: AgentMessage): void {
    if (m.message_type !== "market_analysis" || m.sender !== "spot") return;
    const id = instrumentOf(m);
    const known = latest.get(id);
    if (!known || known.ts_ns <= m.ts_ns) latest.set(id, m);
  }

  function renderNotes(): void {
    dirty = false;
    const desk = ctx.instrument();
    const notes = [...latest.values()]
      .sort((a, b) => Number(instrumentOf(b) === desk) - Number(instrumentOf(a) === desk) || instrumentOf(a).localeCompare(instrumentOf(b)))
      .slice(0, NOTES);
    if (!notes.length) {
      fill(notesList, h("li", { class: "ag-empty" }, "Spot has not spoken yet."));
      return;
    }
    fill(notesList, ...notes.map((m) => {
      const p = m.payload as { instrument_id?: string; stance?: string; score?: number; explanation?: string };
      return h("li", { class: "ag-note" },
        h("div", { class: "ag-note-head" }, h("span", { class: "gk-muted" }, timeOf(m)), h("strong", {}, symbolOf(p.instrument_id ?? "")),
          stanceChip(p.stance ?? "neutral", typeof p.score === "number" ? p.score : undefined)),
        h("p", { class: "ag-text" }, String(p.explanation ?? "")),
      ); // prettier-ignore
    }));
  }

  async function loadAnalysis(): Promise<void> {
    const mine = ++loadingAnalysis;
    try {
      const a = await ctx.api.get<Analysis>("/agents/spot/analysis", { instrument_id: ctx.instrument() });
      if (mine === loadingAnalysis) renderAnalysis(a);
    } catch (error) {
      if (mine === loadingAnalysis) fill(analysisBox, h("p", { class: "ag-quiet" }, `Spot's analysis is not available: ${String((error as Error).message ?? error)}`));
    }
  }

  async function loadNotes(): Promise<void> {
    try {
      const messages = await ctx.api.get<AgentMessage[]>("/agents/messages", { agent_id: "spot", limit: 100 });
      messages.forEach(keep);
      renderNotes();
    } catch {
      /* keep what is shown */
    }
  }

  window.setInterval(() => {
    if (dirty) renderNotes();
  }, RENDER_MS);
  window.setInterval(() => {
    if (!document.hidden && root.isConnected && !root.closest("[hidden]")) void loadAnalysis();
  }, ANALYSIS_MS);
  ctx.onInstrumentChange(() => {
    void loadAnalysis();
    renderNotes();
  });
  fill(analysisBox, h("p", { class: "ag-quiet" }, "Loading Spot's analysis…"));

  return {
    root,
    load: async () => {
      await Promise.all([loadAnalysis(), loadNotes()]);
    },
    onMessage(frame) {
      const m = frame.data as AgentMessage;
      if (m.message_type !== "market_analysis" || m.sender !== "spot") return;
      keep(m);
      dirty = true;
    },
  };
}
