"""The auth routes (mount under /api/v1): sessions, MFA, SIWE, users (admin) and API keys.

Handlers are plain functions (run in the thread pool: argon2 and the database do not block the
event loop). Secrets appear in exactly one answer each: tokens in the login/refresh answers, the
TOTP secret in the enrolment answer, an API key in its creation answer; those answers carry
`Cache-Control: no-store`. If `app.state.audit` is set, `(actor, action, target, detail)` is
called for logins (success and failure), user changes, key creation/revocation and MFA changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from grekko.api.auth.dependencies import CurrentPrincipal, require
from grekko.api.auth.schemas import (
    ApiKeyCreatedOut,
    ApiKeyCreateIn,
    ApiKeyOut,
    LoginIn,
    LogoutOut,
    MeOut,
    MfaEnrolOut,
    MfaVerifyIn,
    RefreshIn,
    SiweLoginIn,
    SiweNonceOut,
    TokenPairOut,
    UserCreateIn,
    UserOut,
    UserPatchIn,
    WalletIn,
    created_key_out,
    problem_responses,
)
from grekko.api.auth.service import AuthService
from grekko.api.auth.tokens import TokenPair
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.core.time import ns_to_iso

Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
UserId = Annotated[int, Path(ge=1, le=2**62)]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


def _service(request: Request) -> AuthService:
    service = getattr(request.app.state, "auth", None)
    if not isinstance(service, AuthService):
        raise ApiProblem(503, "auth_unavailable", "Authentication is not configured")
    return service


def _audit(request: Request, actor: str, action: str, target: str, **detail: object) -> None:
    """Hand one entry to `app.state.audit(actor, action, target, detail)` when there is one."""
    audit: Callable[[str, str, str, Mapping[str, object]], object] | None = getattr(
        request.app.state, "audit", None
    )
    if audit is not None:
        audit(actor.strip()[:100] or "anonymous", action, target.strip()[:200] or "-", detail)


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def _tokens(response: Response, pair: TokenPair) -> TokenPairOut:
    _no_store(response)
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


def _jwt_session(principal: Principal) -> None:
    """Credential management needs a login session: a leaked API key cannot mint more keys."""
    if principal.via != "jwt":
        raise ApiProblem(
            403, "session_required", "Not allowed with an API key", "log in with a password"
        )


# ---- sessions -------------------------------------------------------------------------------
def login(request: Request, response: Response, body: LoginIn) -> TokenPairOut:
    name = body.username[:64]
    try:
        pair = _service(request).login(body.username, body.password, body.otp)
    except ApiProblem as exc:
        _audit(request, name, "auth.login_failed", f"user:{name}", reason=exc.code)
        raise
    _audit(request, name.lower(), "auth.login", f"user:{name.lower()}", method="password")
    return _tokens(response, pair)


def refresh(request: Request, response: Response, body: RefreshIn) -> TokenPairOut:
    return _tokens(response, _service(request).refresh(body.refresh_token))


def logout(request: Request, body: RefreshIn) -> LogoutOut:
    _service(request).logout(body.refresh_token)
    return LogoutOut()


def me(request: Request, principal: CurrentPrincipal) -> MeOut:
    return MeOut.of_principal(_service(request).get_user(principal.user_id), principal)


# ---- MFA and SIWE ---------------------------------------------------------------------------
def mfa_enrol(request: Request, response: Response, principal: CurrentPrincipal) -> MfaEnrolOut:
    _jwt_session(principal)
    enrolment = _service(request).mfa_enrol(principal.user_id)
    _audit(request, principal.username, "auth.mfa_enrol", f"user:{principal.username}")
    _no_store(response)
    return MfaEnrolOut(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


def mfa_verify(request: Request, principal: CurrentPrincipal, body: MfaVerifyIn) -> UserOut:
    _jwt_session(principal)
    user = _service(request).mfa_verify(principal.user_id, body.code)
    _audit(request, principal.username, "auth.mfa_enable", f"user:{principal.username}")
    return UserOut.of(user)


def siwe_nonce(request: Request, response: Response) -> SiweNonceOut:
    nonce = _service(request).new_nonce()
    _no_store(response)
    return SiweNonceOut(
        nonce=nonce.nonce,
        expires_at=ns_to_iso(nonce.expires_at),
        domain=nonce.domain,
        chain_id=nonce.chain_id,
    )


def siwe_login(request: Request, response: Response, body: SiweLoginIn) -> TokenPairOut:
    service = _service(request)
    try:
        pair = service.siwe_login(body.message, body.signature, body.otp)
    except ApiProblem as exc:
        _audit(request, "anonymous", "auth.login_failed", "siwe", reason=exc.code)
        raise
    principal = service.authenticate(pair.access_token)
    _audit(request, principal.username, "auth.login", f"user:{principal.username}", method="siwe")
    return _tokens(response, pair)


# ---- users ----------------------------------------------------------------------------------
def list_users(request: Request, _admin: Admin) -> list[UserOut]:
    return [UserOut.of(u) for u in _service(request).list_users()]


def create_user(request: Request, admin: Admin, body: UserCreateIn) -> UserOut:
    user = _service(request).create_user(body.username, body.password, body.role)
    _audit(request, admin.username, "user.create", f"user:{user.username}", role=body.role)
    return UserOut.of(user)


def patch_user(request: Request, admin: Admin, user_id: UserId, body: UserPatchIn) -> UserOut:
    role = None if body.role is None else Role(body.role)
    user = _service(request).update_user(user_id, role=role, disabled=body.disabled)
    changes = body.model_dump(exclude_none=True)
    _audit(request, admin.username, "user.update", f"user:{user.username}", **changes)
    return UserOut.of(user)


def link_wallet(
    request: Request, principal: CurrentPrincipal, user_id: UserId, body: WalletIn
) -> UserOut:
    if principal.role != Role.ADMIN and principal.user_id != user_id:
        raise ApiProblem(403, "forbidden", "Not allowed", "only an admin or the user themself")
    user = _service(request).link_wallet(user_id, body.address)
    target = f"user:{user.username}"
    _audit(request, principal.username, "user.link_wallet", target, address=user.wallet_address)
    return UserOut.of(user)


# ---- API keys -------------------------------------------------------------------------------
def list_keys(
    request: Request,
    principal: CurrentPrincipal,
    all_users: Annotated[bool, Query(alias="all", description="Every user's keys (admin)")] = False,
) -> list[ApiKeyOut]:
    if all_users and principal.role != Role.ADMIN:
        raise ApiProblem(403, "forbidden", "Not allowed", "only an admin sees every key")
    owner = None if all_users else principal.user_id
    return [ApiKeyOut.of(k) for k in _service(request).list_api_keys(owner)]


def create_key(
    request: Request, response: Response, principal: CurrentPrincipal, body: ApiKeyCreateIn
) -> ApiKeyCreatedOut:
    _jwt_session(principal)
    role = principal.role if body.role is None else Role(body.role)
    created = _service(request).create_api_key(principal.user_id, body.name, role)
    target = f"api_key:{created.info.key_id}"
    _audit(request, principal.username, "api_key.create", target, role=role.value)
    _no_store(response)
    return created_key_out(created.info, created.key)


def revoke_key(request: Request, principal: CurrentPrincipal, key_id: KeyId) -> ApiKeyOut:
    owner = None if principal.role == Role.ADMIN else principal.user_id
    key = _service(request).revoke_api_key(key_id, owner_id=owner)
    _audit(request, principal.username, "api_key.revoke", f"api_key:{key_id}")
    return ApiKeyOut.of(key)


_PUBLIC = problem_responses(401, 422)
_AUTHED = problem_responses(401, 403, 422)
_ADMIN = problem_responses(401, 403, 404, 409, 422)

# path, method, handler, response model, status, error responses, tag, summary
_ROUTES: tuple[tuple[str, str, Callable[..., Any], Any, int, dict[int | str, Any], str, str], ...] = (
    ("/auth/login", "POST", login, TokenPairOut, 200, _PUBLIC, "auth", "Log in with username and password (+ TOTP)"),
    ("/auth/refresh", "POST", refresh, TokenPairOut, 200, _PUBLIC, "auth", "Rotate a refresh token for a new pair"),
    ("/auth/logout", "POST", logout, LogoutOut, 200, _PUBLIC, "auth", "End the session of a refresh token"),
    ("/auth/me", "GET", me, MeOut, 200, problem_responses(401), "auth", "The calling user"),
    ("/auth/mfa/enrol", "POST", mfa_enrol, MfaEnrolOut, 200, problem_responses(401, 403, 409), "auth", "Start TOTP enrolment"),
    ("/auth/mfa/verify", "POST", mfa_verify, UserOut, 200, problem_responses(400, 401, 403, 409, 422), "auth", "Enable TOTP with a first code"),
    ("/auth/siwe/nonce", "GET", siwe_nonce, SiweNonceOut, 200, {}, "auth", "A single-use nonce for an EIP-4361 message"),
    ("/auth/siwe/login", "POST", siwe_login, TokenPairOut, 200, _PUBLIC, "auth", "Sign in with Ethereum"),
    ("/users", "GET", list_users, list[UserOut], 200, problem_responses(401, 403), "users", "Every user (admin)"),
    ("/users", "POST", create_user, UserOut, 201, problem_responses(401, 403, 409, 422), "users", "Create a user (admin)"),
    ("/users/{user_id}", "PATCH", patch_user, UserOut, 200, _ADMIN, "users", "Change role or disabled (admin)"),
    ("/users/{user_id}/wallet", "POST", link_wallet, UserOut, 200, _ADMIN, "users", "Link a wallet for SIWE"),
    ("/api-keys", "GET", list_keys, list[ApiKeyOut], 200, _AUTHED, "api-keys", "API keys (never their secret)"),
    ("/api-keys", "POST", create_key, ApiKeyCreatedOut, 201, problem_responses(401, 403, 422), "api-keys", "Create an API key (shown once)"),
    ("/api-keys/{key_id}", "DELETE", revoke_key, ApiKeyOut, 200, problem_responses(401, 403, 404, 422), "api-keys", "Revoke an API key"),
)  # fmt: skip


def auth_router(prefix: str = "/api/v1") -> APIRouter:
    """The routes under `prefix` (the API's version root), ready for app.include_router."""
    router = APIRouter(prefix=prefix)
    for path, method, handler, model, status, errors, tag, summary in _ROUTES:
        router.add_api_route(
            path,
            handler,
            methods=[method],
            response_model=model,
            status_code=status,
            responses=errors,
            tags=[tag],
            summary=summary,
            name=f"{tag}.{handler.__name__}",
        )
    return router
