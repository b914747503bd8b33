"""Cash accounts: balances per currency with funds locked by open orders."""

from __future__ import annotations

from decimal import Decimal

from grekko.core.money import ZERO


class InsufficientFunds(ValueError):
    pass


class Account:
    __slots__ = ("account_id", "locked", "margin", "totals")

    def __init__(self, account_id: str, *, margin: bool = False) -> None:
        self.account_id = account_id
        self.margin = margin  # without margin no balance may go below zero
        self.totals: dict[str, Decimal] = {}
        self.locked: dict[str, Decimal] = {}

    def total(self, currency: str) -> Decimal:
        return self.totals.get(currency, ZERO)

    def free(self, currency: str) -> Decimal:
        return self.totals.get(currency, ZERO) - self.locked.get(currency, ZERO)

    def adjust(self, currency: str, delta: Decimal) -> None:
        new_total = self.totals.get(currency, ZERO) + delta
        if new_total < 0 and not self.margin:
            raise InsufficientFunds(
                f"{self.account_id}: {currency} would go to {new_total} on a cash account"
            )
        self.totals[currency] = new_total

    def set_locked(self, currency: str, amount: Decimal) -> None:
        if amount < 0:
            raise ValueError("locked amount cannot be negative")
        self.locked[currency] = amount

    def apply_spot_fill(
        self, base: str, quote: str, buy: bool, qty: Decimal, px: Decimal, fee: Decimal
    ) -> None:
        """Move base and quote for one fill; the fee is paid in quote."""
        totals = self.totals
        notional = qty * px
        paid, paid_with, got, got_in = (
            (notional + fee, quote, qty, base) if buy else (qty, base, notional - fee, quote)
        )
        left = totals.get(paid_with, ZERO) - paid
        if left < 0 and not self.margin:
            raise InsufficientFunds(
                f"{self.account_id}: {paid_with} would go to {left} on a cash account"
            )
        totals[paid_with] = left
        totals[got_in] = totals.get(got_in, ZERO) + got
