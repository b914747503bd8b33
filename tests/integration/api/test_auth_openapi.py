"""The auth routes' OpenAPI is complete: a typed success body on every operation, every error
documented as application/problem+json with the Problem schema, security declared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auth_support import API, Clock, make_app, make_service, sqlite_engine

from grekko.api.auth.routes import auth_router

PUBLIC = {("get", f"{API}/auth/siwe/nonce"), ("post", f"{API}/auth/login"),
          ("post", f"{API}/auth/refresh"), ("post", f"{API}/auth/logout"),
          ("post", f"{API}/auth/siwe/login")}  # fmt: skip


def _spec(tmp_path: Path) -> dict[str, Any]:
    engine = sqlite_engine(tmp_path)
    try:
        return make_app(make_service(engine, Clock())).openapi()
    finally:
        engine.dispose()


def test_every_operation_is_fully_documented(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert "Problem" in spec["components"]["schemas"]
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    routes = {(m.lower(), r.path) for r in auth_router().routes for m in r.methods}  # type: ignore[attr-defined]
    assert len(routes) == 15
    assert all(path.startswith(f"{API}/") for _, path in routes)
    for method, path in routes:
        op = spec["paths"][path][method]
        where = f"{method.upper()} {path}"
        ok = [code for code in op["responses"] if code.startswith("2")]
        assert len(ok) == 1, where
        body = op["responses"][ok[0]]["content"]["application/json"]["schema"]
        assert "$ref" in body or body.get("type") == "array", where
        errors = {c: r for c, r in op["responses"].items() if not c.startswith("2")}
        for code, response in errors.items():
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (where, code)
        takes_input = "requestBody" in op or op.get("parameters")
        assert ("422" in errors) == bool(takes_input), where
        if (method, path) in PUBLIC:
            assert "security" not in op, where
        else:
            assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], where
            assert "401" in errors, where
        assert op.get("summary"), where


def test_request_bodies_are_closed(tmp_path: Path) -> None:
    schemas = _spec(tmp_path)["components"]["schemas"]
    for name in ("LoginIn", "RefreshIn", "SiweLoginIn", "UserCreateIn", "UserPatchIn",
                 "WalletIn", "ApiKeyCreateIn", "MfaVerifyIn"):  # fmt: skip
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["LoginIn"]["properties"]["password"]["maxLength"] == 1024
    assert schemas["UserCreateIn"]["properties"]["password"]["minLength"] == 12
