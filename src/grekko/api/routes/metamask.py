"""MetaMask: each trader's browser MetaMask as a wallet of the platform, its key never here.

The browser connects with a Sign-In with Ethereum signature, verified as the SIWE login verifies
it (domain, URI, chain id, validity window, signature, then the single-use nonce); the signed
chain id is the one the browser reports. The user's MetaMaskBridge is then registered in the
WalletManager, so its events reach the bus and the WebSocket's 'wallets' topic. Requests the
platform makes of the browser (transactions, signatures) arrive there too, and the browser
answers them here. POST /disconnect detaches it: what is pending is rejected, and nothing more
is asked of it or taken from it until it connects again.

Handlers run on the event loop, so the bridge's events and the bus stay on the kernel's thread;
the blocking parts (SIWE verification, waiting for the browser) run on threads, and the bridge
publishes from those through the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from grekko.adapters.wallets.metamask import MetaMaskBridge, RequestRefused
from grekko.adapters.wallets.metamask_requests import Publish
from grekko.api.auth.dependencies import require
from grekko.api.auth.siwe_login import (
    MAX_MESSAGE_CHARS,
    VerifiedSiwe,
    normalize_address,
    siwe_problem,
    verify_siwe,
)
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import problems
from grekko.api.services import ApiServices, audit, services
from grekko.ports.wallet import ChainInfo, TxRequest, WalletError

log = logging.getLogger("grekko.api.metamask")

router = APIRouter(prefix="/api/v1/metamask", tags=["metamask"])
Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Services = Annotated[ApiServices, Depends(services)]
HEX_RE = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_REFUSED_STATUS = {
    "foreign": 403,
    "unknown": 404,
    "expired": 409,
    "settled": 409,
    "disconnected": 409,
    "reused": 409,
}


class ConnectIn(BaseModel):
    address: str = Field(max_length=42)
    chain_id: int = Field(ge=1)
    message: str = Field(max_length=MAX_MESSAGE_CHARS)
    signature: str = Field(max_length=132)


class BridgeOut(BaseModel):
    provider_id: str
    name: str
    connected: bool
    chain_id: int
    accounts: list[str]


class AnswerIn(BaseModel):
    """The browser's answer: exactly one of tx_hash, signature (personal_sign) or error."""

    request_id: str = Field(max_length=64)
    tx_hash: str | None = Field(default=None, max_length=66)
    signature: str | None = Field(default=None, max_length=132)
    error: str | None = Field(default=None, max_length=500)


class NetworkIn(BaseModel):
    chain_id: int = Field(ge=1)


class InteractIn(BaseModel):
    to: str = Field(max_length=42)
    data: str = Field(default="0x", max_length=200_000)
    value: int = Field(default=0, ge=0)
    gas: int | None = Field(default=None, gt=0)


class RequestOut(BaseModel):
    request_id: str
    provider_id: str


def _out(bridge: MetaMaskBridge) -> BridgeOut:
    return BridgeOut(
        provider_id=bridge.provider_id,
        name=bridge.name,
        connected=bridge.is_connected(),
        chain_id=bridge.chain_id,
        accounts=bridge.get_accounts(),
    )


def _wallets(svc: ApiServices) -> Any:
    chain = svc.extra.get("chain")
    if chain is None or chain.wallets is None:
        raise ApiProblem(
            404, "no_wallets", "No wallets", "this server runs without the chain (--no-devnet)"
        )
    return chain


def _loop_publisher(bus: Any, loop: asyncio.AbstractEventLoop) -> Publish:
    """bus.publish from any thread: directly on the loop's own thread, else handed to it."""

    def publish(topic: str, message: object) -> None:
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            bus.publish(topic, message)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the app is shutting down
            loop.call_soon_threadsafe(bus.publish, topic, message)

    return publish


def _bridge(svc: ApiServices, who: Principal) -> MetaMaskBridge | None:
    manager = _wallets(svc).wallets
    pid = f"metamask:{who.user_id}"
    found = manager.get(pid) if pid in manager.provider_ids() else None
    return found if isinstance(found, MetaMaskBridge) else None


def _connected(svc: ApiServices, who: Principal) -> MetaMaskBridge:
    bridge = _bridge(svc, who)
    if bridge is None or not bridge.is_connected():
        raise ApiProblem(
            409, "metamask_not_connected", "MetaMask is not connected", "POST /metamask/connect"
        )
    return bridge


def _verified(svc: ApiServices, body: ConnectIn) -> VerifiedSiwe:
    """The SIWE login's checks, then the nonce spent; runs on a thread (ecrecover, the DB)."""
    auth: Any = svc.auth
    verified = verify_siwe(
        body.message,
        body.signature,
        domain=auth.siwe_domain,
        chain_id=body.chain_id,
        now_s=time.time(),
    )
    if verified.address != normalize_address(body.address):
        raise siwe_problem("siwe_address_mismatch", "the message is signed for another address")
    if not auth.store.consume_nonce(verified.nonce, time.time_ns()):
        raise siwe_problem("siwe_nonce_invalid", "unknown, used or expired nonce")
    return verified


@router.post("/connect", response_model=BridgeOut, responses=problems(401, 404, 422))
async def connect(request: Request, who: Trader, svc: Services, body: ConnectIn) -> BridgeOut:
    """Attach the user's MetaMask after a verified SIWE signature (created on first connect)."""
    chain = _wallets(svc)
    verified = await asyncio.to_thread(_verified, svc, body)
    bridge = _bridge(svc, who)
    if bridge is None:
        info = ChainInfo(chain.chain_id, _chain_name(chain), chain.rpc_url)
        publish = _loop_publisher(svc.desk.kernel.bus, asyncio.get_running_loop())
        bridge = MetaMaskBridge(who.user_id, chain.w3, publish, [info])
        chain.wallets.register(bridge)
    bridge.attach(verified.address, body.chain_id)
    audit(
        request, who.username, "metamask.connect", bridge.provider_id, {"address": verified.address}
    )
    return _out(bridge)


