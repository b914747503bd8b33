"""WalletConnect v2: each trader pairs their own phone or browser wallet with the platform.

POST /session/create answers the pairing URI and its QR code; the wallet's approval arrives over
the relay later, so the UI follows GET /session/status (or the bus event). A request for the
wallet's signature waits for a human, so POST /request/send starts it off the event loop and
answers an id; GET /request/{id} tells how it ended: `approved` only once the signature recovers
to the session's account, or the transaction the wallet reports is mined on the platform's node
as the one asked. An established session is a wallet in the WalletManager (provider id
walletconnect:<user id>) until either side disconnects or it expires.

Session events run on the event loop that runs the kernel (the session dispatches them there),
so the bus and the manager are only touched from their own thread.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from grekko.adapters.wallets.answers import mined_transactions
from grekko.adapters.wallets.walletconnect.qr import qr_svg
from grekko.adapters.wallets.walletconnect.session import WalletConnectSession
from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import problems
from grekko.api.services import ApiServices, audit, services
from grekko.engines.wallets import WalletNotice
from grekko.ports.wallet import ChainInfo, WalletError

router = APIRouter(prefix="/api/v1/walletconnect", tags=["walletconnect"])
Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Services = Annotated[ApiServices, Depends(services)]
ESTABLISHED = "walletconnect.session.established"
APPROVED = "walletconnect.request.approved"
DISCONNECTED = "walletconnect.session.disconnected"
RECEIPT_TIMEOUT_S = 120.0  # how long a transaction the wallet reports may take to be mined


class SessionCreated(BaseModel):
    uri: str
    qr_svg: str
    topic: str  # the pairing topic (the session topic comes with the wallet's approval)


class SessionStatus(BaseModel):
    state: str
    reason: str | None = None
    pairing_topic: str | None = None
    topic: str | None = None
    peer: dict[str, str] | None = None
    accounts: list[str] = []
    chain_id: int | None = None
    expiry: int | None = None


class RequestIn(BaseModel):
    method: Literal["eth_sendTransaction", "personal_sign"]
    params: Annotated[list[Any], Field(min_length=1, max_length=2)]


class RequestOut(BaseModel):
    request_id: str
    method: str
    status: Literal["pending", "approved", "failed"]
    result: str | None = None  # the signature or the transaction hash
    error: str | None = None


@dataclass
class _Registry:
    """Each user's session and their requests, kept in the services for the app's lifetime."""

    sessions: dict[int, WalletConnectSession] = field(default_factory=dict)
    requests: dict[str, tuple[int, RequestOut]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _chain(svc: ApiServices) -> Any:
    chain = svc.extra.get("chain")
    if chain is None or chain.wallets is None:
        raise ApiProblem(
            404, "no_wallets", "No wallets", "this server runs without the chain (--no-devnet)"
        )
    return chain


def _registry(svc: ApiServices) -> _Registry:
    found = svc.extra.get("walletconnect")
    if not isinstance(found, _Registry):
        found = svc.extra["walletconnect"] = _Registry()
    return found


def _publish(svc: ApiServices, topic: str, session: WalletConnectSession, payload: object) -> None:
    kernel = svc.desk.kernel
    notice = WalletNotice(
        ts_event=kernel.clock.timestamp_ns(),
        provider_id=session.provider_id,
        event=topic.removeprefix("walletconnect."),
        payload=payload,
    )
    kernel.bus.publish(topic, notice)


def _new_session(svc: ApiServices, user_id: int) -> WalletConnectSession:
    chain, api = _chain(svc), svc.settings.api
    name = "devnet" if chain.chain_id == 31337 else f"chain {chain.chain_id}"
    session = WalletConnectSession(
        user_id,
        chains=[ChainInfo(chain.chain_id, name, chain.rpc_url)],
        relay_url=api.walletconnect_relay_url,
        project_id=api.walletconnect_project_id,
        balance_reader=chain.wallet.get_balance,
        transaction_reader=mined_transactions(chain.w3, RECEIPT_TIMEOUT_S),
        dispatch=asyncio.get_running_loop().call_soon_threadsafe,
    )
    manager = chain.wallets

    def established(chain_id: object) -> None:
        if session.provider_id not in manager.provider_ids():
            manager.register(session)
        _publish(svc, ESTABLISHED, session, session.status())

    def ended(_: object) -> None:
        if session.provider_id in manager.provider_ids():
            manager.unregister(session.provider_id)
        _publish(svc, DISCONNECTED, session, {"reason": session.status()["reason"]})

    session.on("connect", established)
    session.on("disconnect", ended)
    return session


def _own_session(svc: ApiServices, user: Principal) -> WalletConnectSession:
    _chain(svc)
    session = _registry(svc).sessions.get(user.user_id)
    if session is None:
        raise ApiProblem(404, "no_session", "No WalletConnect session", "create a session first")
    return session


@router.post("/session/create", response_model=SessionCreated, responses=problems(404, 409, 502))
async def create_session(user: Trader, svc: Services, request: Request) -> SessionCreated:
    """A new pairing for the caller's wallet (an earlier unsettled one is dropped)."""
    registry = _registry(svc)
    session = registry.sessions.get(user.user_id)
    if session is None:
        session = registry.sessions[user.user_id] = _new_session(svc, user.user_id)
    if session.is_connected():
        raise ApiProblem(
            409, "session_established", "A session is established", "disconnect it first"
        )
    try:
        uri = await asyncio.to_thread(session.create)
    except WalletError as exc:
        raise ApiProblem(502, "walletconnect_relay", "The relay cannot be used", str(exc)) from None
    audit(request, user.username, "walletconnect.session.create", session.provider_id)
    return SessionCreated(uri=uri, qr_svg=qr_svg(uri), topic=session.status()["pairing_topic"])


