"""Browser tests: the real platform (`grekko up` process) and Debian's chromium through Playwright.

Nothing is skipped: with no /usr/bin/chromium or no UI build the tests fail and say what to run.
Fixtures:
- platform: one server for the whole session, with users admin, tess (trader), vic (viewer);
- own_platform: a server of the test's own, free to restart (own_platform.restart());
- browser: chromium launched from /usr/bin/chromium, per module (never a downloaded browser);
- logged_in_page(role, on=None): a new page logged in through the real login form, its
  console errors and CSP violations collected in page_problems(page);
- screenshot(page, name): docs/screenshots/<name>.png.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, log_in, new_page
from e2e_support import SCREENSHOTS, STATIC_INDEX, Platform, write_settings

LoggedInPage = Callable[..., Any]


def _require_ui_build() -> None:
    if not STATIC_INDEX.is_file():
        pytest.fail(
            f"the web UI is not built ({STATIC_INDEX} is missing): run `make install`",
            pytrace=False,
        )


def _start_platform(data_dir: Path, speed: float = 20.0) -> Platform:
    write_settings(data_dir, speed=speed)
    platform = Platform(data_dir)
    platform.start()
    platform.create_users()
    return platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    _require_ui_build()
    running = _start_platform(tmp_path_factory.mktemp("e2e") / "data")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def own_platform(tmp_path: Path) -> Iterator[Platform]:
    _require_ui_build()
    running = _start_platform(tmp_path / "data")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: Playwright's sync API keeps an event loop running while it is open, which
    the asyncio tests collected after this module must not find."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: browser tests need Debian's chromium "
            "(`make browser` installs it, or `apt-get install -y chromium` as root)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def logged_in_page(browser: Any, platform: Platform) -> Iterator[LoggedInPage]:
    """logged_in_page("trader") -> a Page on the session platform (or on the platform `on`)."""
    pages: list[Any] = []

    def open_as(role: str, on: Platform | None = None) -> Any:
        page = new_page(browser)
        pages.append(page)
        log_in(page, on or platform, role)
        return page

    yield open_as
    for page in pages:
        page.context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def save(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save
