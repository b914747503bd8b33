"""News bookmarks: every user (viewer and up) keeps their own list of stories.

The handlers are plain functions, so their database work runs in FastAPI's thread pool and
never on the event loop that runs the replay.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import problems
from grekko.api.services import ApiServices, services

router = APIRouter(prefix="/api/v1/news/bookmarks", tags=["records"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Services = Annotated[ApiServices, Depends(services)]
NewsId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{64}$", description="64 lowercase hex digits, as /news gives")
]


def _store(svc: ApiServices) -> Any:
    if svc.bookmarks is None:
        raise ApiProblem(404, "no_bookmark_store", "This server keeps no bookmarks")
    return svc.bookmarks


def _unknown(news_id: str) -> ApiProblem:
    return ApiProblem(404, "unknown_news", "No such news", news_id)


@router.get("", response_model=list[str], responses=problems(404))
def list_bookmarks(who: Viewer, svc: Services) -> list[str]:
    """The caller's bookmarked news ids, the latest bookmarked first."""
    ids: list[str] = _store(svc).news_ids(who.user_id)
    return ids


@router.put("/{news_id}", status_code=204, responses=problems(404))
def add_bookmark(news_id: NewsId, who: Viewer, svc: Services) -> None:
    store = _store(svc)
    if svc.news is None or svc.news.get(news_id) is None:
        raise _unknown(news_id)
    try:
        store.add(who.user_id, news_id)
    except LookupError:
        raise _unknown(news_id) from None


@router.delete("/{news_id}", status_code=204, responses=problems(404))
def remove_bookmark(news_id: NewsId, who: Viewer, svc: Services) -> None:
    """Idempotent: removing a bookmark that is not there answers 204 too."""
    _store(svc).remove(who.user_id, news_id)