@router.get("/session/status", response_model=SessionStatus, responses=problems(404))
async def session_status(user: Trader, svc: Services) -> SessionStatus:
    _chain(svc)
    session = _registry(svc).sessions.get(user.user_id)
    return SessionStatus(state="idle") if session is None else SessionStatus(**session.status())


@router.post(
    "/request/send", response_model=RequestOut, status_code=202, responses=problems(404, 409)
)
async def send_request(
    body: RequestIn, user: Trader, svc: Services, request: Request
) -> RequestOut:
    """Asks the wallet; the answer comes when its user decides (GET /request/{id})."""
    session = _own_session(svc, user)
    if not session.is_connected():
        raise ApiProblem(
            409, "not_connected", "No established session", f"the session is {session.state}"
        )
    registry = _registry(svc)
    job = RequestOut(request_id=secrets.token_urlsafe(16), method=body.method, status="pending")
    registry.requests[job.request_id] = (user.user_id, job)
    task = asyncio.create_task(_run(svc, session, job, body.params))
    registry.tasks.add(task)
    task.add_done_callback(registry.tasks.discard)
    audit(request, user.username, "walletconnect.request.send", session.provider_id, body.method)
    return job


async def _run(
    svc: ApiServices, session: WalletConnectSession, job: RequestOut, params: list[Any]
) -> None:
    try:
        job.result = await asyncio.to_thread(session.request, job.method, params)
    except WalletError as exc:
        job.status, job.error = "failed", str(exc)
        return
    job.status = "approved"
    _publish(svc, APPROVED, session, {"request_id": job.request_id, "method": job.method})


@router.get("/request/{request_id}", response_model=RequestOut, responses=problems(404))
async def request_result(request_id: str, user: Trader, svc: Services) -> RequestOut:
    found = _registry(svc).requests.get(request_id)
    if found is None or found[0] != user.user_id:
        raise ApiProblem(
            404, "unknown_request", "Unknown request", f"no request {request_id[:32]!r}"
        )
    return found[1]


@router.delete("/session/disconnect", response_model=SessionStatus, responses=problems(404))
async def disconnect_session(user: Trader, svc: Services, request: Request) -> SessionStatus:
    """Ends the session on both sides: the wallet is told, the platform forgets it."""
    session = _own_session(svc, user)
    await asyncio.to_thread(session.disconnect)
    audit(request, user.username, "walletconnect.session.disconnect", session.provider_id)
    return SessionStatus(**session.status())
