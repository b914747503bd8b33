"""MetaMaskBridge's request lifecycle: the platform's thread blocks on a request published on a
real MessageBus until the "browser" (this test, with a real key) answers, refuses, or is late.

No node runs here: the bridge's web3 points at a closed port, so a sent transaction's receipt
can never be found: the bridge must report it failed, never confirmed, and its caller gets a
WalletError, never the unchecked hash.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from grekko.adapters.wallets.metamask import MetaMaskBridge, MetaMaskRequest, RequestRefused
from grekko.core.time import LiveClock
from grekko.engines.bus import MessageBus
from grekko.engines.wallets import WalletManager, WalletNotice
from grekko.ports.wallet import ChainInfo, TxRequest, WalletError

USER = 7
CLOSED = "http://127.0.0.1:9"
WETH = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DEPOSIT = bytes.fromhex("d0e30db0")


class Recorder:
    """The bridge's thread-safe publish onto a real MessageBus (here a lock; the API hands
    publishes to its event loop), and everything the bus delivered, to wait on."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.seen: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        bus.subscribe("wallet.*", self._relayed)

    def publish(self, topic: str, message: object) -> None:
        with self._cond:
            self.bus.publish(topic, message)
            if not isinstance(message, WalletNotice):
                self.seen.append((topic, message))
            self._cond.notify_all()

    def _relayed(self, notice: object) -> None:
        """The WalletManager's relay of an EIP-1193 event (it publishes on the caller's thread)."""
        if isinstance(notice, WalletNotice):
            self.seen.append((f"wallet.{notice.provider_id}.{notice.event}", notice))

    def wait_for(self, topic_end: str, count: int = 1) -> list[Any]:
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.on(topic_end)) >= count, timeout=10)
        assert ok, f"nothing on *{topic_end}; saw {[t for t, _ in self.seen]}"
        return self.on(topic_end)

    def on(self, topic_end: str) -> list[Any]:
        return [m for t, m in self.seen if t.endswith(topic_end)]


@pytest.fixture
def setup() -> Iterator[tuple[MetaMaskBridge, Recorder, Any, WalletManager]]:
    bus = MessageBus()
    recorder = Recorder(bus)
    w3 = Web3(Web3.HTTPProvider(CLOSED, request_kwargs={"timeout": 2}))
    bridge = MetaMaskBridge(USER, w3, recorder.publish, [ChainInfo(31337, "devnet", CLOSED)])
    manager = WalletManager(bus, LiveClock())
    manager.register(bridge)
    account = Account.create()
    bridge.attach(account.address, 31337)
    yield bridge, recorder, account, manager
    bridge.disconnect()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def asked(browser: Recorder, count: int = 1) -> MetaMaskRequest:
    request: MetaMaskRequest = browser.wait_for(".request", count)[-1]
    return request


