"""The built UI in chromium against the real platform: it loads, logs in, shows the desk, cleanly."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import SECTIONS, new_page, page_problems, wait_for_desk
from e2e_support import Platform

pytestmark = pytest.mark.slow


def test_the_login_page_loads_without_errors(browser: Any, platform: Platform) -> None:
    page = new_page(browser)
    try:
        answer = page.goto(platform.url + "/")
        assert answer is not None
        assert answer.status == 200
        assert page.title() == "Grekko"
        page.get_by_label("Username", exact=True).wait_for()
        assert page_problems(page) == []
    finally:
        page.context.close()


def test_after_login_the_four_sections_show_without_errors(
    logged_in_page: Any, screenshot: Any
) -> None:
    page = logged_in_page("trader")
    for name in SECTIONS:
        assert page.locator(f'[aria-label="{name}"]').first.is_visible(), name
    page.wait_for_timeout(1500)  # live updates arrive over the WebSocket meanwhile
    screenshot(page, "desk")
    assert page_problems(page) == []


def test_a_deep_link_reloads_into_the_app(browser: Any, platform: Platform) -> None:
    page = new_page(browser)
    try:
        answer = page.goto(platform.url + "/some/page/of/the/app")
        assert answer is not None
        assert answer.status == 200
        assert page.title() == "Grekko"
    finally:
        page.context.close()


def test_a_logged_in_page_reopens_the_desk_after_a_server_restart(
    logged_in_page: Any, own_platform: Platform
) -> None:
    """Same data dir and port: the session (tokens in sessionStorage) is still good."""
    page = logged_in_page("viewer", on=own_platform)
    own_platform.restart()
    page.reload()
    wait_for_desk(page)
    assert page.get_by_label("Username", exact=True).count() == 0
