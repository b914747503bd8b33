"""The web UI's files at / behind the real security middleware: build, fallback, not-built page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from grekko.api.middleware import install_security
from grekko.api.problems import install_problem_handlers
from grekko.api.ui import IMMUTABLE, REVALIDATE, UiFiles, is_app_page

INDEX = '<!doctype html><title>Grekko</title><script type="module" src="/assets/app-1a2b.js">'


def app_over(static_dir: Path) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/v1/things")
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    install_security(app, cors_origins=[], max_body_bytes=1024)
    app.mount("/", UiFiles(static_dir), name="ui")
    return app


def build(static_dir: Path) -> None:
    (static_dir / "assets").mkdir(parents=True)
    (static_dir / "index.html").write_text(INDEX)
    (static_dir / "assets" / "app-1a2b.js").write_text("console.log('grekko');")


def client(static_dir: Path) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app_over(static_dir))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


@pytest.mark.asyncio
async def test_the_build_is_served_with_cache_headers_and_the_csp(tmp_path: Path) -> None:
    build(tmp_path)
    async with client(tmp_path) as http:
        index = await http.get("/")
        asset = await http.get("/assets/app-1a2b.js")
    assert index.status_code == 200
    assert index.text == INDEX
    assert index.headers["cache-control"] == REVALIDATE
    csp = index.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "connect-src 'self' ws://127.0.0.1:8000;" in csp
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == IMMUTABLE
    assert "javascript" in asset.headers["content-type"]


@pytest.mark.asyncio
async def test_app_paths_fall_back_to_index_html_and_the_rest_stays_404(tmp_path: Path) -> None:
    build(tmp_path)
    async with client(tmp_path) as http:
        deep = await http.get("/desk/BTC-USDT")
        missing_asset = await http.get("/assets/gone-9f9f.js")
        missing_file = await http.get("/favicon.ico")
        missing_api = await http.get("/api/v1/nothing-here")
        api = await http.get("/api/v1/things")
        post = await http.post("/")
    assert deep.status_code == 200
    assert deep.text == INDEX
    assert deep.headers["cache-control"] == REVALIDATE
    for answer in (missing_asset, missing_file, missing_api):
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert api.json() == {"ok": "yes"}
    assert post.status_code == 405


@pytest.mark.asyncio
async def test_with_no_build_pages_say_how_to_build_it(tmp_path: Path) -> None:
    static_dir = tmp_path / "static"
    async with client(static_dir) as http:
        root = await http.get("/")
        deep = await http.get("/desk")
        asset = await http.get("/assets/app-1a2b.js")
        api = await http.get("/api/v1/nothing-here")
        build(static_dir)  # built while the server runs: served from the next request on
        built = await http.get("/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert "make install" in root.text
    assert "content-security-policy" in root.headers
    assert deep.status_code == 200
    assert "make install" in deep.text
    assert asset.status_code == 404
    assert api.status_code == 404
    assert built.text == INDEX


@pytest.mark.parametrize(
    ("path", "page"),
    [
        (".", True),
        ("index.html", True),
        ("desk", True),
        ("desk/BTC-USDT", True),
        ("assets/app.js", False),
        ("assets/chunk", False),
        ("api/v1/x", False),
        ("ws", False),
        ("graphql", False),
        ("robots.txt", False),
    ],
)
def test_which_paths_are_pages_of_the_app(path: str, page: bool) -> None:
    assert is_app_page(path) is page
