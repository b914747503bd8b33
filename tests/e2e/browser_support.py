"""Pages in Debian's chromium: launch flags, error watching, logging in through the real form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e_support import Platform

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
VIEWPORT = {"width": 1280, "height": 720}
LOGIN_TIMEOUT_MS = 15_000
SECTIONS = ("Chart", "News", "Agents", "Trading")

# Runs in every page before its own scripts: CSP violations are kept where a test can read them.
COLLECT_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def page_problems(page: Any) -> list[str]:
    """Console errors, uncaught exceptions and CSP violations the page has had so far."""
    found: list[str] = list(page.grekko_problems)
    found += [f"CSP: {v}" for v in page.evaluate("window.__cspViolations || []")]
    return found


def new_page(browser: Any, prepare: Callable[[Any], None] | None = None) -> Any:
    """A page in a fresh context (its own storage), watching for errors; `prepare(context)`
    runs first (e.g. to inject a wallet before the page's scripts)."""
    context = browser.new_context(viewport=VIEWPORT)
    if prepare is not None:
        prepare(context)
    context.add_init_script(COLLECT_CSP_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.grekko_problems = problems

    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(f"console.error: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return page


def log_in(page: Any, platform: Platform, role: str) -> None:
    """Through the login form (ui/src/login.ts), then wait for the desk's four sections."""
    username, password = platform.credentials(role)
    page.goto(platform.url + "/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_for_desk(page)


def wait_for_desk(page: Any) -> None:
    """The four sections of the desk are there; else fail with what the login form says."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        for name in SECTIONS:
            page.locator(f'[aria-label="{name}"]').first.wait_for(timeout=LOGIN_TIMEOUT_MS)
    except PlaywrightTimeout:
        alert = page.locator(".login-error")
        said = alert.inner_text() if alert.count() else ""
        raise AssertionError(f"the desk did not open; the login form says {said!r}") from None
