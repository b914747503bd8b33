"""Closed vocabularies of the domain."""

from __future__ import annotations

from enum import StrEnum


class _FastStrEnum(StrEnum):
    """Members hash like their string value, in C; Enum's own __hash__ is Python code on hot paths."""

    __hash__ = str.__hash__


class OrderSide(_FastStrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(_FastStrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"


class TimeInForce(_FastStrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(_FastStrEnum):
    INITIALIZED = "initialized"
    DENIED = "denied"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRIGGERED = "triggered"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"


TERMINAL_STATUSES = frozenset(
    {
        OrderStatus.DENIED,
        OrderStatus.REJECTED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }
)


class LiquiditySide(_FastStrEnum):
    MAKER = "maker"
    TAKER = "taker"


class AssetClass(_FastStrEnum):
    CRYPTO_SPOT = "crypto_spot"
    CRYPTO_PERP = "crypto_perp"
    DEX = "dex"
    NFT = "nft"
    OPTION = "option"


class TradingState(_FastStrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"  # only orders that shrink a position pass
    HALTED = "halted"
