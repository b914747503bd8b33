"""Who is calling: roles ordered viewer < trader < admin, and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        """An admin may do what a trader may, a trader what a viewer may."""
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: Role
    via: str  # "jwt" | "api_key"
    mfa: bool = False  # the session was opened with a verified TOTP code


class Authenticator(Protocol):
    """What the HTTP, WebSocket and GraphQL layers need from the auth service."""

    def authenticate(self, credential: str) -> Principal:
        """A bearer JWT access token or an API key -> the principal; raises ApiProblem(401)."""
        ...
