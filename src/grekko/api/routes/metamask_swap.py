"""A DEX swap the trader's own MetaMask signs: the platform quotes and builds it, the browser
signs and sends it, the server follows it on its own node.

POST /metamask/swap answers at once with the quote and the steps (an approve when the router's
allowance is short, then the swap). A worker thread then pushes each step to the browser as a
MetaMask request (the 'wallets' WebSocket topic), waits for its hash and for the receipt, and
publishes `metamask.swap.completed` with what the block credited to the wallet, or
`metamask.swap.failed` with the reason (refused in MetaMask, reverted, timed out).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from grekko.adapters.evm.swaps import SwapError
from grekko.adapters.wallets.metamask import MetaMaskBridge
from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.routes.metamask import _connected as connected_bridge
from grekko.api.routes.metamask import _loop_publisher as loop_publisher
from grekko.api.routes.metamask import _wallets as wallets_runtime
from grekko.api.schemas import problems
from grekko.api.services import ApiServices, audit, services
from grekko.ports.wallet import TxRequest, WalletError

log = logging.getLogger("grekko.api.metamask")

router = APIRouter(prefix="/api/v1/metamask", tags=["metamask"])
Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Services = Annotated[ApiServices, Depends(services)]
SYMBOL = r"^[A-Za-z0-9]{1,12}$"
RECEIPT_TIMEOUT_S = 120.0


class SwapNotice(msgspec.Struct, frozen=True, kw_only=True):
    """metamask.swap.<event> on the bus; `data` is the swap as answered plus the outcome."""

    ts_event: int
    provider_id: str
    event: str  # "completed" | "failed"
    data: dict[str, Any]


class SwapIn(BaseModel):
    sell: str = Field(pattern=SYMBOL)  # ETH (the native coin) or a token the platform lists
    buy: str = Field(pattern=SYMBOL)
    amount: Decimal = Field(gt=0, max_digits=40)  # of `sell`, in whole units
    slippage_bps: int | None = Field(default=None, ge=0, le=1000)


class SwapOut(BaseModel):
    swap_id: str
    sell: str
    buy: str
    amount_in: str
    expected_out: str
    min_out: str
    route: list[str]
    steps: list[str]


@router.post("/swap", status_code=202, response_model=SwapOut, responses=problems(404, 409, 422))
async def swap(request: Request, who: Trader, svc: Services, body: SwapIn) -> SwapOut:
    """Quote `amount` of `sell` into `buy` on Uniswap V2 and have MetaMask sign it."""
    chain = wallets_runtime(svc)
    bridge = connected_bridge(svc, who)
    if bridge.chain_id != chain.chain_id:
        raise ApiProblem(
            409,
            "wrong_network",
            "MetaMask is on another network",
            f"switch MetaMask to chain {chain.chain_id} (GET /metamask/network/switch)",
        )
    planner = chain.swap_planner
    if planner is None:
        raise ApiProblem(404, "no_swaps", "No swaps", "the chain has no Uniswap V2 router")
    tokens = {s.upper(): a for s, a in chain.tokens.items()}
    sell, buy = body.sell.upper(), body.buy.upper()
    token_in, token_out = _token(tokens, sell), _token(tokens, buy)
    slippage = body.slippage_bps if body.slippage_bps is not None else _slippage(svc)
    account = bridge.get_accounts()[0]

    def plan() -> tuple[Any, int, int]:
        din, dout = _decimals(planner, token_in), _decimals(planner, token_out)
        units = _units(body.amount, din, sell)
        return planner.plan(account, token_in, token_out, units, slippage), din, dout

    try:
        made, din, dout = await asyncio.to_thread(plan)
    except SwapError as exc:
        raise ApiProblem(422, "swap_refused", "Swap refused", str(exc)) from None
    swap_id = uuid.uuid4().hex
    publish = loop_publisher(svc.desk.kernel.bus, asyncio.get_running_loop())
    out = SwapOut(
        swap_id=swap_id,
        sell=sell,
        buy=buy,
        amount_in=str(Decimal(made.quote.amount_in).scaleb(-din)),
        expected_out=str(Decimal(made.quote.amount_out).scaleb(-dout)),
        min_out=str(Decimal(made.min_amount_out).scaleb(-dout)),
        route=[_symbol(tokens, a) for a in made.quote.path],
        steps=[c.purpose for c in made.calls],
    )
    runner = _SwapRun(bridge, planner, made, out, dout, publish)
    threading.Thread(target=runner.run, name="metamask-swap", daemon=True).start()
    audit(request, who.username, "metamask.swap", swap_id, out.model_dump())
    return out


class _SwapRun:
    """Each step to the browser in turn; the next only after the previous one is mined."""

    def __init__(
        self,
        bridge: MetaMaskBridge,
        planner: Any,
        plan: Any,
        out: SwapOut,
        decimals_out: int,
        publish: Any,
    ) -> None:
        self.bridge, self.planner, self.plan, self.out = bridge, planner, plan, out
        self.decimals_out, self.publish = decimals_out, publish

    def run(self) -> None:
        receipt: Any = None
        try:
            for call in self.plan.calls:
                tx = TxRequest(to=call.to, value=call.value, data=call.data)
                tx_hash = self.bridge.wait(self.bridge.request_transaction(tx))
                receipt = self.planner.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=0.2
                )
                if int(receipt["status"]) != 1:
                    self._failed(f"the {call.purpose} transaction reverted", tx_hash)
                    return
            got = self.planner.received(self.plan, receipt)
        except (WalletError, SwapError) as exc:
            self._failed(str(exc), None)
            return
        except Exception as exc:  # a node error or timeout: the trader must still hear of it
            log.warning("MetaMask swap %s failed: %s", self.out.swap_id, exc)
            self._failed(f"{type(exc).__name__}: {exc}", None)
            return
        self._notice(
            "metamask.swap.completed",
            {
                "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x"),
                "block_number": int(receipt["blockNumber"]),
                "received": str(Decimal(got).scaleb(-self.decimals_out)),
            },
        )

    def _failed(self, reason: str, tx_hash: str | None) -> None:
        self._notice("metamask.swap.failed", {"reason": reason, "tx_hash": tx_hash})

    def _notice(self, topic: str, extra: dict[str, Any]) -> None:
        data = {**self.out.model_dump(), **extra}
        notice = SwapNotice(
            ts_event=time.time_ns(),
            provider_id=self.bridge.provider_id,
            event=topic.rpartition(".")[2],
            data=data,
        )
        self.publish(topic, notice)


def _token(tokens: dict[str, str], symbol: str) -> str | None:
    if symbol == "ETH":
        return None
    if symbol not in tokens:
        raise ApiProblem(
            422,
            "unknown_token",
            "Unknown token",
            f"{symbol} is not one of ETH, {', '.join(sorted(tokens))}",
        )
    return tokens[symbol]


def _symbol(tokens: dict[str, str], address: str) -> str:
    return next((s for s, a in tokens.items() if a.lower() == address.lower()), address)


def _decimals(planner: Any, token: str | None) -> int:
    return 18 if token is None else int(planner.v2.decimals(token))


def _units(amount: Decimal, decimals: int, symbol: str) -> int:
    units = amount.scaleb(decimals)
    if units != units.to_integral_value():
        raise SwapError(f"{symbol} has {decimals} decimals; {amount} has more")
    return int(units)


def _slippage(svc: ApiServices) -> int:
    return int(svc.settings.chain.slippage_bps)
