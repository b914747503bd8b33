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
        notional = qty * px
        if buy:
            self.adjust(quote, -(notional + fee))
            self.adjust(base, qty)
        else:
            self.adjust(base, -qty)
            self.adjust(quote, notional - fee)
