"""The Coinbase venue inside a real kernel: orders pass the risk and execution engines, reach the
local Coinbase over signed HTTP, and come back as acceptances, fills, rejections and cancellations
that the order aggregates and the portfolio book."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from decimal import Decimal

import pytest
from coinbase_trading_server import CoinbaseTradingServer

from grekko.adapters.ccxt.coinbase_venue import CoinbaseVenue, run_inline
from grekko.adapters.ccxt.trading import CoinbaseTrading
from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.core.time import TestClock
from grekko.domain.commands import CancelOrder, SubmitOrder
from grekko.domain.data import TradeTick
from grekko.domain.enums import LiquiditySide, OrderSide, OrderStatus, OrderType
from grekko.domain.events import OrderAccepted, OrderCanceled, OrderFilled, OrderRejected
from grekko.domain.instruments import spot
from grekko.domain.risk import RiskLimits
from grekko.engines.kernel import Kernel
from recorded_exchange import load_fixture

IID = "BTC/USD@coinbase"
START_NS = 1_700_000_000 * 10**9
ORDERS = "/api/v3/brokerage/orders"
Job = Callable[[], None]


class Desk:
    def __init__(
        self,
        client: CoinbaseTrading,
        worker: Callable[[Job], None] = run_inline,
        hand_back: Callable[[Job], None] = run_inline,
    ) -> None:
        self.kernel = Kernel(
            TestClock(START_NS), InMemoryEventStore(), cash_currency="USD", limits=RiskLimits()
        )
        self.kernel.add_instrument(
            spot("BTC/USD", venue="coinbase", price_increment="0.01", size_increment="0.00000001")
        )
        clock = self.kernel.clock
        self.venue = CoinbaseVenue(
            client, self.kernel.cache.instrument, clock, worker=worker, hand_back=hand_back
        )
        self.kernel.add_venue(self.venue)
        self.kernel.fund("USD", Decimal(100_000))
        tick = TradeTick(IID, 45_100.0, 1.0, OrderSide.BUY, "seed", START_NS)
        self.kernel.data.process_trade(tick)
        self.count = 0

    def order(self, side: OrderSide, qty: str, price: str | None = None) -> str:
        self.count += 1
        cid = f"cb-{self.count}"
        self.kernel.risk.execute(
            SubmitOrder(
                ts_init=START_NS,
                client_order_id=cid,
                strategy_id="manual",
                instrument_id=IID,
                side=side,
                order_type=OrderType.LIMIT if price else OrderType.MARKET,
                quantity=Decimal(qty),
                price=Decimal(price) if price else None,
            )
        )
        return cid

    def status(self, cid: str) -> OrderStatus:
        return self.kernel.cache.orders[cid].status

    def events(self, cid: str) -> list[type]:
        return [type(e) for e in self.kernel.cache.orders[cid].events[2:]]  # after init, submit


@pytest.fixture
def desk(client: CoinbaseTrading) -> Desk:
    return Desk(client)


def test_an_accepted_order_and_its_replayed_fill_are_booked_once(
    desk: Desk, server: CoinbaseTradingServer
) -> None:
    cid = desk.order(OrderSide.BUY, "0.005", "45200")

    assert desk.status(cid) is OrderStatus.ACCEPTED
    [placed] = server.seen("POST", ORDERS)
    assert placed.body["client_order_id"] == cid
    assert placed.body["order_configuration"]["limit_limit_gtc"]["base_size"] == "0.005"
    order = desk.kernel.cache.orders[cid]
    assert order.venue_order_id == "0000-000000-000000"

    desk.venue.poll_fills()
    desk.venue.poll_fills()

    recorded = load_fixture("http_fills.json")["fills"][0]
    assert desk.status(cid) is OrderStatus.FILLED
    assert desk.events(cid) == [OrderAccepted, OrderFilled]
    fill = order.events[-1]
    assert isinstance(fill, OrderFilled)
    assert fill.trade_id == recorded["trade_id"]
    assert (fill.last_qty, fill.last_px) == (Decimal("0.005"), Decimal("45123.45"))
    assert (fill.fee, fill.fee_currency) == (Decimal("1.14"), "USD")
    assert fill.liquidity is LiquiditySide.MAKER
    assert desk.kernel.portfolio.position_qty(IID) == Decimal("0.005")
    assert len(server.seen("GET", f"{ORDERS}/historical/fills")) == 1  # then nothing left to follow


def test_a_refusal_is_an_order_rejected_with_coinbases_error_and_message(
    desk: Desk, server: CoinbaseTradingServer
) -> None:
    server.answer_next_orders("http_create_order_insufficient_fund.json")
    cid = desk.order(OrderSide.BUY, "2")

    assert desk.status(cid) is OrderStatus.REJECTED
    rejected = desk.kernel.cache.orders[cid].events[-1]
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason == "INSUFFICIENT_FUND: Insufficient balance in source account"
    assert server.seen("POST", ORDERS)[0].body["order_configuration"] == {
        "market_market_ioc": {"base_size": "2"}
    }
    assert cid not in desk.venue.open_order_ids()
    assert desk.kernel.portfolio.position_qty(IID) == 0


def test_no_answer_or_a_rate_limit_rejects_the_order_saying_so(
    desk: Desk, server: CoinbaseTradingServer
) -> None:
    server.fail_next(ORDERS, 503, "upstream connect error")
    server.fail_next(ORDERS, 429, '{"error":"rate_limit_exceeded","message":"Too many requests"}')
    unknown = desk.order(OrderSide.BUY, "0.005", "45200")
    limited = desk.order(OrderSide.BUY, "0.005", "45200")

    assert desk.status(unknown) is OrderStatus.REJECTED
    assert desk.status(limited) is OrderStatus.REJECTED
    unknown_reason = desk.kernel.cache.orders[unknown].events[-1]
    limited_reason = desk.kernel.cache.orders[limited].events[-1]
    assert isinstance(unknown_reason, OrderRejected)
    assert isinstance(limited_reason, OrderRejected)
    assert unknown_reason.reason.startswith("no answer from Coinbase, order state unknown")
    assert "ExchangeNotAvailable" in unknown_reason.reason
    assert "RateLimitExceeded" in limited_reason.reason
    assert "state unknown" not in limited_reason.reason
    assert len(server.seen("POST", ORDERS)) == 2  # never resent


def test_a_cancel_books_the_fills_made_before_it_then_the_cancellation(
    desk: Desk, server: CoinbaseTradingServer
) -> None:
    cid = desk.order(OrderSide.BUY, "0.01", "45200")
    desk.kernel.risk.execute(CancelOrder(ts_init=START_NS, client_order_id=cid, reason="user"))

    assert desk.status(cid) is OrderStatus.CANCELED
    assert desk.events(cid) == [OrderAccepted, OrderFilled, OrderCanceled]
    assert desk.kernel.cache.orders[cid].filled_qty == Decimal("0.005")
    [cancel] = server.seen("POST", f"{ORDERS}/batch_cancel")
    assert cancel.body == {"order_ids": ["0000-000000-000000"]}
    desk.venue.poll_fills()
    assert desk.events(cid) == [OrderAccepted, OrderFilled, OrderCanceled]


def test_an_order_coinbase_closes_on_its_own_is_settled_after_its_fills(
    desk: Desk, server: CoinbaseTradingServer
) -> None:
    cid = desk.order(OrderSide.BUY, "0.01", "45200")
    desk.venue.poll_fills()
    assert desk.status(cid) is OrderStatus.PARTIALLY_FILLED  # still OPEN on Coinbase

    server.close_order("0000-000000-000000", "CANCELLED")
    desk.venue.poll_fills()

    assert desk.status(cid) is OrderStatus.CANCELED
    assert desk.events(cid) == [OrderAccepted, OrderFilled, OrderCanceled]
    canceled = desk.kernel.cache.orders[cid].events[-1]
    assert isinstance(canceled, OrderCanceled)
    assert canceled.reason == "coinbase: CANCELLED"


def test_open_order_ids_come_from_coinbase(desk: Desk) -> None:
    recorded = [
        *load_fixture("http_orders_list.json")["orders"],
        load_fixture("http_order.json")["order"],
    ]
    open_on_coinbase = {o["client_order_id"] for o in recorded if o["status"] == "OPEN"}
    assert len(open_on_coinbase) == 2
    assert desk.venue.open_order_ids() == open_on_coinbase
    cid = desk.order(OrderSide.BUY, "0.01", "45200")
    assert desk.venue.open_order_ids() == open_on_coinbase | {cid}


def test_a_restarted_venue_follows_open_orders_without_repeating_their_fills(
    desk: Desk, client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    cid = desk.order(OrderSide.BUY, "0.01", "45200")
    desk.venue.poll_fills()
    assert desk.status(cid) is OrderStatus.PARTIALLY_FILLED

    restarted = CoinbaseVenue(client, desk.kernel.cache.instrument, desk.kernel.clock)
    restarted.bind(desk.kernel.execution.handle_venue_event)
    restarted.follow(desk.kernel.cache.open_orders_for())
    restarted.poll_fills()

    assert len(server.seen("GET", f"{ORDERS}/historical/fills")) == 2
    assert desk.events(cid) == [OrderAccepted, OrderFilled]
    assert cid in restarted.open_order_ids()


def test_worker_threads_run_jobs_in_order_and_events_wait_for_the_kernel_thread(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    pool = ThreadPoolExecutor(max_workers=4)
    futures: list[Future[None]] = []
    job_threads: set[int] = set()
    returned: queue.SimpleQueue[Job] = queue.SimpleQueue()

    def worker(job: Job) -> None:
        def run() -> None:
            job_threads.add(threading.get_ident())
            job()

        futures.append(pool.submit(run))

    desk = Desk(client, worker=worker, hand_back=returned.put)
    server.number_next_orders("0000-000000-000000", "0000-000000-000001")
    first = desk.order(OrderSide.BUY, "0.005", "45200")
    second = desk.order(OrderSide.BUY, "0.001", "45000")
    desk.venue.poll_fills()
    wait(futures)
    pool.shutdown()

    assert threading.get_ident() not in job_threads
    assert desk.status(first) is OrderStatus.SUBMITTED  # nothing applied off the kernel thread
    while not returned.empty():
        returned.get()()
    assert desk.status(first) is OrderStatus.FILLED
    assert desk.events(first) == [OrderAccepted, OrderFilled]
    assert desk.status(second) is OrderStatus.ACCEPTED
    assert [r.body["client_order_id"] for r in server.seen("POST", ORDERS)] == [first, second]