def in_thread(pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
    return pool.submit(fn, *args)


def personal_sign(account: Any, request: MetaMaskRequest) -> str:
    message = bytes.fromhex(request.params[0][2:])
    return "0x" + bytes(account.sign_message(encode_defunct(message)).signature).hex()


def test_attach_connects_and_relays_eip1193_events(setup: Any) -> None:
    bridge, browser, account, manager = setup
    assert (bridge.provider_id, bridge.name) == ("metamask:7", "MetaMask")
    assert bridge.get_accounts() == bridge.connect() == [account.address]
    assert manager.connected("metamask:7") is bridge
    assert browser.on("metamask:7.connect")[0].payload == 31337
    assert browser.on("metamask:7.accountsChanged")[0].payload == [account.address]
    assert browser.on("metamask.account.changed")[0].data["accounts"] == [account.address]
    bridge.report_chain(31337)  # no change, no event
    bridge.report_chain(1)
    assert bridge.chain_id == 1
    assert [n.payload for n in browser.on("metamask:7.chainChanged")] == [1]
    assert browser.on("metamask.network.changed")[0].data == {"chain_id": 1, "previous": 31337}


def test_a_signature_is_asked_of_the_browser_and_checked(setup: Any, pool: Any) -> None:
    bridge, browser, account, _ = setup
    waiting = in_thread(pool, bridge.sign_message, "grekko wants a signature")
    request = asked(browser)
    assert request.method == "personal_sign"
    assert request.params == ["0x" + b"grekko wants a signature".hex(), account.address]
    assert [r.request_id for r in bridge.pending()] == [request.request_id]
    stranger = Account.create()
    with pytest.raises(RequestRefused, match="not by the connected account") as refused:
        bridge.resolve(request.request_id, personal_sign(stranger, request), user_id=USER)
    assert refused.value.reason == "malformed"
    assert not waiting.done()
    signature = personal_sign(account, request)
    bridge.resolve(request.request_id, signature, user_id=USER)
    assert waiting.result(timeout=10) == bytes.fromhex(signature[2:])
    assert bridge.pending() == []
    settled = browser.wait_for("metamask:7.request_settled")[0].data
    assert settled == {"request_id": request.request_id, "outcome": "answered"}


def test_a_transaction_goes_out_as_eip1193_json_and_returns_the_hash(setup: Any, pool: Any) -> None:
    bridge, browser, account, _ = setup
    tx = TxRequest(to=WETH, value=10**17, data=DEPOSIT, gas=90_000)
    waiting = in_thread(pool, bridge.send_transaction, tx)
    request = asked(browser)
    assert (request.method, request.kind) == ("eth_sendTransaction", "transaction")
    assert request.params == [
        {
            "from": account.address,
            "to": WETH,
            "value": "0x16345785d8a0000",
            "data": "0xd0e30db0",
            "chainId": "0x7a69",
            "gas": "0x15f90",
        }
    ]
    with pytest.raises(RequestRefused, match="32-byte hash"):
        bridge.resolve(request.request_id, "0x1234", user_id=USER)
    tx_hash = "0x" + "ab" * 32
    bridge.resolve(request.request_id, tx_hash, user_id=USER)
    with pytest.raises(WalletError, match=f"MetaMask transaction {tx_hash} was not mined"):
        waiting.result(timeout=10)  # the hash is taken only once the node mined it as asked
    failed = browser.wait_for("metamask.transaction.failed")[0].data  # no node to find it on
    assert failed["tx_hash"] == tx_hash
    assert failed["reason"].startswith("no receipt")
    assert browser.on("metamask.transaction.confirmed") == []


def test_a_rejection_in_the_browser_is_a_wallet_error(setup: Any, pool: Any) -> None:
    bridge, browser, _, _ = setup
    waiting = in_thread(pool, bridge.send_transaction, TxRequest(to=WETH, value=1))
    request = asked(browser)
    bridge.reject(request.request_id, "User rejected the request.", user_id=USER)
    with pytest.raises(WalletError, match="rejected in the browser: User rejected the request"):
        waiting.result(timeout=10)
    with pytest.raises(RequestRefused, match="already rejected") as second:
        bridge.resolve(request.request_id, "0x" + "cd" * 32, user_id=USER)
    assert second.value.reason == "settled"


def test_an_unanswered_request_times_out_and_a_late_answer_is_refused(
    setup: Any, pool: Any
) -> None:
    bridge, browser, _, _ = setup
    bridge.timeout_s = 0.3
    waiting = in_thread(pool, bridge.send_transaction, TxRequest(to=WETH, value=1))
    request = asked(browser)
    with pytest.raises(WalletError, match=r"did not answer within 0\.3 s"):
        waiting.result(timeout=10)
    with pytest.raises(RequestRefused, match="expired") as late:
        bridge.resolve(request.request_id, "0x" + "ab" * 32, user_id=USER)
    assert late.value.reason == "expired"
    assert browser.wait_for("metamask:7.request_settled")[0].data["outcome"] == "expired"


def test_a_second_answer_is_refused(setup: Any, pool: Any) -> None:
    bridge, browser, _, _ = setup
    waiting = in_thread(pool, bridge.send_transaction, TxRequest(to=WETH, value=1))
    request = asked(browser)
    first = "0x" + "01" * 32
    bridge.resolve(request.request_id, first, user_id=USER)
    with pytest.raises(RequestRefused, match="already answered"):
        bridge.resolve(request.request_id, "0x" + "02" * 32, user_id=USER)
    with pytest.raises(RequestRefused, match="already answered"):
        bridge.reject(request.request_id, "changed my mind", user_id=USER)
    with pytest.raises(WalletError, match=f"{first} was not mined"):  # the first one counts
        waiting.result(timeout=10)


def test_another_users_answer_is_refused(setup: Any, pool: Any) -> None:
    bridge, browser, _, _ = setup
    waiting = in_thread(pool, bridge.send_transaction, TxRequest(to=WETH, value=1))
    request = asked(browser)
    with pytest.raises(RequestRefused, match="belongs to another user") as foreign:
        bridge.reject(request.request_id, "not yours", user_id=USER + 1)
    assert foreign.value.reason == "foreign"
    assert [r.request_id for r in bridge.pending()] == [request.request_id]
    bridge.resolve(request.request_id, "0x" + "03" * 32, user_id=USER)
    with pytest.raises(WalletError, match="0x0303"):
        waiting.result(timeout=10)
    with pytest.raises(RequestRefused, match="no MetaMask request"):
        bridge.resolve("f" * 32, "0x" + "03" * 32, user_id=USER)


def test_disconnect_rejects_what_is_pending_and_the_wallet_is_refused(
    setup: Any, pool: Any
) -> None:
    bridge, browser, _, manager = setup
    waiting = [
        in_thread(pool, bridge.send_transaction, TxRequest(to=WETH, value=1)),
        in_thread(pool, bridge.sign_message, b"\x01\x02"),
    ]
    asked(browser, 2)
    bridge.disconnect()
    for future in waiting:
        with pytest.raises(WalletError, match="disconnected"):
            future.result(timeout=10)
    assert bridge.pending() == []
    assert bridge.get_accounts() == []
    assert browser.on("metamask:7.accountsChanged")[-1].payload == []
    assert len(browser.on("metamask:7.disconnect")) == 1
    with pytest.raises(WalletError, match="not connected"):
        manager.send_transaction("metamask:7", TxRequest(to=WETH, value=1))
    with pytest.raises(WalletError, match="not connected"):
        bridge.sign_message("hello")
    with pytest.raises(WalletError, match="connects in the browser"):
        bridge.connect()


def test_a_new_account_rejects_requests_made_for_the_old_one(setup: Any, pool: Any) -> None:
    bridge, browser, _, _ = setup
    waiting = in_thread(pool, bridge.send_transaction, TxRequest(to=WETH, value=1))
    asked(browser)
    other = Account.create()
    bridge.attach(other.address, 31337)
    with pytest.raises(WalletError, match="account changed"):
        waiting.result(timeout=10)
    assert bridge.get_accounts() == [other.address]
    assert browser.on("metamask.account.changed")[-1].data["accounts"] == [other.address]


def test_the_server_never_signs_a_transaction_nor_switches_the_browser(setup: Any) -> None:
    bridge, _, _, _ = setup
    with pytest.raises(WalletError, match="use send_transaction"):
        bridge.sign_transaction(TxRequest(to=WETH, value=1, gas=1, nonce=0))
    bridge.add_chain(ChainInfo(1, "mainnet", "http://127.0.0.1:1"))
    with pytest.raises(WalletError, match="switches chains in the browser"):
        bridge.switch_chain(1)
    bridge.switch_chain(31337)  # already there: nothing to ask
    assert bridge.chain_id == 31337
