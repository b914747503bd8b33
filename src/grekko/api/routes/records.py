"""News, the audit log and the event log."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Depends, Query

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import AuditOut, AuditVerifyOut, EventOut, NewsOut, problems
from grekko.api.services import ApiServices, services
from grekko.core.time import ns_to_iso
from grekko.domain.news import NewsQuery

router = APIRouter(prefix="/api/v1", tags=["records"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Services = Annotated[ApiServices, Depends(services)]
Asset = Annotated[str, Query(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$")]


@router.get("/news", response_model=list[NewsOut], responses=problems(404))
async def news(
    _: Viewer,
    svc: Services,
    asset: Annotated[list[Asset] | None, Query(max_length=20)] = None,
    sentiment: Literal["positive", "neutral", "negative"] | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    until: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NewsOut]:
    if svc.news is None:
        raise ApiProblem(404, "no_news_store", "This server keeps no news")
    query = NewsQuery(
        assets=tuple(a.upper() for a in asset or ()),
        since=since,
        until=until,
        sentiment_label=sentiment,
        text=q,
        limit=limit,
    )
    return [
        NewsOut(
            news_id=item.news_id,
            published_at=ns_to_iso(item.published_at),
            source=item.source,
            title=item.title,
            summary=item.summary,
            url=item.url,
            assets=list(item.assets),
            sentiment=item.sentiment,
            sentiment_label=item.sentiment_label,
        )
        for item in svc.news.query(query)
    ]


@router.get("/audit", response_model=list[AuditOut], responses=problems(404))
async def audit_log(
    _: Admin,
    svc: Services,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[AuditOut]:
    if svc.audit is None:
        raise ApiProblem(404, "no_audit_log", "This server keeps no audit log")
    return [
        AuditOut(
            seq=e.seq,
            time=ns_to_iso(e.ts),
            actor=e.actor,
            action=e.action,
            target=e.target,
            detail=e.detail,
            hash=e.hash,
        )
        for e in svc.audit.list(limit=limit, before_seq=before)
    ]


@router.get("/audit/verify", response_model=AuditVerifyOut, responses=problems(404))
async def verify_audit(_: Admin, svc: Services) -> AuditVerifyOut:
    if svc.audit is None:
        raise ApiProblem(404, "no_audit_log", "This server keeps no audit log")
    result = svc.audit.verify()
    return AuditVerifyOut(
        ok=result.ok,
        entries=getattr(result, "entries", 0),
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
    )


@router.get("/events", response_model=list[EventOut], responses=problems())
async def events(
    _: Viewer,
    svc: Services,
    from_position: Annotated[int, Query(ge=1, le=2**62)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventOut]:
    return [
        EventOut(
            position=r.global_position,
            stream_id=r.stream_id,
            version=r.version,
            type=type(r.event).__name__,
            time=ns_to_iso(r.event.ts_event),
            data=msgspec.to_builtins(r.event),
        )
        for r in svc.desk.events(from_position, limit)
    ]
