"""Risk: limits (read by all, set by admins), state, the kill switch (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.schemas import (
    KillSwitchIn,
    KillSwitchOut,
    RiskLimitsIn,
    RiskLimitsOut,
    RiskStateOut,
    TradingStateIn,
    problems,
)
from grekko.api.services import ApiServices, audit, services
from grekko.domain.enums import TradingState
from grekko.domain.risk import RiskLimits

router = APIRouter(prefix="/api/v1/risk", tags=["risk"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Services = Annotated[ApiServices, Depends(services)]


def _limits_out(limits: RiskLimits) -> RiskLimitsOut:
    return RiskLimitsOut(
        max_order_notional=limits.max_order_notional,
        max_position_qty=limits.max_position_qty,
        price_band_pct=limits.price_band_pct,
        max_orders_per_second=limits.max_orders_per_second,
        strategy_budget_pct=limits.strategy_budget_pct,
        daily_loss_pct=limits.daily_loss_pct,
        max_drawdown_pct=limits.max_drawdown_pct,
        allowed_instruments=sorted(limits.allowed_instruments),
    )


@router.get("/limits", response_model=RiskLimitsOut, responses=problems())
async def get_limits(_: Viewer, svc: Services) -> RiskLimitsOut:
    return _limits_out(svc.desk.risk_limits())


@router.patch("/limits", response_model=RiskLimitsOut, responses=problems())
async def set_limits(
    body: RiskLimitsIn, who: Admin, svc: Services, request: Request
) -> RiskLimitsOut:
    changes = body.model_dump(exclude_none=True)
    limits = svc.desk.set_risk_limits(**changes)
    audit(request, who.username, "risk.limits.set", "risk", str(sorted(changes.items())))
    return _limits_out(limits)


@router.get("/state", response_model=RiskStateOut, responses=problems())
async def state(_: Viewer, svc: Services) -> RiskStateOut:
    s = svc.desk.risk_state()
    return RiskStateOut(
        state=str(s["state"]),
        denials=s["denials"],
        open_orders=s["open_orders"],
        drawdown=s["drawdown"],
    )


@router.post("/state", response_model=RiskStateOut, responses=problems())
async def set_state(
    body: TradingStateIn, who: Admin, svc: Services, request: Request
) -> RiskStateOut:
    svc.desk.set_trading_state(TradingState(body.state), f"{who.username}: {body.reason}")
    audit(request, who.username, "risk.state.set", body.state, body.reason)
    return await state(who, svc)


@router.post("/kill-switch", response_model=KillSwitchOut, responses=problems())
async def kill_switch(
    body: KillSwitchIn, who: Admin, svc: Services, request: Request
) -> KillSwitchOut:
    canceled = svc.desk.kill_switch(f"{who.username}: {body.reason}")
    audit(request, who.username, "risk.kill_switch", "risk", body.reason)
    return KillSwitchOut(state=str(svc.desk.risk_state()["state"]), canceled=canceled)
