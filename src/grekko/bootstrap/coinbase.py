"""Linking Coinbase at run time: the CDP key goes into the secrets store, the client is checked
against the exchange, and the `coinbase` venue joins the kernel so its orders pass the same risk
engine as every other venue's. Onramp links are built and tracked here too.

A listed product's market data keeps flowing while Coinbase is linked: a poller thread reads its
closed 1m candles and best bid/ask (coinbase.poll_market_s), and the records come back to the
kernel's thread, through the ingest pipeline's normalizer and validator (rejects are kept in
`quarantine`), into kernel.data as bars and quotes of e.g. BTC/USD@coinbase. Unlinking stops
the pollers, closes the client and removes the key from the secrets store; the venue then
rejects orders until Coinbase is linked again, when the listed products are polled again.

Bus events: `coinbase.connection.established`, `coinbase.connection.closed` (unlinked),
`coinbase.transaction.completed` (an order of the coinbase venue filled), `coinbase.error.occurred`
(a failed link, call or market data poll), each a plain dict with no secret in it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from grekko.adapters.ccxt.coinbase_records import (
    CoinbaseError,
    CoinbaseNotLinked,
    CoinbaseOrdersWorking,
)
from grekko.core.errors import ConfigError
from grekko.settings import Settings

log = logging.getLogger("grekko.coinbase")

VENUE = "coinbase"
UNLINKED = "Coinbase is not linked: link it again with POST /api/v1/coinbase/connect"


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
    market: Any = None  # CoinbaseMarketPoller once a product is listed
    quarantine: Any = None  # market data the pipeline rejected
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fills_stop: threading.Event | None = None
    _fills: threading.Thread | None = None
    _pipeline: Any = None  # (normalizer, bar validator, quote validator)

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

    def _on_kernel(self, job: Callable[[], None]) -> None:
        """Run `job` on the kernel's thread: through the loop, else at the handoff's next drain."""
        loop = self.loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(job)
        else:
            self.handoff.hand_back(job)

    def __post_init__(self) -> None:
        from grekko.adapters.ccxt.onramp import InMemoryOnrampTracker
        from grekko.engines.ingest.normalizer import Normalizer
        from grekko.engines.ingest.quarantine import Quarantine
        from grekko.engines.ingest.validator import Validator

        self.tracker = InMemoryOnrampTracker()
        # bars and quotes are checked apart: a bar opens a minute before the book's time
        self._pipeline = (Normalizer(), Validator(), Validator())
        self.quarantine = Quarantine(capacity=1000)

    # ---- linking (blocking: call it off the event loop) -------------------------------------
    def connect(self, key_name: str, private_key_pem: str) -> list[Any]:
        """Store the key, open the client and prove it with the accounts; the accounts."""
        from grekko.adapters.ccxt.coinbase_auth import CredentialNames
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
            old, self.client = self.client, client
            if old is not None:
                old.close()
            self._resume(client)
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
        self._watch(product.symbol)
        return iid

    def polled(self) -> list[str]:
        """The symbols whose market data is polled while Coinbase is linked."""
        return list(self.market.symbols) if self.market is not None else []

    # ---- market data ---------------------------------------------------------------------------
    def _watch(self, symbol: str) -> None:
        client = self.client
        if self.market is None:
            if client is None:  # unlinked meanwhile: listed, polled once linked again
                return
            from grekko.adapters.ccxt.coinbase_market import CoinbaseMarketPoller

            every = self.settings.coinbase.poll_market_s
            self.market = CoinbaseMarketPoller(
                client, every, self._deliver, self._market_failed,
                max_backoff_s=max(60.0, every),
            )  # fmt: skip
        self.market.add(symbol)
        if client is not None:
            self.market.start()

    def _deliver(self, _symbol: str, records: list[Any]) -> None:
        """From the poller's thread: the records go to the kernel's thread."""
        self._on_kernel(functools.partial(self._ingest, records))

    def _ingest(self, records: list[Any]) -> None:
        from grekko.domain.raw import RawBar, RawQuote
        from grekko.engines.ingest.quarantine import Rejected

        normalizer, bars, quotes = self._pipeline
        for raw in records:
            try:
                if isinstance(raw, RawBar):
                    bar = normalizer.bar(raw)
                    bars.bar(bar)
                    self.kernel.data.process_bar(bar)
                elif isinstance(raw, RawQuote):
                    quote = normalizer.quote(raw)
                    quotes.quote(quote)
                    self.kernel.data.process_quote(quote)
            except Rejected as error:
                stream = f"{VENUE}:{raw.symbol}"
                self.quarantine.add(stream, error, raw, self.kernel.clock.timestamp_ns())

    def _market_failed(self, symbol: str, exc: Exception) -> None:
        """From the poller's thread; CoinbaseError messages have the key name blanked already."""
        error = str(exc) if isinstance(exc, CoinbaseError | ConfigError) else type(exc).__name__
        report = {"during": "market data", "symbol": symbol, "error": error}
        self._on_kernel(functools.partial(self.publish, "coinbase.error.occurred", report))

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
        self._start_fills()

    def _start_fills(self) -> None:
        """Coinbase reports fills when asked: ask every poll_fills_s until unlinked or closed."""
        if self._fills_stop is not None and not self._fills_stop.is_set():
            return
        stop = self._fills_stop = threading.Event()
        venue, every = self.venue, self.settings.coinbase.poll_fills_s

        def poll() -> None:
            while not stop.wait(every):
                venue.poll_fills()

        self._fills = threading.Thread(target=poll, name="coinbase-fills", daemon=True)
        self._fills.start()

    def _resume(self, client: Any) -> None:
        """Linked (again): the venue and the pollers of listed products use this client."""
        if self.venue is not None:
            self.venue.link(client)
            self._start_fills()
        if self.market is not None:
            self.market.client = client
            self.market.start()

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

    # ---- unlinking -----------------------------------------------------------------------------
    def detach(self) -> Any:
        """On the kernel's thread: stop trading and polling at once; the client, to `release`.

        Refused while the venue still follows orders: without the key their fills and
        cancellation could not be heard, so they would stay open here whatever Coinbase did."""
        working = self.venue.working_order_ids() if self.venue is not None else set()
        if working:
            named = ", ".join(sorted(working)[:5])
            raise CoinbaseOrdersWorking(
                f"{len(working)} order(s) on Coinbase still working ({named}); "
                "cancel them or let them fill before unlinking"
            )
        if self.venue is not None:
            self.venue.unlink(UNLINKED)
        if self._fills_stop is not None:
            self._fills_stop.set()
        if self.market is not None:
            self.market.halt()
        client, self.client = self.client, None
        return client

    def release(self, client: Any) -> bool:
        """Off the loop, after `detach`: wait for the pollers, close the client and remove the key
        from the secrets store, unless Coinbase was linked again meanwhile. True if removed."""
        from grekko.adapters.ccxt.coinbase_auth import CredentialNames
        from grekko.ports.secrets import SecretNotFound

        self._join_pollers()
        removed = False
        with self._lock:
            if client is not None:
                client.close()
            if self.client is None:
                for name in (CredentialNames().api_key, CredentialNames().api_secret):
                    try:
                        self.vault.delete(name)
                        removed = True
                    except SecretNotFound:
                        pass
        self.publish(
            "coinbase.connection.closed", {"was_linked": client is not None, "key_removed": removed}
        )
        return removed

    def _join_pollers(self) -> None:
        if self.market is not None and self.client is None:
            self.market.stop()
        fills, stopped = self._fills, self._fills_stop
        if fills is not None and stopped is not None and stopped.is_set():
            fills.join(timeout=15)

    def close(self) -> None:
        if self._fills_stop is not None:
            self._fills_stop.set()
        if self.market is not None:
            self.market.stop()
        if self.handoff is not None:
            self.handoff.close()
        if self.client is not None:
            self.client.close()
            self.client = None
