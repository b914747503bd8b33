"""What this server can connect to and what is connected, for the caller: whether the chain runs
(and which), whether Coinbase can be and is linked, and the caller's own MetaMask. The UI asks here
first, so a server without a chain or Coinbase is a state it shows, not an error it provokes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.services import ApiServices, services

router = APIRouter(prefix="/api/v1/connections", tags=["wallets"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Services = Annotated[ApiServices, Depends(services)]


class ChainOut(BaseModel):
    enabled: bool
    chain_id: int | None = None


class CoinbaseOut(BaseModel):
    available: bool
    linked: bool


class MetaMaskOut(BaseModel):
    provider_id: str
    connected: bool


class ConnectionsOut(BaseModel):
    chain: ChainOut
    coinbase: CoinbaseOut
    metamask: MetaMaskOut


@router.get("", response_model=ConnectionsOut)
async def connections(who: Viewer, svc: Services) -> ConnectionsOut:
    chain: Any = svc.extra.get("chain")
    wallets = getattr(chain, "wallets", None)
    link: Any = svc.extra.get("coinbase")
    pid = f"metamask:{who.user_id}"
    bridge = wallets.get(pid) if wallets is not None and pid in wallets.provider_ids() else None
    return ConnectionsOut(
        chain=ChainOut(
            enabled=wallets is not None, chain_id=chain.chain_id if wallets is not None else None
        ),
        coinbase=CoinbaseOut(
            available=link is not None, linked=getattr(link, "client", None) is not None
        ),
        metamask=MetaMaskOut(
            provider_id=pid, connected=bridge is not None and bool(bridge.is_connected())
        ),
    )
