"""Coinbase Onramp links: the documented parameters, checked addresses and networks, and tracking."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from grekko.adapters.ccxt.onramp import (
    ONRAMP_URL,
    InMemoryOnrampTracker,
    OnrampRequest,
    initiate_onramp,
    onramp_url,
)
from grekko.core.time import TestClock
from grekko.ports.onramp import OnrampError, OnrampStatus

ADDRESS = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"  # Coinbase's documentation example
SOLANA = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"
APP_ID = "5e3b7b0c-2d4f-4a67-9c2e-7f1d0e8a9b6c"


def query(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == ONRAMP_URL
    return {k: v[0] for k, v in parse_qs(parts.query, strict_parsing=True).items()}


def request(**changes: object) -> OnrampRequest:
    base: dict[str, object] = {
        "addresses": {ADDRESS: ["base", "ethereum"]},
        "app_id": APP_ID,
        "assets": ["ETH", "USDC"],
        "default_network": "base",
        "preset_fiat_amount": Decimal("50.00"),
        "fiat_currency": "usd",
        "partner_user_id": "user-42",
    }
    base.update(changes)
    return OnrampRequest(**base)  # type: ignore[arg-type]


def test_the_url_carries_coinbases_documented_parameters() -> None:
    url = onramp_url(request(redirect_url="https://grekko.example/onramp/done"))
    params = query(url)
    assert params == {
        "appId": APP_ID,
        "addresses": json.dumps({ADDRESS: ["base", "ethereum"]}, separators=(",", ":")),
        "assets": '["ETH","USDC"]',
        "defaultNetwork": "base",
        "presetFiatAmount": "50.00",
        "fiatCurrency": "USD",
        "partnerUserId": "user-42",
        "redirectUrl": "https://grekko.example/onramp/done",
    }
    assert json.loads(params["addresses"]) == {ADDRESS: ["base", "ethereum"]}
    assert "addresses=%7B%22" + ADDRESS in url  # JSON, percent-encoded, never a Python repr
    assert "+" not in url


def test_a_crypto_preset_and_a_session_token_replace_fiat_app_id_and_addresses() -> None:
    params = query(
        onramp_url(
            request(
                session_token="MWYwNmYwZmQtNDQwYy02OTFk",  # noqa: S106 - made up
                preset_fiat_amount=None,
                fiat_currency="",
                preset_crypto_amount=Decimal("0.25"),
                default_asset="ETH",
            )
        )
    )
    assert params["sessionToken"] == "MWYwNmYwZmQtNDQwYy02OTFk"
    assert params["presetCryptoAmount"] == "0.25"
    assert params["defaultAsset"] == "ETH"
    assert "appId" not in params
    assert "addresses" not in params
    assert "presetFiatAmount" not in params


def test_evm_addresses_are_written_checksummed_and_a_broken_checksum_is_refused() -> None:
    params = query(onramp_url(request(addresses={ADDRESS.lower(): ["base"]})))
    assert json.loads(params["addresses"]) == {ADDRESS: ["base"]}
    broken = ADDRESS[:-1] + ADDRESS[-1].lower()
    with pytest.raises(OnrampError, match="EIP-55 checksum"):
        onramp_url(request(addresses={broken: ["base"]}))
    for bad in ("0x1", "71C7656EC7ab88b098defB751B7401B5f6d8976F", ADDRESS + "00"):
        with pytest.raises(OnrampError, match="not an EVM address"):
            onramp_url(request(addresses={bad: ["base"]}))


@given(st.binary(min_size=20, max_size=20), st.integers(min_value=0, max_value=39))
def test_any_address_in_one_case_is_accepted_and_a_flipped_letter_is_caught(
    raw: bytes, position: int
) -> None:
    checksummed = to_checksum_address(raw)
    written = json.loads(
        query(onramp_url(request(addresses={checksummed.lower(): ["base"]})))["addresses"]
    )
    assert list(written) == [checksummed]
    digits = list(checksummed[2:])
    if digits[position].isalpha():
        digits[position] = digits[position].swapcase()
        flipped = "0x" + "".join(digits)
        if flipped[2:] not in (flipped[2:].lower(), flipped[2:].upper()):
            with pytest.raises(OnrampError, match="checksum"):
                onramp_url(request(addresses={flipped: ["base"]}))


def test_networks_must_be_known_fit_the_address_and_include_the_default() -> None:
    with pytest.raises(OnrampError, match=r"unknown network \['base-sepolia'\]"):
        onramp_url(request(addresses={ADDRESS: ["base-sepolia"]}, default_network=""))
    with pytest.raises(OnrampError, match="defaultNetwork solana is none of"):
        onramp_url(request(default_network="solana"))
    with pytest.raises(OnrampError, match="cannot be on"):
        onramp_url(request(addresses={ADDRESS: ["base", "solana"]}))
    with pytest.raises(OnrampError, match="not a solana address"):
        onramp_url(request(addresses={ADDRESS: ["solana"]}, default_network=""))
    both = query(onramp_url(request(addresses={ADDRESS: ["base"], SOLANA: ["solana"]})))
    assert json.loads(both["addresses"]) == {ADDRESS: ["base"], SOLANA: ["solana"]}
    with pytest.raises(OnrampError, match="list of networks"):
        onramp_url(request(addresses={ADDRESS: "base"}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"preset_crypto_amount": Decimal(1)}, "not both"),
        ({"preset_fiat_amount": Decimal(0)}, "positive"),
        ({"preset_fiat_amount": Decimal("-5")}, "positive"),
        ({"fiat_currency": "JPY"}, "needs fiatCurrency"),
        ({"fiat_currency": ""}, "needs fiatCurrency"),
        ({"app_id": ""}, "appId"),
        ({"app_id": "x&y=1"}, "appId"),
        ({"addresses": {}}, "at least one"),
        ({"assets": ["eth"]}, "tickers"),
        ({"default_asset": "BTC"}, "not among the assets"),
        ({"partner_user_id": "u" * 50}, "under 50"),
        ({"redirect_url": "http://evil.example"}, "https"),
    ],
)
def test_bad_parameters_are_refused_saying_which(changes: dict[str, object], message: str) -> None:
    with pytest.raises(OnrampError, match=message):
        onramp_url(request(**changes))


def test_initiations_are_recorded_and_followed_to_a_final_status() -> None:
    clock = TestClock(1_700_000_000 * 10**9)
    tracker = InMemoryOnrampTracker()
    first = initiate_onramp(
        request(partner_user_id=""), user_id="alice", tracker=tracker, clock=clock
    )
    clock.advance(10**9)
    second = initiate_onramp(
        request(preset_fiat_amount=None, preset_crypto_amount=Decimal("0.1"), default_asset="ETH"),
        user_id="alice",
        tracker=tracker,
        clock=clock,
    )

    assert tracker.get(first.id) == first
    assert (first.user_id, first.provider, first.status) == (
        "alice",
        "coinbase",
        OnrampStatus.INITIATED,
    )
    assert (first.amount, first.amount_currency) == (Decimal("50.00"), "USD")
    assert (first.address, first.network, first.asset) == (ADDRESS, "base", "ETH,USDC")
    assert first.created_at_ns == 1_700_000_000 * 10**9
    assert query(first.url)["partnerUserId"] == first.id  # Coinbase's status API finds it by this
    assert (second.amount, second.amount_currency, second.asset) == (Decimal("0.1"), "ETH", "ETH")
    assert [i.id for i in tracker.for_user("alice")] == [first.id, second.id]
    assert tracker.for_user("bob") == []

    pending = tracker.update_status(first.id, OnrampStatus.PENDING, clock.timestamp_ns())
    done = tracker.update_status(first.id, OnrampStatus.COMPLETED, clock.timestamp_ns(), "tx-9")
    assert (pending.status, done.status, done.provider_reference) == (
        OnrampStatus.PENDING,
        OnrampStatus.COMPLETED,
        "tx-9",
    )
    with pytest.raises(OnrampError, match="already completed"):
        tracker.update_status(first.id, OnrampStatus.FAILED, clock.timestamp_ns())
    with pytest.raises(OnrampError, match="no on-ramp initiation"):
        tracker.update_status("nope", OnrampStatus.FAILED, clock.timestamp_ns())
    with pytest.raises(OnrampError, match="already recorded"):
        tracker.record(second)


def test_a_refused_request_records_nothing() -> None:
    tracker = InMemoryOnrampTracker()
    with pytest.raises(OnrampError):
        initiate_onramp(
            request(default_network="polygon"), user_id="alice", tracker=tracker, clock=TestClock(0)
        )
    assert tracker.for_user("alice") == []
