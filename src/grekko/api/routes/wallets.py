"""Wallets: every wallet the platform holds, with its chain, accounts and balances per wallet.

Balances are read from the chain, so the handler is a plain function (FastAPI's thread pool),
never run on the event loop that runs the replay. Nothing secret is in an answer: addresses,
chain ids and amounts only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import problems
from grekko.api.services import ApiServices, services

router = APIRouter(prefix="/api/v1/wallets", tags=["wallets"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Services = Annotated[ApiServices, Depends(services)]


class WalletOut(BaseModel):
    provider_id: str
    name: str
    connected: bool
    chain_id: int
    accounts: list[str]
    balances: dict[str, dict[str, str]]  # account -> currency -> amount (Decimal as text)


def _wallets(svc: ApiServices) -> Any:
    chain = svc.extra.get("chain")
    if chain is None or chain.wallets is None:
        raise ApiProblem(
            404, "no_wallets", "No wallets", "this server runs without the chain (--no-devnet)"
        )
    return chain


@router.get("", response_model=list[WalletOut], responses=problems(404))
def list_wallets(who: Viewer, svc: Services) -> list[WalletOut]:
    """Each wallet with the native coin (ETH) and the tokens the DEX venue trades: the
    platform's own, and the caller's MetaMask / WalletConnect (an admin sees every user's)."""
    chain = _wallets(svc)
    manager = chain.wallets
    held = manager.balances(chain.token_specs())
    out = []
    for pid in manager.provider_ids():
        if not _visible(pid, who):
            continue
        wallet = manager.get(pid)
        per_account = held.get(pid, {})
        out.append(
            WalletOut(
                provider_id=pid,
                name=wallet.name,
                connected=wallet.is_connected(),
                chain_id=wallet.chain_id,
                accounts=wallet.get_accounts(),
                balances={
                    account: {cur: str(amount) for cur, amount in amounts.items()}
                    for account, amounts in per_account.items()
                },
            )
        )
    return out


def _visible(provider_id: str, who: Principal) -> bool:
    kind, _, owner = provider_id.partition(":")
    if kind not in {"metamask", "walletconnect"} or who.role is Role.ADMIN:
        return True
    return owner == str(who.user_id)
