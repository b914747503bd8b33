"""News bookmarks over the real platform: each user's own list, newest first, kept in SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from platform_support import Harness, running_platform

from grekko.adapters.sql.bookmark_store import SqlBookmarkStore
from grekko.adapters.sql.engine import build_engine
from grekko.api.principal import Role

URL = "/api/v1/news/bookmarks"
MISSING = "0" * 64


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_platform(tmp_path) as h:
        yield h


async def news_ids(h: Harness, count: int) -> list[str]:
    answer = await h.client.get(
        "/api/v1/news", params={"limit": count}, headers=h.auth(Role.VIEWER)
    )
    assert answer.status_code == 200, answer.text
    ids = [item["news_id"] for item in answer.json()]
    assert len(ids) == count
    return ids


async def bookmarked(h: Harness, role: Role) -> list[str]:
    answer = await h.client.get(URL, headers=h.auth(role))
    assert answer.status_code == 200, answer.text
    found: list[str] = answer.json()
    return found


async def put(h: Harness, role: Role, news_id: str) -> int:
    answer = await h.client.put(f"{URL}/{news_id}", headers=h.auth(role))
    return answer.status_code


@pytest.mark.asyncio
async def test_bookmarks_are_listed_newest_first_and_removed(harness: Harness) -> None:
    first, second, third = await news_ids(harness, 3)
    assert await bookmarked(harness, Role.TRADER) == []
    for news_id in (first, second, third):
        assert await put(harness, Role.TRADER, news_id) == 204
    assert await bookmarked(harness, Role.TRADER) == [third, second, first]
    assert await put(harness, Role.TRADER, first) == 204  # idempotent: keeps its first time
    assert await bookmarked(harness, Role.TRADER) == [third, second, first]
    removed = await harness.client.delete(f"{URL}/{second}", headers=harness.auth(Role.TRADER))
    assert removed.status_code == 204
    assert await bookmarked(harness, Role.TRADER) == [third, first]
    again = await harness.client.delete(f"{URL}/{second}", headers=harness.auth(Role.TRADER))
    assert again.status_code == 204


@pytest.mark.asyncio
async def test_every_user_has_their_own_bookmarks(harness: Harness) -> None:
    one, other = await news_ids(harness, 2)
    assert await put(harness, Role.VIEWER, one) == 204
    assert await put(harness, Role.ADMIN, other) == 204
    assert await bookmarked(harness, Role.VIEWER) == [one]
    assert await bookmarked(harness, Role.ADMIN) == [other]
    assert await bookmarked(harness, Role.TRADER) == []
    gone = await harness.client.delete(f"{URL}/{one}", headers=harness.auth(Role.ADMIN))
    assert gone.status_code == 204
    assert await bookmarked(harness, Role.VIEWER) == [one]


@pytest.mark.asyncio
async def test_a_story_that_is_not_stored_is_a_404_problem(harness: Harness) -> None:
    answer = await harness.client.put(f"{URL}/{MISSING}", headers=harness.auth(Role.VIEWER))
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "unknown_news"
    assert await bookmarked(harness, Role.VIEWER) == []


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "A" * 64, "0" * 63, "0" * 65])
@pytest.mark.asyncio
async def test_an_id_that_is_not_64_lowercase_hex_is_a_422(harness: Harness, bad: str) -> None:
    for method in ("PUT", "DELETE"):
        answer = await harness.client.request(
            method, f"{URL}/{bad}", headers=harness.auth(Role.VIEWER)
        )
        assert answer.status_code == 422, (method, bad, answer.text)
        assert answer.json()["code"] == "validation_error"


@pytest.mark.asyncio
async def test_bookmarks_are_in_the_database_after_the_server_stops(tmp_path: Path) -> None:
    async with running_platform(tmp_path) as h:
        (story,) = await news_ids(h, 1)
        assert await put(h, Role.TRADER, story) == 204
        me = (await h.client.get("/api/v1/auth/me", headers=h.auth(Role.TRADER))).json()
    engine = build_engine(f"sqlite:///{tmp_path / 'grekko.db'}")
    try:
        assert SqlBookmarkStore(engine).news_ids(me["id"]) == [story]
    finally:
        engine.dispose()
