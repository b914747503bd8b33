"""Request and response bodies of the auth routes: strict, closed (extra="forbid"), bounded.

Requests accept only the declared fields with the declared JSON types, so a typo in a field name
is a 422 instead of a silently ignored option. Roles are literals, not the Role enum, so strict
mode accepts them from JSON text. Times are ISO 8601 with Z, the API's form.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grekko.api.auth.views import ApiKeyInfo, UserInfo
from grekko.api.principal import Principal
from grekko.api.problems import MEDIA_TYPE
from grekko.core.time import ns_to_iso

RoleName = Literal["viewer", "trader", "admin"]
Otp = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The 6-digit TOTP code")]
Token = Annotated[str, Field(min_length=1, max_length=4096)]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    otp: Otp | None = None


class RefreshIn(_In):
    refresh_token: Token


class TokenPairOut(_Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - OAuth 2 token type
    expires_in: int = Field(description="Seconds the access token is valid")


class LogoutOut(_Out):
    revoked: bool = True


class MfaEnrolOut(_Out):
    secret: str = Field(description="Base32 TOTP secret, shown once")
    otpauth_uri: str = Field(description="otpauth:// URI for an authenticator app (QR code)")


class MfaVerifyIn(_In):
    code: Otp


class SiweNonceOut(_Out):
    nonce: str
    expires_at: str
    domain: str = Field(description="The domain the EIP-4361 message must name")
    chain_id: int = Field(description="The chain id the EIP-4361 message must name")


class SiweLoginIn(_In):
    message: Annotated[str, Field(min_length=1, max_length=4096)]
    signature: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]
    otp: Otp | None = None


class UserOut(_Out):
    id: int
    username: str
    role: RoleName
    mfa_enabled: bool
    wallet_address: str | None
    disabled: bool
    created_at: str

    @classmethod
    def of(cls, user: UserInfo) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role.value,
            mfa_enabled=user.mfa_enabled,
            wallet_address=user.wallet_address,
            disabled=user.disabled,
            created_at=ns_to_iso(user.created_at),
        )


class MeOut(UserOut):
    via: Literal["jwt", "api_key"]
    session_mfa: bool = Field(description="This session was opened with a TOTP code")
    effective_role: RoleName = Field(description="The role this credential acts with")

    @classmethod
    def of_principal(cls, user: UserInfo, principal: Principal) -> MeOut:
        base = UserOut.of(user).model_dump()
        return cls(
            **base,
            via="api_key" if principal.via == "api_key" else "jwt",
            session_mfa=principal.mfa,
            effective_role=principal.role.value,
        )


class UserCreateIn(_In):
    username: Username
    password: Annotated[str, Field(min_length=12, max_length=1024)]
    role: RoleName = "viewer"


class UserPatchIn(_In):
    role: RoleName | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _needs_a_change(self) -> UserPatchIn:
        if self.role is None and self.disabled is None:
            raise ValueError("give role and/or disabled")
        return self


class WalletIn(_In):
    address: Address


class ApiKeyCreateIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: RoleName | None = Field(None, description="Default: the caller's role")


class ApiKeyOut(_Out):
    key_id: str
    user_id: int
    name: str
    role: RoleName
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    @classmethod
    def of(cls, key: ApiKeyInfo) -> ApiKeyOut:
        return cls(**_key_fields(key))


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The API key, shown only in this answer; send it as X-API-Key")


def _key_fields(key: ApiKeyInfo) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "user_id": key.user_id,
        "name": key.name,
        "role": key.role.value,
        "created_at": ns_to_iso(key.created_at),
        "last_used_at": None if key.last_used_at is None else ns_to_iso(key.last_used_at),
        "revoked_at": None if key.revoked_at is None else ns_to_iso(key.revoked_at),
    }


def created_key_out(key: ApiKeyInfo, text: str) -> ApiKeyCreatedOut:
    return ApiKeyCreatedOut(**_key_fields(key), key=text)


class Problem(BaseModel):
    """RFC 9457 problem details as every error of this API is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code")
    instance: str
    detail: str | None = None


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated (missing, invalid or expired credentials)",
    403: "Authenticated but not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    422: "The request body or parameters are not valid",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers, all application/problem+json with the Problem schema."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
