"""Coinbase Onramp: the link that lets a user buy crypto with fiat, sent straight to their wallet.

The URL is Coinbase's hosted page, https://pay.coinbase.com/buy/select-asset, with the query
parameters Coinbase documents: appId (the CDP project id), addresses (JSON: address -> networks
it may receive on), assets (JSON list), presetFiatAmount + fiatCurrency or presetCryptoAmount,
defaultNetwork, defaultAsset, partnerUserId (under 50 characters; it ties Coinbase's transaction
status to our user), redirectUrl. Everything is checked before a link is made: EVM addresses
must be 20-byte hex and, when mixed-case, pass their EIP-55 checksum (they are written
checksummed); networks must be ones Coinbase names; the default network must be one of those
given; amounts must be positive and only one preset may be set.

Coinbase now requires secure initialization (a `sessionToken` made by its Session Token API
with a CDP key, binding the addresses and assets server-side); with a session token, appId and
addresses are left out of the URL as Coinbase asks. Making the token needs a call to Coinbase
that this module does not make: pass it in.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from urllib.parse import quote, urlencode

from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address

from grekko.core.time import Clock
from grekko.ports.onramp import (
    TERMINAL_ONRAMP_STATUSES,
    OnrampError,
    OnrampInitiation,
    OnrampStatus,
    OnrampTracker,
)

__all__ = [
    "NETWORKS",
    "ONRAMP_URL",
    "InMemoryOnrampTracker",
    "OnrampRequest",
    "initiate_onramp",
    "onramp_url",
]

ONRAMP_URL = "https://pay.coinbase.com/buy/select-asset"
# Coinbase's network names -> how addresses on them look.
NETWORKS: Mapping[str, str] = {
    "ethereum": "evm",
    "base": "evm",
    "optimism": "evm",
    "arbitrum": "evm",
    "polygon": "evm",
    "avalanche-c-chain": "evm",
    "solana": "solana",
    "bitcoin": "bitcoin",
}
PRESET_FIAT_CURRENCIES = frozenset({"USD", "CAD", "GBP", "EUR"})  # Coinbase presets no others
_SOLANA = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
_BITCOIN = re.compile(r"(bc1[02-9ac-hj-np-z]{11,87}|[13][1-9A-HJ-NP-Za-km-z]{25,34})")
_ASSET = re.compile(r"[A-Z0-9]{1,12}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_APP_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_PARTNER_USER_ID = 49


@dataclass(frozen=True)
class OnrampRequest:
    """What the user asked for; addresses maps each destination address to its networks."""

    addresses: Mapping[str, Sequence[str]]
    app_id: str = ""
    session_token: str = ""
    assets: Sequence[str] = ()
    default_asset: str = ""
    default_network: str = ""
    preset_fiat_amount: Decimal | None = None
    fiat_currency: str = ""
    preset_crypto_amount: Decimal | None = None
    partner_user_id: str = ""
    redirect_url: str = ""
    networks: Mapping[str, str] = field(default_factory=lambda: dict(NETWORKS))


def onramp_url(request: OnrampRequest, base_url: str = ONRAMP_URL) -> str:
    """The checked link; OnrampError says which parameter is wrong and why."""
    addresses = _checked_addresses(request.addresses, request.networks)
    params: dict[str, str] = {}
    if request.session_token:
        params["sessionToken"] = request.session_token
    else:
        if not _APP_ID.fullmatch(request.app_id):
            raise OnrampError("appId must be the CDP project id (letters, digits, dashes)")
        params["appId"] = request.app_id
        params["addresses"] = json.dumps(addresses, separators=(",", ":"))
    params.update(_asset_params(request, addresses))
    params.update(_amount_params(request))
    if request.partner_user_id:
        if len(request.partner_user_id) > MAX_PARTNER_USER_ID:
            raise OnrampError(f"partnerUserId must be under {MAX_PARTNER_USER_ID + 1} characters")
        params["partnerUserId"] = request.partner_user_id
    if request.redirect_url:
        if not request.redirect_url.startswith(("https://", "http://localhost", "http://127.")):
            raise OnrampError("redirectUrl must be https (or a local http address)")
        params["redirectUrl"] = request.redirect_url
    return f"{base_url}?{urlencode(params, quote_via=quote)}"


def _checked_addresses(
    addresses: Mapping[str, Sequence[str]], networks: Mapping[str, str]
) -> dict[str, list[str]]:
    if not addresses:
        raise OnrampError("addresses must name at least one destination address")
    checked: dict[str, list[str]] = {}
    for address, chains in addresses.items():
        if isinstance(chains, str) or not chains:
            raise OnrampError(f"address {address} needs a list of networks")
        unknown = sorted(set(chains) - set(networks))
        if unknown:
            raise OnrampError(f"unknown network {unknown}; known networks are {sorted(networks)}")
        kinds = {networks[c] for c in chains}
        if len(kinds) > 1:
            raise OnrampError(f"address {address} cannot be on {sorted(chains)} at once")
        written = _checked_address(address, kinds.pop())
        checked.setdefault(written, [])
        checked[written] += [c for c in chains if c not in checked[written]]
    return checked


def _checked_address(address: str, kind: str) -> str:
    if kind == "evm":
        if not (address.startswith("0x") and is_hex_address(address)):
            raise OnrampError(f"{address!r} is not an EVM address (0x and 40 hex digits)")
        lower_or_upper = address[2:] in (address[2:].lower(), address[2:].upper())
        if not lower_or_upper and not is_checksum_address(address):
            raise OnrampError(f"{address} fails its EIP-55 checksum: a mistyped address?")
        return str(to_checksum_address(address))
    pattern = _SOLANA if kind == "solana" else _BITCOIN
    if not pattern.fullmatch(address):
        raise OnrampError(f"{address!r} is not a {kind} address")
    return address


def _asset_params(request: OnrampRequest, addresses: dict[str, list[str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    bad = [a for a in request.assets if not _ASSET.fullmatch(a)]
    if bad:
        raise OnrampError(f"assets must be tickers (ETH, USDC) or Coinbase asset ids, not {bad}")
    if request.assets:
        params["assets"] = json.dumps(list(request.assets), separators=(",", ":"))
    if request.default_asset:
        if request.assets and request.default_asset not in request.assets:
            raise OnrampError(f"defaultAsset {request.default_asset} is not among the assets")
        params["defaultAsset"] = request.default_asset
    if request.default_network:
        offered = {c for chains in addresses.values() for c in chains}
        if request.default_network not in offered:
            raise OnrampError(
                f"defaultNetwork {request.default_network} is none of the addresses' networks "
                f"{sorted(offered)}"
            )
        params["defaultNetwork"] = request.default_network
    return params


def _amount_params(request: OnrampRequest) -> dict[str, str]:
    fiat, crypto = request.preset_fiat_amount, request.preset_crypto_amount
    if fiat is not None and crypto is not None:
        raise OnrampError("set presetFiatAmount or presetCryptoAmount, not both")
    for name, amount in (("presetFiatAmount", fiat), ("presetCryptoAmount", crypto)):
        if amount is not None and (not amount.is_finite() or amount <= 0):
            raise OnrampError(f"{name} must be a positive amount, got {amount}")
    params: dict[str, str] = {}
    if fiat is not None:
        currency = request.fiat_currency.upper()
        if currency not in PRESET_FIAT_CURRENCIES:
            raise OnrampError(
                f"presetFiatAmount needs fiatCurrency, one of {sorted(PRESET_FIAT_CURRENCIES)}"
            )
        params["presetFiatAmount"] = format(fiat, "f")
        params["fiatCurrency"] = currency
    elif request.fiat_currency:
        params["fiatCurrency"] = request.fiat_currency.upper()
    if crypto is not None:
        params["presetCryptoAmount"] = format(crypto, "f")
    return params


def initiate_onramp(
    request: OnrampRequest,
    *,
    user_id: str,
    tracker: OnrampTracker,
    clock: Clock,
    base_url: str = ONRAMP_URL,
) -> OnrampInitiation:
    """Build the link and record it; the initiation's id doubles as partnerUserId if none is set."""
    initiation_id = uuid.uuid4().hex
    if not request.partner_user_id:
        request = replace(request, partner_user_id=initiation_id)
    url = onramp_url(request, base_url)
    address, networks = next(iter(_checked_addresses(request.addresses, request.networks).items()))
    amount = request.preset_crypto_amount or request.preset_fiat_amount
    currency = None
    if request.preset_crypto_amount is not None:
        currency = request.default_asset or (request.assets[0] if request.assets else None)
    elif request.preset_fiat_amount is not None:
        currency = request.fiat_currency.upper()
    initiation = OnrampInitiation(
        id=initiation_id,
        user_id=user_id,
        provider="coinbase",
        asset=request.default_asset or ",".join(request.assets),
        network=request.default_network or networks[0],
        address=address,
        amount=amount,
        amount_currency=currency,
        url=url,
        created_at_ns=clock.timestamp_ns(),
        updated_at_ns=clock.timestamp_ns(),
    )
    tracker.record(initiation)
    return initiation


