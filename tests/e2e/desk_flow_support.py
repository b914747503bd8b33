"""Helpers of the desk-flow browser tests: the API as a given user, page hooks, polling.

Every check still runs against the real server and the real page; these helpers only read
(hooks on window.__grekko, REST answers) and wait. Functions, never expression strings, go to
page.evaluate and wait_for_function: the UI's CSP forbids eval.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

import httpx
from e2e_support import Platform

T = TypeVar("T")
EVENTUALLY_S = 10.0

# An accessible name as the desk gives them: aria-label, aria-labelledby, <label>, a button's text.
NAMELESS_CONTROLS = """
(selectors) => {
  const text = (node) => (node?.textContent ?? "").replace(/\\s+/g, " ").trim();
  const nameOf = (el) => {
    const aria = (el.getAttribute("aria-label") ?? "").trim();
    if (aria) return aria;
    const ids = (el.getAttribute("aria-labelledby") ?? "").split(/\\s+/).filter(Boolean);
    const byIds = ids.map((id) => text(document.getElementById(id))).join(" ").trim();
    if (byIds) return byIds;
    const labels = [...(el.labels ?? [])].map(text).join(" ").trim();
    if (labels) return labels;
    return el.tagName === "BUTTON" ? text(el) : "";
  };
  let checked = 0;
  const nameless = [];
  for (const selector of selectors) {
    for (const root of document.querySelectorAll(selector)) {
      for (const el of root.querySelectorAll("input, select, textarea, button")) {
        checked += 1;
        if (!nameOf(el)) nameless.push(el.outerHTML.slice(0, 160));
      }
    }
  }
  return { checked, nameless };
}
"""

# Pixels of the SMA line's colour (#f0b90b) on the chart's canvases; nothing else there is yellow.
SMA_PIXELS = """
() => {
  let count = 0;
  for (const canvas of document.querySelectorAll('section[aria-label="Chart"] canvas')) {
    const context = canvas.getContext("2d");
    if (!context || !canvas.width || !canvas.height) continue;
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const near = Math.abs(data[i] - 240) < 40 && Math.abs(data[i + 1] - 185) < 40;
      if (near && data[i + 2] < 90 && data[i + 3] > 100) count += 1;
    }
  }
  return count;
}
"""

# Records, in the page, when each open order first shows in the trading hook (epoch ms).
WATCH_OPEN_ORDERS = """
() => {
  const firstSeen = {};
  window.__e2eOpenOrdersSeen = firstSeen;
  const look = () => {
    if (window.__e2eOpenOrdersSeen !== firstSeen) return;
    const now = performance.timeOrigin + performance.now();
    for (const order of window.__grekko.trading.openOrders()) {
      if (!(order.client_order_id in firstSeen)) firstSeen[order.client_order_id] = now;
    }
    setTimeout(look, 2);
  };
  look();
}
"""


class DeskApi:
    """The REST API as one of the test users, through the server's own login."""

    def __init__(self, platform: Platform, role: str) -> None:
        username, password = platform.credentials(role)
        self.username = username
        self._platform = platform
        self._password = password
        self.client = httpx.Client(base_url=platform.url + "/api/v1", timeout=10)
        self.sign_in()

    def sign_in(self) -> None:
        token = self._platform.login(self.username, self._password)
        self.client.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        answer = self.client.get(path, params=params)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def post(
        self, path: str, body: Any = None, status: int = 201, headers: dict[str, str] | None = None
    ) -> Any:
        answer = self.client.post(path, json=body, headers=headers)
        assert answer.status_code == status, f"POST {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def delete(self, path: str, status: int = 200) -> Any:
        answer = self.client.delete(path)
        assert answer.status_code == status, f"DELETE {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def place_order(self, body: dict[str, Any]) -> dict[str, Any]:
        order: dict[str, Any] = self.post(
            "/orders", body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        return order

    def last_price(self, instrument_id: str) -> Decimal:
        last = self.get("/ticker", instrument_id=instrument_id)["last"]
        assert last is not None, f"no price yet for {instrument_id}"
        return Decimal(str(last))

    def resting_buy_price(self, instrument_id: str) -> str:
        """A limit buy price 9% under the market: inside the risk engine's 10% band, and far
        enough below the replayed price that the order stays open for the test's seconds."""
        price = self.last_price(instrument_id) * Decimal("0.91")
        return str(price.quantize(Decimal("0.01"), rounding=ROUND_DOWN))

    def position(self, instrument_id: str) -> Decimal:
        for row in self.get("/positions"):
            if row["instrument_id"] == instrument_id:
                return Decimal(row["quantity"])
        return Decimal(0)

    def manual_order_ids(self) -> set[str]:
        """This user's orders (ticket and API), newest 1000 orders of the desk."""
        orders = self.get("/orders", status="all", limit=1000)
        return {o["client_order_id"] for o in orders if o["strategy_id"] == self.manual_strategy}

    @property
    def manual_strategy(self) -> str:
        return f"manual:{self.username}"

    def close(self) -> None:
        self.client.close()


def section(page: Any, name: str) -> Any:
    """One of the desk's panels, a <section aria-label=name>."""
    return page.locator(f'section[aria-label="{name}"]')


def hook(page: Any, function: str, arg: Any = None) -> Any:
    return page.evaluate(function, arg)


def eventually(check: Callable[[], T], timeout_s: float = EVENTUALLY_S, every_s: float = 0.1) -> T:
    """check() until it stops raising AssertionError; then its value. On timeout, its last error."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(every_s)


def http_errors_aside(page_problems: list[str], *statuses: int) -> list[str]:
    """The page's problems but the console lines chromium writes for answers the test expects
    (a 401 for a wrong password, a 409 for a denied order)."""
    expected = tuple(f"the server responded with a status of {status}" for status in statuses)
    return [p for p in page_problems if not any(e in p for e in expected)]


def outage_aside(page_problems: list[str]) -> list[str]:
    """The page's problems but chromium's console lines about a server that was down."""
    outage = ("ERR_CONNECTION_REFUSED", "WebSocket connection to", "status of 502", "status of 503")
    return [p for p in page_problems if not any(o in p for o in outage)]


def displayed_decimal(text: str) -> Decimal:
    """A number as the desk shows it ("1,234.5", "−0.06") back to a Decimal."""
    return Decimal(text.strip().replace(",", "").replace("−", "-").replace("+", ""))
