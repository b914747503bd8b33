"""The kill switch and a server restart, on a `grekko up` of this module's own.

Halting trading and restarting the server would disturb the session platform's other tests, so
this module starts its own (same settings) and leaves it halted or restarted as it likes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from browser_support import page_problems
from desk_flow_support import DeskApi, eventually, hook, outage_aside, section
from e2e_support import STATIC_INDEX, Platform, write_settings
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

RECONNECT_TIMEOUT_MS = 30_000  # the client's backoff tops out at 5 s between attempts
# The header's connection status, every change of it, kept in the page.
WATCH_CONNECTION = """
() => {
  const status = document.querySelector(".conn");
  window.__e2eConnection = [status.dataset.connected];
  new MutationObserver(() => window.__e2eConnection.push(status.dataset.connected))
    .observe(status, { attributes: true, attributeFilter: ["data-connected"] });
}
"""


@pytest.fixture(scope="module")
def control_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    assert STATIC_INDEX.is_file(), f"the web UI is not built ({STATIC_INDEX}): run `make install`"
    data_dir: Path = tmp_path_factory.mktemp("e2e-control") / "data"
    write_settings(data_dir)
    running = Platform(data_dir)
    running.start()
    try:
        running.create_users()
        yield running
    finally:
        running.stop()


def risk_badge(page: Any) -> Any:
    return section(page, "Trading").get_by_role("group", name="Risk").locator(".risk-badge")


def test_the_admin_halts_trading_with_the_kill_switch_and_resumes_it(
    logged_in_page: Any, control_platform: Platform
) -> None:
    trader = logged_in_page("trader", on=control_platform)
    admin = logged_in_page("admin", on=control_platform)
    admin_api = DeskApi(control_platform, "admin")
    trader_api = DeskApi(control_platform, "trader")
    try:
        expect(risk_badge(admin)).to_have_text("Trading active")
        trader_risk = section(trader, "Trading").get_by_role("group", name="Risk")
        expect(trader_risk.locator(".risk-badge")).to_have_text("Trading active")
        assert trader_risk.get_by_role("button").count() == 0, "a trader sees risk controls"
        assert trader.get_by_role("button", name="Kill switch").count() == 0

        admin.get_by_role("button", name="Kill switch").click()
        dialog = admin.get_by_role("dialog", name="Engage the kill switch?")
        expect(dialog).to_be_visible()
        halt = dialog.get_by_role("button", name="Halt trading")
        expect(halt).to_be_disabled()
        confirm_word = dialog.get_by_label("Type HALT to confirm")
        expect(confirm_word).to_be_focused()
        confirm_word.fill("halt")
        expect(halt).to_be_disabled()
        confirm_word.fill("HALT")
        expect(halt).to_be_enabled()
        halt.click()
        expect(dialog).to_have_count(0)

        state = admin_api.get("/risk/state")
        assert state["state"] == "halted", state
        expect(risk_badge(admin)).to_have_text("Trading halted")
        expect(trader_risk.locator(".risk-badge")).to_have_text("Trading halted")
        expect(admin.get_by_role("button", name="Kill switch")).to_be_disabled()
        instrument = hook(trader, "() => window.__grekko.app.instrument()")
        denied = trader_api.client.post(
            "/orders",
            json={
                "instrument_id": instrument,
                "side": "buy",
                "type": "market",
                "quantity": "0.001",
            },
        )
        assert denied.status_code == 409, denied.text
        assert denied.json()["code"] == "order_denied"

        admin.get_by_role("button", name="Resume", exact=True).click()
        resume = admin.get_by_role("dialog", name="Resume trading?")
        resume.get_by_role("button", name="Resume trading").click()
        expect(resume).to_have_count(0)
        assert admin_api.get("/risk/state")["state"] == "active"
        expect(risk_badge(admin)).to_have_text("Trading active")
        expect(trader_risk.locator(".risk-badge")).to_have_text("Trading active")
        expect(admin.get_by_role("button", name="Resume", exact=True)).to_be_hidden()
        assert page_problems(admin) == []
        assert page_problems(trader) == []
    finally:
        admin_api.close()
        trader_api.close()


def test_the_desk_reconnects_after_a_server_restart_and_shows_new_events(
    logged_in_page: Any, control_platform: Platform
) -> None:
    page = logged_in_page("trader", on=control_platform)
    page.wait_for_function("() => window.__grekko.app.connected()")
    page.wait_for_function("() => window.__grekko.chart.candleCount() > 0")
    instrument = hook(page, "() => window.__grekko.app.instrument()")
    hook(page, WATCH_CONNECTION)
    hook(page, "() => { window.__e2eSamePage = true; }")  # a reload would lose it

    control_platform.restart()
    ready = time.monotonic()
    page.wait_for_function(
        "() => window.__grekko.app.connected() && window.__e2eConnection.includes('false')",
        timeout=RECONNECT_TIMEOUT_MS,
    )
    print(f"\nthe page reconnected {time.monotonic() - ready:.1f} s after the server was ready")
    assert hook(page, "() => window.__e2eConnection")[-2:] == ["false", "true"]
    expect(page.locator(".conn")).to_have_attribute("data-connected", "true")

    # the chart reloads once on the reconnection (its status says "Loading…" meanwhile); a bar
    # newer than what it loaded then can only come over the resubscribed market topic
    page.wait_for_function("() => document.querySelector('.chart-status').textContent === ''")
    loaded = hook(page, "() => window.__grekko.chart.lastCandle().time")
    page.wait_for_function("(t) => window.__grekko.chart.lastCandle().time > t", arg=loaded)

    api = DeskApi(control_platform, "trader")
    try:
        # an order placed through the API after the restart shows without a reload
        resting = api.place_order(
            {
                "instrument_id": instrument,
                "side": "buy",
                "type": "limit",
                "quantity": "0.002",
                "price": api.resting_buy_price(instrument),
                "time_in_force": "gtc",
            }
        )
        page.wait_for_function(
            "(id) => window.__grekko.trading.openOrders().some((o) => o.client_order_id === id)",
            arg=resting["client_order_id"],
        )
        trading = section(page, "Trading")
        trading.get_by_role("tab", name=re.compile("^Open orders")).click()
        expect(
            trading.locator(f'button[data-order-id="{resting["client_order_id"]}"]')
        ).to_be_visible()
        bought = api.place_order(
            {
                "instrument_id": instrument,
                "side": "buy",
                "type": "market",
                "quantity": "0.25",
                "time_in_force": "gtc",
            }
        )

        def bought_shows() -> None:
            assert api.get(f"/orders/{bought['client_order_id']}")["status"] == "filled"
            rows = hook(page, "() => window.__grekko.trading.positions()")
            held = [Decimal(r["quantity"]) for r in rows if r["instrument_id"] == instrument]
            assert held, rows
            assert held[0] >= Decimal("0.25"), held
            assert held[0] == api.position(instrument), (held, api.position(instrument))

        eventually(bought_shows)
        api.delete(f"/orders/{resting['client_order_id']}")
    finally:
        api.close()
    assert hook(page, "() => window.__e2eSamePage === true"), "the page was reloaded"
    problems = page_problems(page)
    assert outage_aside(problems) == [], problems
