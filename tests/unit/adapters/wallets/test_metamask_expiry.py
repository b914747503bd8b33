"""A MetaMask request lives until its expires_at by the bridge's clock (injected here, so no test
sleeps), a hash answers one request only, and a disconnected bridge takes nothing.

Requests go out on a real MessageBus and are answered with a real key; the bridge's web3 points
at a closed port, so no transaction is ever confirmed here (the chain side is tested against
anvil in tests/integration/security).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from grekko.adapters.wallets.metamask import MetaMaskBridge, MetaMaskNotice, RequestRefused
from grekko.core.time import LiveClock
from grekko.engines.bus import MessageBus
from grekko.engines.wallets import WalletManager
from grekko.ports.wallet import ChainInfo, TxRequest, WalletError

USER = 9
CLOSED = "http://127.0.0.1:9"
WETH = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
S = 1_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000 * S

    def __call__(self) -> int:
        return self.now


class Heard:
    """What the bridge published, by topic, on a real bus (thread-safe like the API's)."""

    def __init__(self) -> None:
        self.bus = MessageBus()
        self.topics: list[tuple[str, Any]] = []
        self._cond = threading.Condition()

    def publish(self, topic: str, message: object) -> None:
        with self._cond:
            self.bus.publish(topic, message)
            self.topics.append((topic, message))
            self._cond.notify_all()

    def wait_for(self, suffix: str, count: int = 1) -> list[Any]:
        def got() -> list[Any]:
            return [m for t, m in self.topics if t.endswith(suffix)]

        with self._cond:
            assert self._cond.wait_for(lambda: len(got()) >= count, timeout=10), self.topics
        return got()


@pytest.fixture
def bridge() -> Iterator[tuple[MetaMaskBridge, Heard, Clock, Any]]:
    heard, clock = Heard(), Clock()
    w3 = Web3(Web3.HTTPProvider(CLOSED, request_kwargs={"timeout": 2}))
    chains = [ChainInfo(31337, "devnet", CLOSED)]
    mm = MetaMaskBridge(USER, w3, heard.publish, chains, timeout_s=60, clock_ns=clock)
    account = Account.create()
    mm.attach(account.address, 31337)
    yield mm, heard, clock, account
    mm.disconnect()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=3) as executor:
        yield executor


def signature(account: Any, request: Any) -> str:
    message = bytes.fromhex(request.params[0][2:])
    return "0x" + bytes(account.sign_message(encode_defunct(message)).signature).hex()


def test_an_answer_after_expires_at_is_refused_and_the_caller_told(
    bridge: Any, pool: ThreadPoolExecutor
) -> None:
    mm, heard, clock, account = bridge
    waiting = pool.submit(mm.sign_message, "sign before it expires")
    (request,) = heard.wait_for(".request")
    assert request.expires_at == clock.now + 60 * S
    clock.now = request.expires_at  # the clock reaches expires_at: not a second longer
    with pytest.raises(RequestRefused, match="expired unanswered") as late:
        mm.resolve(request.request_id, signature(account, request), user_id=USER)
    assert late.value.reason == "expired"
    with pytest.raises(WalletError, match="did not answer within 60 s"):
        waiting.result(timeout=10)
    settled = heard.wait_for(".request_settled")
    assert [n.data for n in settled] == [{"request_id": request.request_id, "outcome": "expired"}]
    with pytest.raises(RequestRefused, match="expired") as again:
        mm.reject(request.request_id, "too late anyway", user_id=USER)
    assert again.value.reason == "expired"


def test_listing_the_pending_requests_settles_the_expired_ones(
    bridge: Any, pool: ThreadPoolExecutor
) -> None:
    mm, heard, clock, _ = bridge
    older = pool.submit(mm.send_transaction, TxRequest(to=WETH, value=1))
    heard.wait_for(".request")
    clock.now += 30 * S
    newer = pool.submit(mm.send_transaction, TxRequest(to=WETH, value=2))
    first, second = heard.wait_for(".request", 2)
    clock.now += 31 * S  # the first is 61 s old, the second 31 s
    assert [r.request_id for r in mm.pending()] == [second.request_id]
    with pytest.raises(WalletError, match="did not answer"):
        older.result(timeout=10)
    assert not newer.done()
    mm.reject(second.request_id, "no", user_id=USER)
    with pytest.raises(WalletError, match="rejected in the browser"):
        newer.result(timeout=10)
    outcomes = {n.data["request_id"]: n.data["outcome"] for n in heard.wait_for("_settled", 2)}
    assert outcomes == {first.request_id: "expired", second.request_id: "rejected"}


def test_one_hash_answers_one_request(bridge: Any, pool: ThreadPoolExecutor) -> None:
    mm, heard, _, _ = bridge
    tx = TxRequest(to=WETH, value=10**17)
    one, two = pool.submit(mm.send_transaction, tx), pool.submit(mm.send_transaction, tx)
    first, second = heard.wait_for(".request", 2)
    tx_hash = "0x" + "ab" * 32
    mm.resolve(first.request_id, tx_hash, user_id=USER)
    with pytest.raises(
        RequestRefused, match=f"already answered MetaMask request {first.request_id}"
    ):
        mm.resolve(second.request_id, tx_hash.upper().replace("0X", "0x"), user_id=USER)
    assert [r.request_id for r in mm.pending()] == [second.request_id]  # still answerable
    mm.reject(second.request_id, "no", user_id=USER)
    for future in (one, two):
        with pytest.raises(WalletError):
            future.result(timeout=10)


def test_a_disconnect_is_heard_and_nothing_is_taken_afterwards(
    bridge: Any, pool: ThreadPoolExecutor
) -> None:
    mm, heard, _, account = bridge
    manager = WalletManager(heard.bus, LiveClock())
    manager.register(mm)
    waiting = pool.submit(mm.sign_message, "sign this")
    (request,) = heard.wait_for(".request")
    mm.disconnect()
    with pytest.raises(WalletError, match="disconnected"):
        waiting.result(timeout=10)
    changed = [m for t, m in heard.topics if t == "metamask.account.changed"]
    assert isinstance(changed[-1], MetaMaskNotice)
    assert changed[-1].data == {"accounts": [], "previous": account.address}
    with pytest.raises(RequestRefused, match="already rejected") as late:
        mm.resolve(request.request_id, signature(account, request), user_id=USER)
    assert late.value.reason == "settled"
    for ask in (
        lambda: mm.sign_message("again"),
        lambda: mm.request_transaction(TxRequest(to=WETH, value=1)),
        lambda: manager.sign_message(mm.provider_id, "again"),
        lambda: manager.connected(mm.provider_id),
    ):
        with pytest.raises(WalletError, match="not connected"):
            ask()
    assert mm.pending() == []
