"""The web UI: the Vite build of ui/ (src/grekko/static) served at /, mounted after every route.

- /assets/* are Vite's content-hashed files: cached for a year; index.html is revalidated.
- A path that names no file and looks like a page of the app (no extension, not under /api,
  /assets and the other server paths) gets index.html, so a reload on a deep link works.
- With no build there (a fresh clone before `make install`), a page says how to build it.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

SERVER_PATHS = frozenset(
    {"api", "assets", "ws", "graphql", "metrics", "health", "ready", "docs", "redoc"}
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Grekko: the web UI is not built</title></head>
<body>
<h1>Grekko is running; its web UI is not built yet</h1>
<p>Build it once with <code>make install</code> (or <code>cd ui &amp;&amp; npm ci &amp;&amp;
npm run build</code>), which writes it to <code>src/grekko/static</code>, then reload this page.</p>
<p>The API is served all the same: <a href="/docs">/docs</a>.</p>
</body>
</html>
"""


def is_app_page(path: str) -> bool:
    """A normalized request path ('.' for /) that the single-page app itself answers."""
    if path in {".", "index.html"}:
        return True
    parts = path.replace(os.sep, "/").split("/")
    return parts[0] not in SERVER_PATHS and "." not in parts[-1]


class UiFiles(StaticFiles):
    """StaticFiles over the build directory, which may not exist (yet)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.index = directory / "index.html"

    async def check_config(self) -> None:
        """A missing directory is not an error here: the not-built page is served instead."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not self.index.is_file():
            if scope["method"] in ("GET", "HEAD") and is_app_page(path):
                return HTMLResponse(NOT_BUILT, headers={"Cache-Control": REVALIDATE})
            raise HTTPException(status_code=404)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or not is_app_page(path):
                raise
            response = await super().get_response("index.html", scope)
        immutable = path.startswith("assets" + os.sep) and response.status_code in (200, 304)
        response.headers["Cache-Control"] = IMMUTABLE if immutable else REVALIDATE
        return response
