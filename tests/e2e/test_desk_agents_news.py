"""The agent panel's confirmations and the news sidebar, in chromium against the real server.

Gordo's trades wait for the user: the test makes two through the API (as a trader may, for an
agent), has every agent vote yes so the round is decided the same way whatever the replayed
market says, then approves one and rejects the other in the panel. The news checks compare the
visible stories with what GET /api/v1/news answers for the same filter.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import page_problems
from desk_flow_support import DeskApi, eventually, hook, section
from e2e_support import Platform
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

NEWS_LIMIT = 200  # the panel asks GET /news for this many (ui/src/news.ts)
VISIBLE_NEWS = "() => window.__grekko.news.visibleIds()"


@pytest.fixture
def trader_api(platform: Platform) -> Any:
    api = DeskApi(platform, "trader")
    yield api
    api.close()


def gordo_awaiting_confirmation(api: DeskApi, instrument_id: str) -> str:
    """A small buy proposed for Gordo, voted yes by every agent: it awaits the user."""
    proposal = api.post(
        "/agents/proposals",
        {
            "proposer": "gordo",
            "proposal_type": "buy",
            "instrument_id": instrument_id,
            "quantity": "0.001",
            "rationale": "e2e: a small buy to confirm in the web UI",
            "decide": False,
        },
    )
    proposal_id = str(proposal["proposal_id"])
    for agent in api.get("/agents"):
        api.post(
            f"/agents/proposals/{proposal_id}/votes",
            {"agent_id": agent["agent_id"], "approve": True, "reason": "e2e: yes"},
        )
    decided = api.post(f"/agents/proposals/{proposal_id}/consensus", status=200)
    assert decided["status"] == "awaiting_confirmation", decided
    return proposal_id


def test_a_gordo_trade_is_approved_and_another_rejected_in_the_agent_panel(
    logged_in_page: Any, trader_api: DeskApi, screenshot: Any
) -> None:
    page = logged_in_page("trader")
    instrument = hook(page, "() => window.__grekko.app.instrument()")
    approved = gordo_awaiting_confirmation(trader_api, instrument)
    rejected = gordo_awaiting_confirmation(trader_api, instrument)

    agents = section(page, "Agents")
    agents.get_by_role("tab", name=re.compile("^Confirm")).click()
    first = agents.locator(f'article[data-proposal-id="{approved}"]')
    second = agents.locator(f'article[data-proposal-id="{rejected}"]')
    expect(first).to_be_visible()
    expect(second).to_be_visible()
    expect(first.get_by_role("timer")).to_have_text(re.compile(r"^[0-9]+:[0-5][0-9]$"))
    expect(first).to_contain_text("BUY")
    expect(first).to_contain_text(instrument.split("@")[0])
    pending = hook(page, "() => window.__grekko.agents.pendingIds()")
    assert {approved, rejected} <= set(pending)
    screenshot(agents, "agents")

    first.get_by_role("button", name=f"Approve {approved}").click()

    def executed() -> dict[str, Any]:
        record: dict[str, Any] = trader_api.get(f"/agents/proposals/{approved}")
        assert record["status"] == "executed", record["status"]
        return record

    record = eventually(executed)
    assert record["confirmed_by"] == f"user:{trader_api.username}"
    assert record["client_order_ids"], record
    order = trader_api.get(f"/orders/{record['client_order_ids'][0]}")
    assert order["side"] == "buy"
    assert order["instrument_id"] == instrument
    expect(first).to_have_count(0)

    second.get_by_role("button", name=f"Reject {rejected}").click()

    def declined() -> dict[str, Any]:
        record: dict[str, Any] = trader_api.get(f"/agents/proposals/{rejected}")
        assert record["status"] == "declined", record["status"]
        return record

    record = eventually(declined)
    assert record["client_order_ids"] == []
    assert f"rejected by {trader_api.username} in the web UI" in (record["declined"] or "")
    expect(second).to_have_count(0)
    pending = hook(page, "() => window.__grekko.agents.pendingIds()")
    assert approved not in pending
    assert rejected not in pending
    assert page_problems(page) == []


def test_news_filters_search_and_bookmarks_match_the_api(
    logged_in_page: Any, platform: Platform, trader_api: DeskApi, screenshot: Any
) -> None:
    page = logged_in_page("trader")
    news = section(page, "News")
    page.wait_for_function("() => window.__grekko.news && window.__grekko.news.count() > 0")

    def shows(expected: list[str]) -> None:
        assert hook(page, VISIBLE_NEWS) == expected

    everything = trader_api.get("/news", limit=NEWS_LIMIT)
    eventually(lambda: shows([n["news_id"] for n in everything]))

    sentiment = news.get_by_role("combobox", name=re.compile("^Sentiment"))
    sentiment.select_option("negative")
    negative = trader_api.get("/news", sentiment="negative", limit=NEWS_LIMIT)
    assert negative, "the bundled news has negative stories"
    assert all(n["sentiment_label"] == "negative" for n in negative)
    eventually(lambda: shows([n["news_id"] for n in negative]))
    sentiment.select_option("")

    asset = news.get_by_role("combobox", name=re.compile("^Asset"))
    asset.select_option("ETH")
    eth = trader_api.get("/news", asset="ETH", limit=NEWS_LIMIT)
    assert eth, "the bundled news has ETH stories"
    assert all("ETH" in n["assets"] for n in eth)
    assert len(eth) < len(everything)
    eventually(lambda: shows([n["news_id"] for n in eth]))
    asset.select_option("")
    eventually(lambda: shows([n["news_id"] for n in everything]))

    news.get_by_label("Search news").fill("ETF")
    found = trader_api.get("/news", q="ETF", limit=NEWS_LIMIT)
    by_id = {n["news_id"]: n for n in found}

    def narrowed() -> list[str]:
        visible: list[str] = hook(page, VISIBLE_NEWS)
        assert visible, "the search shows nothing"
        assert len(visible) < len(everything)
        assert set(visible) <= set(by_id), "a story the API did not find shows"
        for news_id in visible:
            story = by_id[news_id]
            assert "etf" in f"{story['title']}\n{story['summary']}".lower(), story
        return visible

    eventually(narrowed)
    news.get_by_label("Search news").fill("")
    eventually(lambda: shows([n["news_id"] for n in everything]))

    chosen = everything[1]["news_id"]
    star = news.locator(f'button[data-bookmark="{chosen}"]')
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    expect(star).to_have_accessible_name(re.compile("^Remove bookmark: "))
    viewer_api = DeskApi(platform, "viewer")
    try:
        assert chosen in trader_api.get("/news/bookmarks")
        assert chosen not in viewer_api.get("/news/bookmarks")
    finally:
        viewer_api.close()
    assert chosen in hook(page, "() => window.__grekko.news.bookmarks()")

    saved = news.get_by_role("button", name="Show bookmarked only")
    saved.click()
    expect(saved).to_have_attribute("aria-pressed", "true")
    bookmarked = set(trader_api.get("/news/bookmarks"))
    eventually(lambda: shows([n["news_id"] for n in everything if n["news_id"] in bookmarked]))
    assert chosen in hook(page, VISIBLE_NEWS)
    saved.click()
    expect(saved).to_have_attribute("aria-pressed", "false")
    eventually(lambda: shows([n["news_id"] for n in everything]))
    screenshot(news, "news")
    assert page_problems(page) == []
