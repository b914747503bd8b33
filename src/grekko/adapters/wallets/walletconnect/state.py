"""The states a WalletConnect session goes through, and how a wallet's answer and an event
handler's failure are turned into what the platform expects (WalletError, a log line)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from grekko.adapters.wallets.walletconnect.messages import Error, InvalidPayload, Result
from grekko.ports.wallet import WalletError, WalletHandler

log = logging.getLogger("grekko.wallets.walletconnect")


class SessionState(StrEnum):
    IDLE = "idle"
    PROPOSED = "proposed"  # the URI is out, the wallet has not answered
    ESTABLISHED = "established"
    REJECTED = "rejected"
    EXPIRED = "expired"  # past the expiry the wallet settled: keys dropped, nothing is asked
    DISCONNECTED = "disconnected"


ACTIVE = (SessionState.PROPOSED, SessionState.ESTABLISHED)


def wallet_answer(read: Callable[[Result | Error], str], answer: Result | Error) -> str:
    """The answer's value as `read` types it; an answer of the wrong shape is a WalletError."""
    try:
        return read(answer)
    except InvalidPayload as exc:
        raise WalletError(f"the wallet's answer is not valid: {exc}") from None


def safely(handler: WalletHandler, event: str, payload: object) -> None:
    try:
        handler(payload)
    except Exception:
        log.exception("a %s handler of a WalletConnect session failed", event)