@router.post("/disconnect", response_model=BridgeOut, responses=problems(404, 409))
async def disconnect(request: Request, who: Trader, svc: Services) -> BridgeOut:
    """Detach the caller's own MetaMask: what it was asked and has not answered is rejected,
    and until the next POST /connect nothing more is asked of it nor taken from it. The bus
    carries wallet.<provider id>.accountsChanged ([]) and .disconnect, and
    metamask.account.changed (accounts [])."""
    bridge = _bridge(svc, who)
    if bridge is None:
        raise ApiProblem(
            409, "metamask_not_connected", "MetaMask is not connected", "POST /metamask/connect"
        )
    accounts = bridge.get_accounts()
    bridge.disconnect()
    detail = {"address": accounts[0] if accounts else None}
    audit(request, who.username, "metamask.disconnect", bridge.provider_id, detail)
    return _out(bridge)


@router.post("/network", response_model=BridgeOut, responses=problems(404, 409))
async def report_network(who: Trader, svc: Services, body: NetworkIn) -> BridgeOut:
    """The browser's chainChanged: MetaMask now signs on this chain."""
    bridge = _connected(svc, who)
    bridge.report_chain(body.chain_id)
    return _out(bridge)


@router.get("/network/switch", responses=problems(404))
async def network_switch(_: Trader, svc: Services) -> dict[str, list[dict[str, Any]]]:
    """Params of wallet_switchEthereumChain, and of wallet_addEthereumChain for when MetaMask
    does not know the platform's chain yet (its error 4902)."""
    chain = _wallets(svc)
    chain_hex = hex(chain.chain_id)
    add = {
        "chainId": chain_hex,
        "chainName": _chain_name(chain),
        "rpcUrls": [chain.rpc_url],
        "nativeCurrency": {"name": "Ether", "symbol": "ETH", "decimals": 18},
    }
    return {
        "wallet_switchEthereumChain": [{"chainId": chain_hex}],
        "wallet_addEthereumChain": [add],
    }


@router.get("/requests", responses=problems(404, 409))
async def pending_requests(who: Trader, svc: Services) -> list[dict[str, Any]]:
    """The requests waiting for the browser (as on the 'wallets' WebSocket topic)."""
    bridge = _connected(svc, who)
    return [msgspec.to_builtins(r) for r in bridge.pending()]


@router.post("/transaction/sign", responses=problems(403, 404, 409, 422))
async def answer_request(
    request: Request, who: Trader, svc: Services, body: AnswerIn
) -> dict[str, str]:
    """The browser's answer to a pending request: what MetaMask sent or signed, or the refusal."""
    given = [v for v in (body.tx_hash, body.signature, body.error) if v is not None]
    if len(given) != 1:
        raise ApiProblem(
            422, "invalid_answer", "Invalid answer", "one of tx_hash, signature, error"
        )
    bridge = _holder(svc, body.request_id) or _connected(svc, who)
    try:
        if body.error is not None:
            bridge.reject(body.request_id, body.error, user_id=who.user_id)
        else:
            bridge.resolve(body.request_id, given[0], user_id=who.user_id)
    except RequestRefused as exc:
        status = _REFUSED_STATUS.get(exc.reason, 422)
        raise ApiProblem(status, f"request_{exc.reason}", "Answer refused", str(exc)) from None
    outcome = "rejected" if body.error is not None else "answered"
    audit(request, who.username, f"metamask.request.{outcome}", body.request_id)
    return {"request_id": body.request_id, "outcome": outcome}


def _holder(svc: ApiServices, request_id: str) -> MetaMaskBridge | None:
    """The bridge a request belongs to, whoever's it is (so another user's answer is named)."""
    manager = _wallets(svc).wallets
    for pid in manager.provider_ids():
        wallet = manager.get(pid)
        if isinstance(wallet, MetaMaskBridge) and wallet.knows(request_id):
            return wallet
    return None


@router.post(
    "/contract/interact",
    status_code=202,
    response_model=RequestOut,
    responses=problems(404, 409, 422),
)
async def contract_interact(
    request: Request, who: Trader, svc: Services, body: InteractIn
) -> RequestOut:
    """A transaction for the user's MetaMask: published for the browser, answered through
    /transaction/sign; its receipt is then followed (metamask.transaction.confirmed)."""
    bridge = _connected(svc, who)
    if not HEX_RE.fullmatch(body.data):
        raise ApiProblem(
            422, "invalid_data", "Invalid calldata", "0x and an even number of hex digits"
        )
    try:
        tx = TxRequest(
            to=body.to, value=body.value, data=bytes.fromhex(body.data[2:]), gas=body.gas
        )
        request_id = bridge.request_transaction(tx)
    except WalletError as exc:
        raise ApiProblem(422, "invalid_transaction", "Invalid transaction", str(exc)) from None
    waiter = threading.Thread(
        target=_await_answer, args=(bridge, request_id), name="metamask-wait", daemon=True
    )
    waiter.start()
    audit(request, who.username, "metamask.contract.interact", body.to, {"request_id": request_id})
    return RequestOut(request_id=request_id, provider_id=bridge.provider_id)


def _await_answer(bridge: MetaMaskBridge, request_id: str) -> None:
    try:
        bridge.wait(request_id)
    except WalletError as exc:
        log.info("MetaMask request %s: %s", request_id, exc)


def _chain_name(chain: Any) -> str:
    return "Grekko devnet" if chain.chain_id == 31337 else f"chain {chain.chain_id}"
