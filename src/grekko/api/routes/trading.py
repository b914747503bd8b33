"""Orders (idempotent submission), fills, positions, balances, portfolio."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response

from grekko.api.auth.dependencies import require
from grekko.api.desk import UnknownInstrument, denial_reason
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import (
    BalanceOut,
    EquityPoint,
    FillOut,
    OrderIn,
    OrderOut,
    PortfolioOut,
    PositionOut,
    problems,
)
from grekko.api.services import ApiServices, services
from grekko.core.time import ns_to_iso
from grekko.domain.enums import OrderSide, OrderStatus, OrderType, TimeInForce

router = APIRouter(prefix="/api/v1", tags=["trading"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Services = Annotated[ApiServices, Depends(services)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$"),
]
ClientOrderId = Annotated[str, Query(min_length=1, max_length=64)]


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=201,
    responses=problems(404, 409),
)
async def submit_order(
    body: OrderIn, who: Trader, svc: Services, response: Response, key: IdempotencyKey = None
) -> OrderOut:
    """Submit an order; with an Idempotency-Key a retry returns the first answer, not a second order."""
    fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    if key is not None and svc.idempotency is not None:
        seen = svc.idempotency.get(who.user_id, key)
        if seen is not None:
            if seen.request_hash != fingerprint:
                raise ApiProblem(
                    409, "idempotency_key_reused", "Idempotency-Key reused",
                    "this key was used for a different request",
                )  # fmt: skip
            response.status_code = seen.status_code
            response.headers["Idempotent-Replay"] = "true"
            return OrderOut.model_validate_json(seen.response)
    out = _submit(body, who, svc)
    if key is not None and svc.idempotency is not None:
        svc.idempotency.put(who.user_id, key, fingerprint, 201, out.model_dump_json())
    return out


def _submit(body: OrderIn, who: Principal, svc: ApiServices) -> OrderOut:
    order_type = OrderType(body.type)
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and body.price is None:
        raise ApiProblem(422, "price_required", "A limit order needs a price")
    if order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and body.trigger_price is None:
        raise ApiProblem(422, "trigger_required", "A stop order needs a trigger_price")
    try:
        order = svc.desk.submit(
            who.username,
            body.instrument_id,
            OrderSide(body.side),
            order_type,
            body.quantity,
            price=body.price,
            trigger_price=body.trigger_price,
            time_in_force=TimeInForce(body.time_in_force),
            reduce_only=body.reduce_only,
            post_only=body.post_only,
        )
    except UnknownInstrument as exc:
        raise ApiProblem(
            404, "unknown_instrument", "Unknown instrument", str(exc.args[0])
        ) from None
    except ValueError as exc:
        raise ApiProblem(422, "invalid_order", "The order is not valid", str(exc)) from None
    reason = denial_reason(order)
    out = OrderOut.of(order, reason)
    if order.status is OrderStatus.DENIED:
        raise ApiProblem(
            409, "order_denied", "Denied by the risk engine", reason or "",
            extra={"order": json.loads(out.model_dump_json())},
        )  # fmt: skip
    return out


@router.get("/orders", response_model=list[OrderOut], responses=problems())
async def list_orders(
    _: Viewer,
    svc: Services,
    status: Literal["open", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OrderOut]:
    orders = svc.desk.orders(open_only=status == "open", limit=limit)
    return [OrderOut.of(o, denial_reason(o)) for o in orders]


def _order(svc: ApiServices, client_order_id: str) -> OrderOut:
    try:
        order = svc.desk.order(client_order_id)
    except KeyError as exc:
        raise ApiProblem(404, "unknown_order", "Unknown order", str(exc.args[0])) from None
    return OrderOut.of(order, denial_reason(order))


@router.get("/orders/{client_order_id}", response_model=OrderOut, responses=problems(404))
async def get_order(client_order_id: str, _: Viewer, svc: Services) -> OrderOut:
    return _order(svc, client_order_id[:64])


@router.delete("/orders/{client_order_id}", response_model=OrderOut, responses=problems(404, 409))
async def cancel_order(client_order_id: str, who: Trader, svc: Services) -> OrderOut:
    current = _order(svc, client_order_id[:64])
    if current.status in {
        s.value
        for s in (
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.DENIED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        )
    }:
        raise ApiProblem(
            409, "order_closed", "The order is no longer open", f"status {current.status}"
        )
    if who.role is not Role.ADMIN and current.strategy_id != f"manual:{who.username}":
        raise ApiProblem(403, "not_your_order", "Only its owner or an admin may cancel this order")
    svc.desk.cancel(current.client_order_id)
    return _order(svc, current.client_order_id)


@router.get("/fills", response_model=list[FillOut], responses=problems())
async def fills(
    _: Viewer, svc: Services, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[FillOut]:
    return [FillOut.of(f) for f in svc.desk.fills(limit)]


@router.get("/positions", response_model=list[PositionOut], responses=problems())
async def positions(_: Viewer, svc: Services) -> list[PositionOut]:
    return [PositionOut(**p) for p in svc.desk.positions()]


@router.get("/balances", response_model=list[BalanceOut], responses=problems())
async def balances(_: Viewer, svc: Services) -> list[BalanceOut]:
    return [BalanceOut(**b) for b in svc.desk.balances()]


@router.get("/portfolio", response_model=PortfolioOut, responses=problems())
async def portfolio(
    _: Viewer, svc: Services, points: Annotated[int, Query(ge=1, le=20_000)] = 1000
) -> PortfolioOut:
    curve = list(svc.desk.equity_curve)
    step = max(1, len(curve) // points)
    sampled = curve[::step]
    if curve and sampled[-1] is not curve[-1]:
        sampled.append(curve[-1])
    return PortfolioOut(
        **svc.desk.portfolio(),
        equity_curve=[EquityPoint(time=ns_to_iso(ts), equity=Decimal(eq)) for ts, eq in sampled],
    )
