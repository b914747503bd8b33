"""Coinbase: link a CDP API key (admin; the key goes straight into the secrets store and is never
answered back) or unlink it (DELETE /connect: the key leaves the store), read accounts, list a
product as a market data source, trade through the kernel's `coinbase` venue, and build Onramp
links.

Exchange calls block, so they run in worker threads; the kernel is touched only on the event loop.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, SecretStr

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import OrderOut, problems
from grekko.api.services import ApiServices, services
from grekko.domain.enums import OrderSide, OrderType

router = APIRouter(prefix="/api/v1/coinbase", tags=["coinbase"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Services = Annotated[ApiServices, Depends(services)]


class ConnectIn(BaseModel):
    api_key_name: str = Field(min_length=1, max_length=300)
    api_private_key: SecretStr = Field(min_length=1, max_length=4000)  # the EC PEM


class AccountOut(BaseModel):
    currency: str
    available: str
    hold: str
    type: str


class TradeIn(BaseModel):
    symbol: str = Field(pattern=r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}$")
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"] = "market"
    quantity: Decimal = Field(gt=0)
    price: Decimal | None = Field(default=None, gt=0)


class UnlinkOut(BaseModel):
    was_linked: bool
    key_removed: bool


class MarketIn(BaseModel):
    symbol: str = Field(pattern=r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}$")


class MarketOut(BaseModel):
    instrument_id: str
    symbol: str


class OnrampIn(BaseModel):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    network: str = Field(default="ethereum", min_length=1, max_length=40)
    asset: str = Field(default="ETH", min_length=1, max_length=12)
    fiat_amount: Decimal | None = Field(default=None, gt=0)
    fiat_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class OnrampOut(BaseModel):
    id: str
    url: str
    asset: str
    network: str
    address: str
    status: str


def _link(svc: ApiServices) -> Any:
    link = svc.extra.get("coinbase")
    if link is None:
        raise ApiProblem(404, "no_coinbase", "Coinbase is not available on this server")
    return link


def _problem(exc: Exception) -> ApiProblem:
    from grekko.adapters.ccxt.coinbase_records import (
        CoinbaseAuthError,
        CoinbaseError,
        CoinbaseNotLinked,
        CoinbaseOrdersWorking,
    )
    from grekko.core.errors import ConfigError

    if isinstance(exc, CoinbaseNotLinked):
        return ApiProblem(409, "coinbase_not_linked", "Coinbase is not linked", str(exc))
    if isinstance(exc, CoinbaseOrdersWorking):
        return ApiProblem(409, "coinbase_orders_working", "Orders still work on Coinbase", str(exc))
    if isinstance(exc, CoinbaseAuthError):
        return ApiProblem(401, "coinbase_auth", "Coinbase refused the key", str(exc))
    if isinstance(exc, ConfigError):
        return ApiProblem(422, "coinbase_key_invalid", "Not a usable CDP key", str(exc))
    if isinstance(exc, CoinbaseError):
        return ApiProblem(502, "coinbase_error", "Coinbase answered with an error", str(exc))
    raise exc


def _accounts(accounts: list[Any]) -> list[AccountOut]:
    return [
        AccountOut(currency=a.currency, available=str(a.available), hold=str(a.hold), type=a.type)
        for a in accounts
    ]


@router.post("/connect", response_model=list[AccountOut], responses=problems(401, 404, 422, 502))
async def connect(body: ConnectIn, _: Admin, svc: Services) -> list[AccountOut]:
    """Link Coinbase: the key is stored, checked against the exchange, answered with accounts."""
    link = _link(svc)
    link.loop = asyncio.get_running_loop()
    secret = body.api_private_key.get_secret_value()
    try:
        accounts = await asyncio.to_thread(link.connect, body.api_key_name, secret)
    except Exception as exc:
        raise _problem(exc) from None
    link.book_balances(accounts)  # on the event loop: the kernel's thread
    return _accounts(accounts)


@router.delete("/connect", response_model=UnlinkOut, responses=problems(404, 409))
async def disconnect(_: Admin, svc: Services) -> UnlinkOut:
    """Unlink Coinbase: polling and trading stop, the key is removed from the secrets store."""
    link = _link(svc)
    link.loop = asyncio.get_running_loop()
    try:
        client = link.detach()  # on the event loop: the kernel's thread
    except Exception as exc:
        raise _problem(exc) from None
    removed = await asyncio.to_thread(link.release, client)
    return UnlinkOut(was_linked=client is not None, key_removed=removed)


@router.post(
    "/markets", response_model=MarketOut, status_code=201, responses=problems(404, 409, 422, 502)
)
async def list_market(body: MarketIn, _: Trader, svc: Services) -> MarketOut:
    """A Coinbase product as an instrument whose candles and best bid/ask flow into the kernel."""
    link = _link(svc)
    link.loop = asyncio.get_running_loop()
    try:
        product, mid = await asyncio.to_thread(link.fetch_market, body.symbol)
    except Exception as exc:
        raise _problem(exc) from None
    return MarketOut(instrument_id=link.list_market(product, mid), symbol=product.symbol)


@router.get("/markets", response_model=list[MarketOut], responses=problems(404))
async def markets(_: Trader, svc: Services) -> list[MarketOut]:
    """The products whose market data is polled while Coinbase is linked."""
    return [MarketOut(instrument_id=f"{s}@coinbase", symbol=s) for s in _link(svc).polled()]


@router.get("/accounts", response_model=list[AccountOut], responses=problems(404, 409, 502))
async def accounts(_: Trader, svc: Services) -> list[AccountOut]:
    link = _link(svc)
    try:
        found = await asyncio.to_thread(lambda: link.linked().accounts())
    except Exception as exc:
        raise _problem(exc) from None
    return _accounts(found)


@router.post(
    "/trade/execute", response_model=OrderOut, status_code=201, responses=problems(404, 409, 502)
)
async def trade_execute(body: TradeIn, who: Trader, svc: Services) -> OrderOut:
    """An order on the coinbase venue, through the risk engine like any other order."""
    from grekko.api.desk import denial_reason

    link = _link(svc)
    link.loop = asyncio.get_running_loop()
    try:
        product, mid = await asyncio.to_thread(link.fetch_market, body.symbol)
    except Exception as exc:
        raise _problem(exc) from None
    if body.type == "limit" and body.price is None:
        raise ApiProblem(422, "price_required", "A limit order needs a price")
    iid = link.list_market(product, mid)
    order = svc.desk.submit(
        who.username, iid, OrderSide(body.side), OrderType(body.type), body.quantity,
        price=body.price,
    )  # fmt: skip
    return OrderOut.of(order, denial_reason(order))


@router.post(
    "/onramp/initiate", response_model=OnrampOut, status_code=201, responses=problems(404, 422)
)
def onramp_initiate(body: OnrampIn, who: Trader, svc: Services) -> OnrampOut:
    """A Coinbase Onramp link to fund `address`, recorded so its initiation can be followed."""
    from grekko.adapters.ccxt.onramp import OnrampRequest, initiate_onramp
    from grekko.ports.onramp import OnrampError

    link = _link(svc)
    if not link.settings.coinbase.onramp_app_id:
        raise ApiProblem(
            409, "onramp_not_configured", "Onramp is not configured",
            "set coinbase.onramp_app_id to your CDP project id",
        )  # fmt: skip
    request = OnrampRequest(
        addresses={body.address: [body.network]},
        app_id=link.settings.coinbase.onramp_app_id,
        assets=[body.asset],
        default_asset=body.asset,
        default_network=body.network,
        preset_fiat_amount=body.fiat_amount,
        fiat_currency=body.fiat_currency if body.fiat_amount is not None else "",
    )
    try:
        made = initiate_onramp(
            request, user_id=str(who.user_id), tracker=link.tracker, clock=link.kernel.clock
        )
    except OnrampError as exc:
        raise ApiProblem(422, "onramp_invalid", "Not a valid Onramp request", str(exc)) from None
    return OnrampOut(
        id=made.id, url=made.url, asset=made.asset, network=made.network,
        address=made.address, status=str(made.status),
    )  # fmt: skip
