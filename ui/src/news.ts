// The news sidebar: GET /news with filters (asset, sentiment, text), the live `news` topic,
// and bookmarks kept per user on the server.
import { ApiError, type AppContext, type EventFrame } from "./context";
import { el, isPressed, labelledSelect, panelHeader, toggleButton } from "./layout";

interface NewsItem {
  news_id: string;
  published_at: string; // ISO 8601
  source: string;
  title: string;
  summary: string;
  url: string;
  assets: string[];
  sentiment: number;
  sentiment_label: string;
}

const LIMIT = 200;
const SEARCH_DEBOUNCE_MS = 200;

export function mountNews(root: HTMLElement, ctx: AppContext, assets: string[]): void {
  new NewsPanel(root, ctx, assets);
}

class NewsPanel {
  private items: NewsItem[] = [];
  private bookmarks = new Set<string>();
  private bookmarksAvailable = true;
  private readonly list = el("ul", { class: "news-list", "aria-label": "News items" });
  private readonly status = el("p", { class: "news-status", role: "status" });
  private readonly asset;
  private readonly sentiment;
  private readonly search = el("input", {
    type: "search",
    placeholder: "Search news",
    "aria-label": "Search news",
    class: "news-search",
  });
  private readonly onlyBookmarked = toggleButton("★ Saved", "Show bookmarked only");
  private loading = 0;
  private loadError = "";
  private searchTimer: number | undefined;

  constructor(
    root: HTMLElement,
    private readonly ctx: AppContext,
    assets: string[],
  ) {
    this.asset = labelledSelect("Asset", [
      ["", "All assets"],
      ...assets.map((a): [string, string] => [a, a]),
    ]);
    this.sentiment = labelledSelect("Sentiment", [
      ["", "Any sentiment"],
      ["positive", "Positive"],
      ["neutral", "Neutral"],
      ["negative", "Negative"],
    ]);
    panelHeader(root, "News").append(this.onlyBookmarked);
    const filters = el(
      "div",
      { class: "news-filters" },
      this.search,
      this.asset.wrap,
      this.sentiment.wrap,
    );
    root.append(filters, this.status, this.list);
    this.asset.select.addEventListener("change", () => void this.reload());
    this.sentiment.select.addEventListener("change", () => void this.reload());
    this.search.addEventListener("input", () => {
      window.clearTimeout(this.searchTimer);
      this.render(); // instant client-side filtering, then the server's wider answer
      this.searchTimer = window.setTimeout(() => void this.reload(), SEARCH_DEBOUNCE_MS);
    });
    this.onlyBookmarked.addEventListener("click", () => this.render());
    this.list.addEventListener("click", (event) => this.onListClick(event));
    ctx.rt.subscribe("news", (frame) => this.onLive(frame));
    ctx.rt.onReconnect(() => void this.reload());
    ctx.hooks.news = {
      count: () => this.items.length,
      visibleIds: () =>
        [...this.list.querySelectorAll<HTMLElement>("li[data-id]")].map((li) => li.dataset.id!),
      bookmarks: () => [...this.bookmarks],
    };
    void this.reload();
    void this.loadBookmarks();
  }

  private async reload(): Promise<void> {
    const token = ++this.loading;
    try {
      const items = await this.ctx.api.get<NewsItem[]>("/news", {
        asset: this.asset.select.value || undefined,
        sentiment: this.sentiment.select.value || undefined,
        q: this.search.value.trim() || undefined,
        limit: LIMIT,
      });
      if (token !== this.loading) return;
      this.items = items;
      this.addAssetOptions(items);
      this.loadError = "";
      this.render();
    } catch (error) {
      if (token !== this.loading) return;
      this.loadError =
        error instanceof ApiError && error.problem.code === "no_news_store"
          ? "This server keeps no news."
          : `Cannot load news: ${message(error)}`;
      this.render();
    }
  }

  /** Assets the stories name that the select does not offer yet (instruments' bases come first). */
  private addAssetOptions(items: NewsItem[]): void {
    const select = this.asset.select;
    const known = new Set([...select.options].map((o) => o.value));
    const fresh = [...new Set(items.flatMap((i) => i.assets))].filter((a) => !known.has(a)).sort();
    for (const asset of fresh) select.append(el("option", { value: asset }, asset));
  }

