"""FastAPI dependencies: who is calling (get_principal) and may they (require(role)).

Credentials: `Authorization: Bearer <access JWT or API key>` or `X-API-Key: <key>`. The
authenticator is `app.state.auth`, set by the app factory, so routes never build one. A failure
is a 401 problem carrying `WWW-Authenticate` (RFC 6750), a role too low a 403 `forbidden`.
The dependencies are plain functions: FastAPI runs them in its thread pool, so the database
look-up of each request does not block the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from grekko.api.principal import Authenticator, Principal, Role
from grekko.api.problems import ApiProblem

API_KEY_HEADER = "X-API-Key"
REALM = 'Bearer realm="grekko"'

# Declared for the OpenAPI security schemes; the headers themselves are read below.
bearer_scheme = HTTPBearer(
    auto_error=False, description="An access token from /auth/login, or an API key"
)
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key from /api-keys"
)


def authenticator_of(connection: HTTPConnection) -> Authenticator:
    auth = getattr(connection.app.state, "auth", None)
    if auth is None:
        raise ApiProblem(503, "auth_unavailable", "Authentication is not configured")
    return auth  # type: ignore[no-any-return]


def principal_from_connection(connection: HTTPConnection) -> Principal:
    """The caller of an HTTP request or a WebSocket handshake; ApiProblem(401) otherwise."""
    credential = _credential(connection)
    if credential is None:
        raise ApiProblem(
            401,
            "unauthenticated",
            "Authentication required",
            f"send Authorization: Bearer <token> or {API_KEY_HEADER}: <key>",
            headers={"WWW-Authenticate": REALM},
        )
    try:
        principal = authenticator_of(connection).authenticate(credential)
    except ApiProblem as exc:
        if exc.status == 401:
            exc.headers.setdefault("WWW-Authenticate", f'{REALM}, error="invalid_token"')
        raise
    connection.state.principal = principal
    return principal


def _credential(connection: HTTPConnection) -> str | None:
    authorization = connection.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiProblem(
                401,
                "token_invalid",
                "The token is not valid",
                "use the Bearer scheme",
                headers={"WWW-Authenticate": f'{REALM}, error="invalid_request"'},
            )
        return value.strip()
    api_key = connection.headers.get(API_KEY_HEADER)
    return api_key.strip() if api_key else None


async def get_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    _api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> Principal:
    return principal_from_connection(request)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency returning the principal when its role is at least `role`, else 403."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.role.allows(role):
            raise ApiProblem(403, "forbidden", "Not allowed", f"this needs the {role.value} role")
        return principal

    dependency.__name__ = f"require_{role.value}"
    return dependency
