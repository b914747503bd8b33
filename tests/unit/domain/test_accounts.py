"""Accounts: a cash account never goes below zero, a margin account may."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grekko.domain.accounts import Account, InsufficientFunds

D = Decimal


def test_cash_account_refuses_to_go_negative_and_keeps_its_balance() -> None:
    account = Account("main")
    account.adjust("USDT", D(100))
    with pytest.raises(InsufficientFunds, match=r"USDT would go to -0\.01"):
        account.adjust("USDT", D("-100.01"))
    assert account.total("USDT") == D(100)
    account.adjust("USDT", D(-100))
    assert account.total("USDT") == 0


def test_margin_account_may_go_negative() -> None:
    account = Account("main", margin=True)
    account.adjust("USDT", D(-250))
    assert account.total("USDT") == D(-250)


def test_unknown_currency_is_zero() -> None:
    account = Account("main")
    assert account.total("ETH") == 0
    assert account.free("ETH") == 0


def test_free_is_total_minus_locked() -> None:
    account = Account("main")
    account.adjust("USDT", D(1000))
    account.set_locked("USDT", D(300))
    assert account.free("USDT") == D(700)
    assert account.total("USDT") == D(1000)
    with pytest.raises(ValueError, match="negative"):
        account.set_locked("USDT", D(-1))


def test_spot_buy_and_sell_move_base_and_quote_with_the_fee_in_quote() -> None:
    account = Account("main")
    account.adjust("USDT", D(1000))
    account.apply_spot_fill("BTC", "USDT", True, D("0.5"), D(1000), D("0.5"))
    assert account.total("USDT") == D("499.5")  # 1000 - 500 - 0.5
    assert account.total("BTC") == D("0.5")
    account.apply_spot_fill("BTC", "USDT", False, D("0.5"), D(1100), D("0.55"))
    assert account.total("BTC") == 0
    assert account.total("USDT") == D("1048.95")  # 499.5 + 550 - 0.55


def test_cash_account_refuses_a_fill_it_cannot_pay_and_changes_nothing() -> None:
    account = Account("main")
    account.adjust("USDT", D(100))
    with pytest.raises(InsufficientFunds):
        account.apply_spot_fill("BTC", "USDT", True, D(1), D(100), D("0.1"))
    with pytest.raises(InsufficientFunds):
        account.apply_spot_fill("BTC", "USDT", False, D(1), D(100), D("0.1"))
    assert account.totals == {"USDT": D(100)}


def test_margin_account_can_sell_what_it_does_not_hold() -> None:
    account = Account("main", margin=True)
    account.apply_spot_fill("BTC", "USDT", False, D(2), D(100), D("0.2"))
    assert account.total("BTC") == D(-2)
    assert account.total("USDT") == D("199.8")