  private async loadBookmarks(): Promise<void> {
    try {
      this.bookmarks = new Set(await this.ctx.api.get<string[]>("/news/bookmarks"));
      this.render();
    } catch (error) {
      this.bookmarksAvailable = false;
      this.onlyBookmarked.disabled = true;
      this.onlyBookmarked.title = "Bookmarks are not available on this server";
      if (!(error instanceof ApiError && error.problem.status === 404))
        console.warn("bookmarks", error);
    }
  }

  private onLive(frame: EventFrame): void {
    const d = frame.data as Omit<NewsItem, "published_at"> & { published_at: number };
    if (!d?.news_id || this.items.some((i) => i.news_id === d.news_id)) return;
    const item: NewsItem = {
      ...d,
      assets: [...(d.assets ?? [])],
      published_at: new Date(d.published_at / 1e6).toISOString(),
    };
    this.items.unshift(item);
    this.addAssetOptions([item]);
    this.items.sort((a, b) => b.published_at.localeCompare(a.published_at));
    this.items.length = Math.min(this.items.length, LIMIT * 2);
    if (this.matches(item)) this.render();
  }

  private matches(item: NewsItem): boolean {
    const asset = this.asset.select.value;
    const sentiment = this.sentiment.select.value;
    const text = this.search.value.trim().toLowerCase();
    if (asset && !item.assets.includes(asset)) return false;
    if (sentiment && item.sentiment_label !== sentiment) return false;
    if (text && !`${item.title}\n${item.summary}`.toLowerCase().includes(text)) return false;
    return !isPressed(this.onlyBookmarked) || this.bookmarks.has(item.news_id);
  }

  private render(): void {
    const shown = this.items.filter((item) => this.matches(item));
    this.list.replaceChildren(...shown.map((item) => this.row(item)));
    const empty = isPressed(this.onlyBookmarked) ? "No bookmarked news here." : "No news matches.";
    this.status.textContent = this.loadError || (shown.length ? "" : empty);
  }

  private row(item: NewsItem): HTMLLIElement {
    const label = ["positive", "negative"].includes(item.sentiment_label)
      ? item.sentiment_label
      : "neutral";
    const title = safeUrl(item.url)
      ? el(
          "a",
          {
            href: safeUrl(item.url)!,
            target: "_blank",
            rel: "noopener noreferrer",
            class: "news-title",
          },
          item.title,
        )
      : el("span", { class: "news-title" }, item.title);
    const saved = this.bookmarks.has(item.news_id);
    const star = el(
      "button",
      {
        type: "button",
        class: "star",
        "data-bookmark": item.news_id,
        "aria-pressed": String(saved),
        "aria-label": `${saved ? "Remove bookmark" : "Bookmark"}: ${item.title}`,
      },
      saved ? "★" : "☆",
    );
    star.disabled = !this.bookmarksAvailable;
    const meta = el(
      "div",
      { class: "news-meta" },
      el("span", {
        class: `sentiment-dot ${label}`,
        title: `${label} (${item.sentiment.toFixed(2)})`,
      }),
      el("span", { class: "news-source" }, item.source),
      el("time", { datetime: item.published_at }, shortTime(item.published_at)),
      ...item.assets.map((a) => el("span", { class: "asset-tag" }, a)),
    );
    const li = el(
      "li",
      { class: `news-item ${label}`, "data-id": item.news_id },
      el("div", { class: "news-body" }, meta, title),
      star,
    );
    if (item.summary) li.title = item.summary;
    return li;
  }

  private onListClick(event: Event): void {
    const star = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-bookmark]");
    if (star) void this.toggleBookmark(star.dataset.bookmark!);
  }

  private async toggleBookmark(newsId: string): Promise<void> {
    const saved = this.bookmarks.has(newsId);
    try {
      if (saved) await this.ctx.api.del(`/news/bookmarks/${newsId}`);
      else await this.ctx.api.put(`/news/bookmarks/${newsId}`);
      if (saved) this.bookmarks.delete(newsId);
      else this.bookmarks.add(newsId);
      this.render();
      this.list.querySelector<HTMLButtonElement>(`button[data-bookmark="${newsId}"]`)?.focus();
    } catch (error) {
      this.ctx.notifier.notify("error", "Bookmark not saved", message(error));
    }
  }
}

function safeUrl(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function shortTime(iso: string): string {
  const date = new Date(iso);
  const sameDay = new Date().toDateString() === date.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false })
    : date.toLocaleString([], {
        month: "short",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        hour12: false,
      });
}

function message(error: unknown): string {
  if (error instanceof ApiError) return error.problem.detail || error.problem.title;
  return error instanceof Error ? error.message : String(error);
}
