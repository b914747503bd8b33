"""Linking Coinbase at run time: the CDP key goes into the secrets store, the client is checked
against the exchange, and the `coinbase` venue joins the kernel so its orders pass the same risk
engine as every other venue's. Onramp links are built and tracked here too.

Bus events: `coinbase.connection.established`, `coinbase.transaction.completed` (an order of the
coinbase venue filled), `coinbase.error.occurred` (a failed link or call), each a plain dict with
no secret in it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from grekko.adapters.ccxt.coinbase_records import CoinbaseNotLinked
from grekko.core.errors import ConfigError
from grekko.settings import Settings

log = logging.getLogger("grekko.coinbase")

VENUE = "coinbase"


@dataclass
class CoinbaseLink:
    kernel: Any
    vault: Any
    settings: Settings
    loop: asyncio.AbstractEventLoop | None = None  # the kernel's loop, set by the API
    client: Any = None  # CoinbaseTrading once linked
    venue: Any = None  # CoinbaseVenue once linked
    tracker: Any = None  # OnrampTracker
    handoff: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _poller: threading.Thread | None = None

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Onto the kernel's bus from any thread: through the loop when called off it."""
        loop = self.loop
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if loop is None or on_loop or not loop.is_running():
            self.kernel.bus.publish(topic, payload)
        else:
            loop.call_soon_threadsafe(self.kernel.bus.publish, topic, payload)

    def __post_init__(self) -> None:
        from grekko.adapters.ccxt.onramp import InMemoryOnrampTracker

        self.tracker = InMemoryOnrampTracker()

    # ---- linking (blocking: call it off the event loop) -------------------------------------
    def connect(self, key_name: str, private_key_pem: str) -> list[Any]:
        """Store the key, open the client and prove it with the accounts; the accounts."""
        from grekko.adapters.ccxt.coinbase_auth import CredentialNames
        from grekko.adapters.ccxt.coinbase_records import CoinbaseError
        from grekko.adapters.ccxt.trading import open_coinbase_trading

        names = CredentialNames()
        with self._lock:
            self.vault.put(names.api_key, key_name)
            self.vault.put(names.api_secret, private_key_pem)
            urls = (
                {"rest": self.settings.coinbase.rest_url}
                if self.settings.coinbase.rest_url
                else None
            )
            try:
                client = open_coinbase_trading(self.vault, api_urls=urls)
                accounts = client.accounts()
            except (CoinbaseError, ConfigError) as exc:
                self.publish("coinbase.error.occurred", {"during": "connect", "error": str(exc)})
                raise
            if self.client is not None:
                self.client.close()
            self.client = client
        self.publish("coinbase.connection.established", {"accounts": len(accounts)})
        return list(accounts)

    def book_balances(self, accounts: list[Any]) -> dict[str, Decimal]:
        """On the kernel's thread: Coinbase's balances (available + on hold) into the account,
        as funding of the difference, so risk checks see what the exchange holds."""
        held: dict[str, Decimal] = {}
        for account in accounts:
            if account.currency and account.active:
                held[account.currency] = (
                    held.get(account.currency, Decimal(0)) + account.available + account.hold
                )
        changes: dict[str, Decimal] = {}
        for currency, amount in sorted(held.items()):
            delta = amount - self.kernel.portfolio.account.total(currency)
            if delta:
                self.kernel.fund(currency, delta)
                changes[currency] = delta
        return changes

    def linked(self) -> Any:
        if self.client is None:
            raise CoinbaseNotLinked("link Coinbase first: POST /api/v1/coinbase/connect")
        return self.client

    def fetch_market(self, symbol: str) -> tuple[Any, Decimal]:
        """(product, mid price) from Coinbase now; blocking, so off the event loop."""
        client = self.linked()
        product = client.product(symbol)
        book = client.order_book(symbol, 1)
        if not book.bids or not book.asks:
            raise CoinbaseNotLinked(f"Coinbase has no two-sided book for {symbol}")
        return product, (book.bids[0][0] + book.asks[0][0]) / 2

    def list_market(self, product: Any, mid: Decimal) -> str:
        """On the kernel's thread: the coinbase venue (once), the product as an instrument, and
        the book's mid as its reference price for the risk engine. The instrument id."""
        from grekko.domain.data import TradeTick
        from grekko.domain.enums import OrderSide
        from grekko.domain.instruments import Instrument

        self._ensure_venue()
        iid = f"{product.symbol}@{VENUE}"
        if self.kernel.cache.instrument(iid) is None:
            self.kernel.add_instrument(
                Instrument(
                    symbol=product.symbol, venue=VENUE, base=product.base, quote=product.quote,
                    price_increment=product.price_increment,
                    size_increment=product.size_increment,
                    min_notional=product.min_notional or Decimal(0),
                )
            )  # fmt: skip
        now = self.kernel.clock.timestamp_ns()
        tick = TradeTick(iid, float(mid), 0.0, OrderSide.BUY, "coinbase-book-mid", now)
        self.kernel.data.process_trade(tick)
        return iid

    def _ensure_venue(self) -> None:
        if self.venue is not None:
            return
        from grekko.adapters.ccxt.coinbase_venue import CoinbaseVenue
        from grekko.bootstrap.handoff import Handoff

        self.handoff = Handoff()
        self.venue = CoinbaseVenue(
            self.linked(), self.kernel.cache.instrument, self.kernel.clock,
            worker=self.handoff.worker, hand_back=self.handoff.hand_back,
        )  # fmt: skip
        self.kernel.add_venue(self.venue)
        self.kernel.bus.subscribe("events.order.*", self._on_order_event)
        self._poller = threading.Thread(target=self._poll, name="coinbase-fills", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        """Coinbase reports fills when asked: ask every poll_fills_s until closed."""
        while not self._stop.wait(self.settings.coinbase.poll_fills_s):
            venue = self.venue
            if venue is not None:
                venue.poll_fills()

    def _on_order_event(self, event: Any) -> None:
        if type(event).__name__ != "OrderFilled" or not event.instrument_id.endswith("@" + VENUE):
            return
        self.publish(
            "coinbase.transaction.completed",
            {
                "client_order_id": event.client_order_id,
                "instrument_id": event.instrument_id,
                "side": str(event.side),
                "quantity": str(event.last_qty),
                "price": str(event.last_px),
            },
        )

    def close(self) -> None:
        self._stop.set()
        if self.handoff is not None:
            self.handoff.close()
        if self.client is not None:
            self.client.close()
            self.client = None
