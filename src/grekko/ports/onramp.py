"""OnrampTracker port: fiat on-ramp purchases the platform started, kept for the user to follow.

An on-ramp sends the user to the provider's hosted page (Coinbase Onramp), so the platform only
knows that it handed out a link; the provider later says what became of it (its transaction
status API, a redirect back). The record lives here, outside any adapter, so an in-memory store
and an SQL one implement the same Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from grekko.core.errors import GrekkoError


class OnrampStatus(StrEnum):
    INITIATED = "initiated"  # a link was handed out; nothing heard from the provider yet
    PENDING = "pending"  # the provider reports a purchase in progress
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


TERMINAL_ONRAMP_STATUSES = frozenset(
    {OnrampStatus.COMPLETED, OnrampStatus.FAILED, OnrampStatus.EXPIRED}
)


class OnrampError(GrekkoError):
    """An on-ramp request that cannot be built or tracked as given."""


@dataclass(frozen=True)
class OnrampInitiation:
    """One link handed to a user; amount is in `amount_currency` (fiat or the asset itself)."""

    id: str
    user_id: str
    provider: str
    asset: str
    network: str
    address: str
    amount: Decimal | None
    amount_currency: str | None
    url: str
    created_at_ns: int
    status: OnrampStatus = OnrampStatus.INITIATED
    updated_at_ns: int = 0
    provider_reference: str = ""  # the provider's transaction id once it reports one


class OnrampTracker(Protocol):
    def record(self, initiation: OnrampInitiation) -> None:
        """Store a new initiation; OnrampError if its id is already known."""
        ...

    def get(self, initiation_id: str) -> OnrampInitiation | None: ...

    def update_status(
        self, initiation_id: str, status: OnrampStatus, ts_ns: int, provider_reference: str = ""
    ) -> OnrampInitiation:
        """Move an initiation on; OnrampError for an unknown id or a finished one."""
        ...

    def for_user(self, user_id: str) -> list[OnrampInitiation]:
        """The user's initiations, oldest first."""
        ...
