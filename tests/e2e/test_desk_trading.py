"""The desk in chromium at 1280x720 against the real server: login, layout, chart, order ticket.

Each test logs in through the real form (logged_in_page) on the session's `grekko up`, whose
replay (20 bars a second over BTC/USDT and ETH/USDT) keeps trading while the tests run: other
strategies' orders and fills come and go, so the checks look for this user's own orders.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from browser_support import SECTIONS, VIEWPORT, new_page, page_problems
from desk_flow_support import (
    NAMELESS_CONTROLS,
    SMA_PIXELS,
    WATCH_OPEN_ORDERS,
    DeskApi,
    displayed_decimal,
    eventually,
    hook,
    http_errors_aside,
    section,
)
from e2e_support import Platform
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

CHART_LOAD_LIMIT = 1000  # the chart asks GET /candles for this many (ui/src/chart.ts)
NS = 1_000_000_000
CHART_SNAPSHOT = """
() => ({ count: window.__grekko.chart.candleCount(), last: window.__grekko.chart.lastCandle(),
         timeframe: window.__grekko.chart.timeframe() })
"""


@pytest.fixture
def trader_api(platform: Platform) -> Any:
    api = DeskApi(platform, "trader")
    yield api
    api.close()


def wait_for_candles(page: Any) -> None:
    page.wait_for_function("() => window.__grekko.chart && window.__grekko.chart.candleCount() > 0")


def wait_for_trading(page: Any) -> None:
    """The trading panel has its instruments (the ticket's submit names the base asset)."""
    page.wait_for_function(
        "() => window.__grekko.trading && /^(Buy|Sell) \\S+$/"
        ".test(document.querySelector('.tk-submit')?.textContent ?? '')"
    )


def ticket(page: Any) -> Any:
    return section(page, "Order ticket")


def ticket_message(page: Any) -> Any:
    return ticket(page).locator(".tk-message")


def fill_market_order(page: Any, side: str, quantity: str) -> None:
    """Side, type and quantity through the ticket's labelled fields (ui/src/trading/ticket.ts)."""
    form = ticket(page)
    form.get_by_label(side.capitalize(), exact=True).check()
    form.get_by_label("Market", exact=True).check()
    form.get_by_label("Quantity").fill(quantity)


def submit_button(page: Any) -> Any:
    return ticket(page).locator("button.tk-submit")


# ---- login and layout ------------------------------------------------------------------------
def test_a_wrong_password_shows_the_servers_error_and_no_desk(
    browser: Any, platform: Platform, screenshot: Any
) -> None:
    said = httpx.post(
        f"{platform.url}/api/v1/auth/login",
        json={"username": "tess", "password": "not her password"},
        timeout=10,
    ).json()
    page = new_page(browser)
    try:
        page.goto(platform.url + "/")
        page.get_by_label("Username", exact=True).fill("tess")
        page.get_by_label("Password", exact=True).fill("not her password")
        page.get_by_role("button", name="Sign in", exact=True).click()
        alert = page.locator(".login-error")
        expect(alert).to_have_attribute("role", "alert")
        expect(alert).to_have_text(said.get("detail") or said["title"])
        for name in SECTIONS:
            assert section(page, name).count() == 0, f"the {name} panel shows without a login"
        assert page.evaluate("() => sessionStorage.getItem('grekko.tokens')") is None
        screenshot(page, "login")
        assert http_errors_aside(page_problems(page), 401) == []
    finally:
        page.context.close()


def test_the_four_panels_fit_the_viewport_apart_and_without_errors(logged_in_page: Any) -> None:
    page = logged_in_page("trader")
    wait_for_candles(page)
    boxes = {}
    for name in SECTIONS:
        panel = section(page, name)
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box is not None, name
        assert box["x"] >= 0, (name, box)
        assert box["y"] >= 0, (name, box)
        assert box["x"] + box["width"] <= VIEWPORT["width"], (name, box)
        assert box["y"] + box["height"] <= VIEWPORT["height"], (name, box)
        assert box["width"] >= 300, (name, box)
        assert box["height"] >= 200, (name, box)
        boxes[name] = box
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p, q = boxes[a], boxes[b]
            apart = (
                p["x"] + p["width"] <= q["x"]
                or q["x"] + q["width"] <= p["x"]
                or p["y"] + p["height"] <= q["y"]
                or q["y"] + q["height"] <= p["y"]
            )
            assert apart, f"the {a} and {b} panels overlap: {p} {q}"
    page.wait_for_timeout(1000)  # live events arrive meanwhile; none may raise an error
    assert page_problems(page) == []


# ---- chart -----------------------------------------------------------------------------------
def test_the_chart_draws_the_apis_candles_and_switches_timeframe_and_indicator(
    logged_in_page: Any, trader_api: DeskApi, screenshot: Any
) -> None:
    page = logged_in_page("trader")
    wait_for_candles(page)
    instrument = hook(page, "() => window.__grekko.app.instrument()")
    chart = section(page, "Chart")
    expect(chart.get_by_role("button", name="Timeframe 1m")).to_have_attribute(
        "aria-pressed", "true"
    )

    def one_minute_matches_the_api() -> tuple[int, int]:
        shown = hook(page, CHART_SNAPSHOT)
        assert shown["timeframe"] == "1m"
        last = shown["last"]
        same = trader_api.get(
            "/candles",
            instrument_id=instrument,
            timeframe="1m",
            start=last["time"] * NS,
            end=(last["time"] + 1) * NS,
        )
        assert len(same) == 1, f"the API has no 1m candle at {last['time']}"
        for field in ("open", "high", "low", "close", "volume"):
            assert same[0][field] == last[field], (field, same[0], last)
        upto = trader_api.get(
            "/candles",
            instrument_id=instrument,
            timeframe="1m",
            end=(last["time"] + 1) * NS,
            limit=5000,
        )
        # the chart loads the latest 1000 and appends live bars: never more than the API has
        assert min(len(upto), CHART_LOAD_LIMIT) <= shown["count"] <= len(upto), (shown, len(upto))
        return shown["count"], len(upto)

    one_minute, _ = eventually(one_minute_matches_the_api)
    ink = hook(page, "() => window.__grekko.chart.nonBlankPixels()")
    assert ink > 20_000, f"the chart looks blank: {ink} drawn pixels"

    sma = chart.locator('button[data-indicator="sma"]')
    expect(sma).to_have_attribute("aria-pressed", "true")  # on by default
    page.wait_for_function(f"() => ({SMA_PIXELS})() > 150")
    sma.click()
    expect(sma).to_have_attribute("aria-pressed", "false")
    page.wait_for_function(f"() => ({SMA_PIXELS})() < 10")
    sma.click()
    expect(sma).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(f"() => ({SMA_PIXELS})() > 150")
    screenshot(chart, "chart")

    chart.get_by_role("button", name="Timeframe 5m").click()
    expect(chart.get_by_role("button", name="Timeframe 5m")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(chart.get_by_role("button", name="Timeframe 1m")).to_have_attribute(
        "aria-pressed", "false"
    )

    def five_minutes_match_the_api() -> int:
        shown = hook(page, CHART_SNAPSHOT)
        assert shown["timeframe"] == "5m"
        last = shown["last"]
        assert last["time"] % 300 == 0, f"not a 5m bucket: {last}"
        api = trader_api.get(
            "/candles",
            instrument_id=instrument,
            timeframe="5m",
            end=(last["time"] + 1) * NS,
            limit=5000,
        )
        assert api, "the API has no 5m candles"
        assert len(api) < CHART_LOAD_LIMIT, "the session ran too long for an exact count"
        assert api[-1]["ts_open"] == last["time"] * NS, (api[-1], last)
        assert shown["count"] == len(api), (shown, len(api))
        return int(shown["count"])

    five_minutes = eventually(five_minutes_match_the_api)
    assert five_minutes < one_minute, (five_minutes, one_minute)
    assert page_problems(page) == []


# ---- order ticket ----------------------------------------------------------------------------
def test_a_market_buy_from_the_ticket_shows_in_the_positions(
    logged_in_page: Any, trader_api: DeskApi, screenshot: Any
) -> None:
    page = logged_in_page("trader")
    wait_for_trading(page)
    instrument = hook(page, "() => window.__grekko.app.instrument()")
    quantity = Decimal("0.5")
    fill_market_order(page, "buy", str(quantity))
    submit_button(page).click()
    expect(ticket_message(page)).to_contain_text(re.compile(r"market: (accepted|filled)"))
    said = hook(page, "() => window.__grekko.trading.lastTicketMessage()")
    found = re.search(r"\bM-[0-9a-f]{20}\b", said)
    assert found, f"the ticket names no order id: {said!r}"

    def filled() -> dict[str, Any]:
        order: dict[str, Any] = trader_api.get(f"/orders/{found.group(0)}")
        assert order["status"] == "filled", order
        return order

    order = eventually(filled)  # a market order fills on the replay's next bar
    assert order["strategy_id"] == trader_api.manual_strategy
    assert (order["side"], order["type"], order["status"]) == ("buy", "market", "filled")
    assert Decimal(order["filled_qty"]) == quantity
    # the other strategies are long or flat with their own quantities: ours stays in the total
    assert trader_api.position(instrument) >= quantity

    def hooked_position() -> Decimal:
        rows = hook(page, "() => window.__grekko.trading.positions()")
        held = [Decimal(r["quantity"]) for r in rows if r["instrument_id"] == instrument]
        assert held, f"no {instrument} in the trading hook: {rows}"
        assert held[0] >= quantity
        return held[0]

    eventually(hooked_position)
    symbol = instrument.split("@")[0]
    trading = section(page, "Trading")
    expect(trading.get_by_role("tab", name=re.compile("^Positions"))).to_have_attribute(
        "aria-selected", "true"
    )
    row = trading.get_by_role("table", name="Positions").locator("tbody tr", has_text=symbol)
    expect(row).to_have_count(1)
    assert displayed_decimal(row.locator("td").nth(1).inner_text()) >= quantity
    screenshot(trading, "trading")
    assert page_problems(page) == []


def test_the_ticket_refuses_a_bad_quantity_and_sends_nothing(
    logged_in_page: Any, trader_api: DeskApi
) -> None:
    page = logged_in_page("trader")
    wait_for_trading(page)
    instrument_id = hook(page, "() => window.__grekko.app.instrument()")
    instrument = next(
        i for i in trader_api.get("/instruments") if i["instrument_id"] == instrument_id
    )
    step = instrument["size_increment"]
    posted: list[str] = []
    page.on(
        "request",
        lambda r: (
            posted.append(r.url) if r.method == "POST" and "/api/v1/orders" in r.url else None
        ),
    )
    before = trader_api.manual_order_ids()
    quantity = ticket(page).get_by_label("Quantity")

    fill_market_order(page, "buy", "0")
    submit_button(page).click()
    expect(ticket_message(page)).to_contain_text("The quantity must be greater than zero.")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    expect(quantity).to_be_focused()

    finer = f"{Decimal(step) / 10:f}"  # one digit past the instrument's size increment
    quantity.fill(finer)
    submit_button(page).click()
    expect(ticket_message(page)).to_contain_text(f"must be a multiple of {step}")
    expect(quantity).to_have_attribute("aria-invalid", "true")

    page.wait_for_timeout(300)  # a request, had one been sent, would have shown by now
    assert posted == []
    assert trader_api.manual_order_ids() == before
    assert page_problems(page) == []


def test_a_risk_denial_shows_the_risk_engines_reason_in_the_ticket(
    logged_in_page: Any, trader_api: DeskApi
) -> None:
    page = logged_in_page("trader")
    wait_for_trading(page)
    before = trader_api.manual_order_ids()
    fill_market_order(page, "buy", "1000")  # far above the default max order notional
    submit_button(page).click()
    message = ticket_message(page)
    expect(message).to_contain_text("Denied by the risk engine:")
    orders = trader_api.get("/orders", status="all", limit=1000)
    mine = [
        o
        for o in orders
        if o["strategy_id"] == trader_api.manual_strategy and o["client_order_id"] not in before
    ]
    assert len(mine) == 1, mine
    assert mine[0]["status"] == "denied"
    assert mine[0]["reason"], mine[0]
    expect(message).to_contain_text(mine[0]["reason"])
    assert mine[0]["reason"] in hook(page, "() => window.__grekko.trading.lastTicketMessage()")
    assert http_errors_aside(page_problems(page), 409) == []


# ---- keyboard and labels ---------------------------------------------------------------------
def test_ticket_and_agent_controls_have_names_and_tab_reaches_the_submit(
    logged_in_page: Any,
) -> None:
    page = logged_in_page("trader")
    wait_for_trading(page)
    section(page, "Agents").locator(".ag-card").first.wait_for()
    found = hook(
        page,
        NAMELESS_CONTROLS,
        ['section[aria-label="Order ticket"]', 'section[aria-label="Agents"]'],
    )
    assert found["checked"] >= 20, found
    assert found["nameless"] == []

    quantity = ticket(page).get_by_label("Quantity")
    quantity.focus()
    is_submit = "() => document.activeElement?.classList.contains('tk-submit') ?? false"
    steps = 0
    while not hook(page, is_submit) and steps < 6:
        page.keyboard.press("Tab")
        steps += 1
    assert hook(page, is_submit), "Tab from the quantity never reached the submit button"
    visible_ring = hook(
        page,
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0"
        " || s.boxShadow !== 'none'; }",
    )
    assert visible_ring, "the focused submit button shows no focus ring"


# ---- live updates ----------------------------------------------------------------------------
def test_an_order_placed_through_the_api_reaches_the_open_orders(
    logged_in_page: Any, trader_api: DeskApi
) -> None:
    """The issue asks for updates within 250 ms: measured and printed, not asserted (a timed
    assertion fails on a loaded machine); the test asserts that every order shows."""
    page = logged_in_page("trader")
    wait_for_trading(page)
    instrument = hook(page, "() => window.__grekko.app.instrument()")
    page.wait_for_timeout(500)  # the panel's first loads are done
    hook(page, WATCH_OPEN_ORDERS)
    lags: list[float] = []
    placed: list[str] = []
    try:
        for _ in range(5):
            order = trader_api.place_order(
                {
                    "instrument_id": instrument,
                    "side": "buy",
                    "type": "limit",
                    "quantity": "0.001",
                    "price": trader_api.resting_buy_price(instrument),
                    "time_in_force": "gtc",
                }
            )
            answered_ms = time.time() * 1000
            placed.append(order["client_order_id"])
            assert order["status"] not in ("denied", "rejected", "filled"), order
            page.wait_for_function(
                "(id) => id in window.__e2eOpenOrdersSeen", arg=order["client_order_id"]
            )
            seen_ms = hook(page, "(id) => window.__e2eOpenOrdersSeen[id]", order["client_order_id"])
            lags.append(seen_ms - answered_ms)
        trading = section(page, "Trading")
        trading.get_by_role("tab", name=re.compile("^Open orders")).click()
        for client_order_id in placed:
            expect(trading.locator(f'button[data-order-id="{client_order_id}"]')).to_be_visible()
    finally:
        for client_order_id in placed:
            trader_api.client.delete(f"/orders/{client_order_id}")
    ordered = sorted(lags)
    print(
        f"\nAPI order answer -> hooks.trading.openOrders(): {', '.join(f'{x:.0f}' for x in lags)}"
        f" ms (median {ordered[len(ordered) // 2]:.0f} ms, max {ordered[-1]:.0f} ms)"
    )
    assert page_problems(page) == []
