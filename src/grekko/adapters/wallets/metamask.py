"""MetaMaskBridge: the WalletProvider standing for one user's MetaMask, which lives in a browser.

The server never holds the key. The browser connects (a SIWE signature verified by the API, then
`attach`), reports account and chain changes, and answers the requests the platform makes of it.
A signature or a transaction the platform needs becomes a pending request, published on
`wallet.<provider_id>.request` (the WebSocket's 'wallets' topic) as the EIP-1193 call the browser
hands to window.ethereum.request; the asking thread then blocks until the browser answers with
`resolve` / `reject` or the timeout passes. So sign_message and send_transaction must run on a
worker thread, never on the event loop that delivers the answer.

For a transaction MetaMask both signs and sends; the server only learns the hash. The waiting
thread then follows the receipt on the platform's own node and takes the hash only when the mined
transaction is the one requested from this account (`metamask.transaction.confirmed`; else
`metamask.transaction.failed` and a WalletError). A hash answers one request only. A request is answerable until its expires_at (by the injected clock) and only
while the account it was made for is still the connected one: disconnecting or changing the
account rejects what is pending, and a late answer is refused.

`publish(topic, message)` must be safe to call from any thread (the API hands it to the event
loop); the EIP-1193 handlers run on the thread that calls attach / report_chain / disconnect.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from grekko.adapters.wallets.answers import AnsweredHashes
from grekko.adapters.wallets.metamask_requests import (
    ERC20_BALANCE_OF,
    MetaMaskNotice,
    MetaMaskRequest,
    Publish,
    RequestRefused,
    check_answer,
    checksum,
    mismatch,
    positive_chain_id,
    tx_params,
)
from grekko.ports.wallet import (
    ChainInfo,
    SignedTx,
    TxRequest,
    UnknownChain,
    WalletError,
    WalletEvent,
    WalletEventHandlers,
    WalletHandler,
)

__all__ = ["MetaMaskBridge", "MetaMaskNotice", "MetaMaskRequest", "RequestRefused"]

log = logging.getLogger("grekko.wallets.metamask")

SETTLED_KEPT = 256  # answered / expired ids remembered, so a late answer gets a clear refusal


@dataclass
class _Pending:
    request: MetaMaskRequest
    account: str  # the account it was made for: answerable only while that one is connected
    done: threading.Event = field(default_factory=threading.Event)
    result: str | None = None
    error: str | None = None


class MetaMaskBridge:
    """The WalletProvider port for one user's browser MetaMask."""

    name = "MetaMask"

    def __init__(
        self,
        user_id: int,
        w3: Web3,
        publish: Publish,
        chains: Sequence[ChainInfo],
        *,
        timeout_s: float = 120.0,
        receipt_timeout_s: float = 120.0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.user_id = user_id
        self.provider_id = f"metamask:{user_id}"
        self._w3 = w3
        self._publish = publish
        self._chains = {chain.chain_id: chain for chain in chains}
        if not self._chains:
            raise WalletError("a wallet needs at least one chain")
        self._chain_id = next(iter(self._chains))
        self.timeout_s = timeout_s
        self.receipt_timeout_s = receipt_timeout_s
        self._clock_ns = clock_ns
        self._account: str | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._settled: OrderedDict[str, str] = OrderedDict()
        self._hashes = AnsweredHashes()
        self._events = WalletEventHandlers(self.provider_id)

    def __repr__(self) -> str:
        return f"MetaMaskBridge({self.provider_id}, {self._account or 'not attached'})"

    @property
    def supported_chains(self) -> tuple[ChainInfo, ...]:
        return tuple(self._chains.values())

    @property
    def chain_id(self) -> int:
        return self._chain_id

    # -- what the browser reports ---------------------------------------------------------------

    def attach(self, address: str, chain_id: int) -> None:
        """The browser connected (its SIWE signature already verified) or reconnected."""
        account = checksum(address, "address")
        with self._lock:
            previous = self._account
            self._account = account
        if previous is None:
            self._chain_id = positive_chain_id(chain_id)
            self._emit("connect", chain_id)
        if previous != account:
            if previous is not None:
                self._reject_all("the MetaMask account changed")
            self._emit("accountsChanged", [account])
            self._notice("metamask.account.changed", {"accounts": [account], "previous": previous})
        self.report_chain(chain_id)

    def report_chain(self, chain_id: int) -> None:
        """The browser's chain changed (or was confirmed); chains MetaMask knows need no add."""
        if positive_chain_id(chain_id) == self._chain_id:
            return
        previous, self._chain_id = self._chain_id, chain_id
        self._emit("chainChanged", chain_id)
        self._notice("metamask.network.changed", {"chain_id": chain_id, "previous": previous})

    # -- connection -----------------------------------------------------------------------------

    def connect(self) -> list[str]:
        if self._account is None:
            raise WalletError(
                "MetaMask connects in the browser: POST /api/v1/metamask/connect with a SIWE signature"
            )
        return [self._account]

    def disconnect(self) -> None:
        with self._lock:
            was, self._account = self._account, None
        self._reject_all("the MetaMask wallet disconnected")
        if was is not None:
            self._emit("accountsChanged", [])
            self._emit("disconnect", None)
            self._notice("metamask.account.changed", {"accounts": [], "previous": was})

    def is_connected(self) -> bool:
        return self._account is not None

    def get_accounts(self) -> list[str]:
        account = self._account
        return [account] if account is not None else []

    def _require_account(self) -> str:
        account = self._account
        if account is None:
            raise WalletError(f"wallet {self.provider_id!r} is not connected")
        return account

    # -- chains and reads -----------------------------------------------------------------------

    def switch_chain(self, chain_id: int) -> None:
        """Only the browser switches MetaMask's chain (wallet_switchEthereumChain)."""
        if chain_id == self._chain_id:
            return
        if chain_id not in self._chains:
            raise UnknownChain(f"chain {chain_id} is not one of {sorted(self._chains)}")
        raise WalletError(
            "MetaMask switches chains in the browser: GET /api/v1/metamask/network/switch"
        )

    def add_chain(self, chain: ChainInfo) -> None:
        self._chains[chain.chain_id] = chain

    def get_balance(self, address: str, token: str | None = None) -> int:
        owner = Web3.to_checksum_address(checksum(address, "address"))
        if token is None:
            return int(self._w3.eth.get_balance(owner))
        erc20 = self._w3.eth.contract(
            address=Web3.to_checksum_address(checksum(token, "token")), abi=ERC20_BALANCE_OF
        )
        return int(erc20.functions.balanceOf(owner).call())

    # -- requests to the browser ----------------------------------------------------------------

    def sign_message(self, message: str | bytes) -> bytes:
        """personal_sign in the browser; the signature must recover to the connected account."""
        account = self._require_account()
        raw = message.encode() if isinstance(message, str) else bytes(message)
        request_id = self._open("sign", "personal_sign", ["0x" + raw.hex(), account], account)
        return bytes.fromhex(self.wait(request_id)[2:])

    def sign_transaction(self, tx: TxRequest) -> SignedTx:
        raise WalletError("MetaMask signs and sends in the browser; use send_transaction")

    def send_transaction(self, tx: TxRequest) -> str:
        """Blocks until the browser sent it and the node mined it as asked (or not: WalletError)."""
        return self.wait(self.request_transaction(tx))

    def request_transaction(self, tx: TxRequest) -> str:
        """Publish an eth_sendTransaction request without waiting; its request id."""
        account = self._require_account()
        params = [tx_params(tx, account, self._chain_id)]
        return self._open("transaction", "eth_sendTransaction", params, account)

    def pending(self) -> list[MetaMaskRequest]:
        """The requests still answerable (expired ones are settled on the way)."""
        self._expire_due()
        with self._lock:
            return [p.request for p in self._pending.values()]

    def wait(self, request_id: str) -> str:
        """Block for the browser's answer: the signature, or the tx hash once mined as asked;
        else WalletError."""
        with self._lock:
            entry = self._pending.get(request_id)
        if entry is None:
            raise RequestRefused(f"no pending MetaMask request {request_id!r}", "unknown")
        if not entry.done.wait(self.timeout_s):
            self._expire([(request_id, entry)])
        if entry.error is not None:
            raise WalletError(f"MetaMask request {request_id} failed: {entry.error}")
        result = str(entry.result)  # set, under the lock, before done
        if entry.request.kind == "transaction":
            wrong = self._confirm(entry.request, result)
            if wrong:
                raise WalletError(f"MetaMask transaction {result} {wrong}")
        return result

    def resolve(self, request_id: str, result: str, *, user_id: int) -> None:
        """The browser's answer: a tx hash (transaction) or a signature (sign)."""
        self._expire_due()
        with self._lock:
            entry = self._answerable(request_id, user_id)
            check_answer(entry.request, result)
            if entry.request.kind == "transaction":
                earlier = self._hashes.claim(result, request_id)
                if earlier is not None:
                    raise RequestRefused(
                        f"{result} already answered MetaMask request {earlier}", "reused"
                    )
            entry.result = result
            self._settle(request_id, "answered")
            entry.done.set()
        self._notice("wallet.request_settled", {"request_id": request_id, "outcome": "answered"})

    def reject(self, request_id: str, reason: str, *, user_id: int) -> None:
        """The user refused in MetaMask (or the browser failed)."""
        self._expire_due()
        with self._lock:
            entry = self._answerable(request_id, user_id)
            entry.error = f"rejected in the browser: {reason[:200] or 'no reason given'}"
            self._settle(request_id, "rejected")
            entry.done.set()
        self._notice("wallet.request_settled", {"request_id": request_id, "outcome": "rejected"})

    def _open(self, kind: str, method: str, params: list[Any], account: str) -> str:
        now = self._clock_ns()
        request = MetaMaskRequest(
            ts_event=now,
            provider_id=self.provider_id,
            request_id=uuid.uuid4().hex,
            kind=kind,
            method=method,
            params=params,
            expires_at=now + int(self.timeout_s * 1e9),
        )
        with self._lock:
            if self._account != account:
                raise WalletError(f"the MetaMask account of {self.provider_id} changed meanwhile")
            self._pending[request.request_id] = _Pending(request, account)
        self._publish(f"wallet.{self.provider_id}.request", request)
        return request.request_id

    def _answerable(self, request_id: str, user_id: int) -> _Pending:
        """Under the lock: the pending request this user may answer, else RequestRefused."""
        if user_id != self.user_id:
            raise RequestRefused(
                f"MetaMask request {request_id} belongs to another user", "foreign"
            )
        entry = self._pending.get(request_id)
        if entry is not None and entry.account != self._account:
            raise RequestRefused(
                f"MetaMask request {request_id} was made for an account no longer connected",
                "disconnected",
            )
        if entry is not None and entry.request.expires_at <= self._clock_ns():
            raise RequestRefused(f"MetaMask request {request_id} expired unanswered", "expired")
        if entry is not None:
            return entry
        outcome = self._settled.get(request_id)
        if outcome == "expired":
            raise RequestRefused(f"MetaMask request {request_id} expired unanswered", "expired")
        if outcome is not None:
            raise RequestRefused(f"MetaMask request {request_id} was already {outcome}", "settled")
        raise RequestRefused(f"no MetaMask request {request_id!r}", "unknown")

    def knows(self, request_id: str) -> bool:
        """Whether the request is (or recently was) this bridge's."""
        with self._lock:
            return request_id in self._pending or request_id in self._settled

    def _settle(self, request_id: str, outcome: str) -> None:
        self._pending.pop(request_id, None)
        self._settled[request_id] = outcome
        while len(self._settled) > SETTLED_KEPT:
            self._settled.popitem(last=False)

    def _expire_due(self) -> None:
        now = self._clock_ns()
        with self._lock:
            due = [(i, e) for i, e in self._pending.items() if e.request.expires_at <= now]
        self._expire(due)

    def _expire(self, entries: list[tuple[str, _Pending]]) -> None:
        """Settle these as expired (unless answered meanwhile); their waiters wake to an error."""
        expired = []
        with self._lock:
            for request_id, entry in entries:
                if self._pending.get(request_id) is entry:
                    entry.error = f"MetaMask did not answer within {self.timeout_s:g} s"
                    self._settle(request_id, "expired")
                    entry.done.set()
                    expired.append(request_id)
        for request_id in expired:
            self._notice("wallet.request_settled", {"request_id": request_id, "outcome": "expired"})

    def _reject_all(self, reason: str) -> None:
        with self._lock:
            entries = list(self._pending.items())
            for request_id, entry in entries:
                entry.error = reason
                self._settle(request_id, "rejected")
                entry.done.set()
        for request_id, _ in entries:
            self._notice(
                "wallet.request_settled", {"request_id": request_id, "outcome": "rejected"}
            )

    # -- receipts -------------------------------------------------------------------------------

    def _confirm(self, request: MetaMaskRequest, tx_hash: str) -> str:
        """Wait for the receipt; confirmed only when the mined tx is the one requested. What is
        wrong with it ('' when nothing is)."""
        data: dict[str, Any] = {"request_id": request.request_id, "tx_hash": tx_hash}
        try:
            receipt = self._w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=self.receipt_timeout_s,
                poll_latency=0.2,
            )
            mined = self._w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except Exception as exc:
            log.warning("no receipt for MetaMask transaction %s: %s", tx_hash, exc)
            self._notice("metamask.transaction.failed", {**data, "reason": f"no receipt: {exc}"})
            return f"was not mined: {exc}"
        wrong = mismatch(request.params[0], mined)
        if wrong:
            log.warning("MetaMask transaction %s is not the one requested: %s", tx_hash, wrong)
            self._notice("metamask.transaction.failed", {**data, "reason": wrong})
            return f"is not the transaction requested: {wrong}"
        data.update(status=int(receipt["status"]), block_number=int(receipt["blockNumber"]))
        self._notice("metamask.transaction.confirmed", data)
        return ""

    # -- events ---------------------------------------------------------------------------------

    def on(self, event: WalletEvent, handler: WalletHandler) -> None:
        self._events.on(event, handler)

    def off(self, event: WalletEvent, handler: WalletHandler) -> None:
        self._events.off(event, handler)

    def _emit(self, event: WalletEvent, payload: object) -> None:
        self._events.emit(event, payload)

    def _notice(self, topic: str, data: dict[str, Any]) -> None:
        """metamask.* go out as named; wallet.<suffix> gets this provider's id in between."""
        if topic.startswith("wallet."):
            topic = f"wallet.{self.provider_id}.{topic.removeprefix('wallet.')}"
        notice = MetaMaskNotice(ts_event=self._clock_ns(), provider_id=self.provider_id, data=data)
        self._publish(topic, notice)