class InMemoryOnrampTracker:
    """The OnrampTracker port in a dict: for tests and single-process sessions."""

    def __init__(self) -> None:
        self._items: dict[str, OnrampInitiation] = {}
        self._lock = threading.Lock()

    def record(self, initiation: OnrampInitiation) -> None:
        with self._lock:
            if initiation.id in self._items:
                raise OnrampError(f"on-ramp initiation {initiation.id} is already recorded")
            self._items[initiation.id] = initiation

    def get(self, initiation_id: str) -> OnrampInitiation | None:
        with self._lock:
            return self._items.get(initiation_id)

    def update_status(
        self, initiation_id: str, status: OnrampStatus, ts_ns: int, provider_reference: str = ""
    ) -> OnrampInitiation:
        with self._lock:
            current = self._items.get(initiation_id)
            if current is None:
                raise OnrampError(f"no on-ramp initiation {initiation_id}")
            if current.status in TERMINAL_ONRAMP_STATUSES:
                raise OnrampError(f"on-ramp initiation {initiation_id} is already {current.status}")
            updated = replace(
                current,
                status=status,
                updated_at_ns=ts_ns,
                provider_reference=provider_reference or current.provider_reference,
            )
            self._items[initiation_id] = updated
            return updated

    def for_user(self, user_id: str) -> list[OnrampInitiation]:
        with self._lock:
            mine = [i for i in self._items.values() if i.user_id == user_id]
        return sorted(mine, key=lambda i: (i.created_at_ns, i.id))
