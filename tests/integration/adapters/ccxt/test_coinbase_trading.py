"""The authenticated Coinbase client through real ccxt against a local server replaying Coinbase's
formats and checking CDP authentication as Coinbase documents it.

Expected values come from the fixture files, read here independently of ccxt, and are compared
as Decimals and as the exchange's own strings, so a float on the way would show.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import jwt
import pytest
from coinbase_trading_server import CoinbaseTradingServer
from coinbase_trading_support import NAMES, CdpKey, connect, new_key, new_vault
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from grekko.adapters.ccxt.coinbase_auth import load_credentials
from grekko.adapters.ccxt.coinbase_records import (
    CoinbaseAuthError,
    CoinbaseError,
    OrderRefused,
)
from grekko.adapters.ccxt.trading import CoinbaseTrading, OrderRequest
from grekko.adapters.vault import LocalVault
from grekko.core.errors import ConfigError
from recorded_exchange import load_fixture

ORDERS = "/api/v3/brokerage/orders"


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_products_book_and_candles_are_exact_decimals(client: CoinbaseTrading) -> None:
    recorded = {p["product_id"]: p for p in load_fixture("http_products.json")["products"]}
    btc = client.product("BTC/USD")
    raw = recorded["BTC-USD"]
    assert btc.product_id == "BTC-USD"
    assert (btc.base, btc.quote) == ("BTC", "USD")
    assert btc.price_increment == Decimal(raw["price_increment"])
    assert btc.size_increment == Decimal(raw["base_increment"])
    assert btc.min_notional == Decimal(raw["quote_min_size"])
    assert {p.product_id for p in client.products()} <= set(recorded)

    pricebook = load_fixture("http_product_book.json")["pricebook"]
    book = client.order_book("BTC/USD", depth=3)
    assert book.bids == [
        (Decimal(lv["price"]), Decimal(lv["size"])) for lv in pricebook["bids"][:3]
    ]
    assert book.asks == [
        (Decimal(lv["price"]), Decimal(lv["size"])) for lv in pricebook["asks"][:3]
    ]
    assert [str(p) for p, _ in book.bids] == [lv["price"] for lv in pricebook["bids"][:3]]
    assert book.ts_ms == iso_ms(pricebook["time"])

    rows = sorted(load_fixture("http_candles.json")["candles"], key=lambda r: int(r["start"]))
    candles = client.candles("BTC/USD", "1h", since_ms=int(rows[0]["start"]) * 1000)
    assert [
        (c.ts_ms, str(c.open), str(c.high), str(c.low), str(c.close), str(c.volume))
        for c in candles
    ] == [
        (int(r["start"]) * 1000, r["open"], r["high"], r["low"], r["close"], r["volume"])
        for r in rows
    ]


def test_accounts_and_balances_keep_every_digit(client: CoinbaseTrading) -> None:
    recorded = {a["currency"]: a for a in load_fixture("http_accounts.json")["accounts"]}
    accounts = {a.currency: a for a in client.accounts()}
    assert set(accounts) == set(recorded)
    for currency, account in accounts.items():
        raw = recorded[currency]
        assert account.uuid == raw["uuid"]
        assert str(account.available) == raw["available_balance"]["value"]
        assert str(account.hold) == raw["hold"]["value"]
    balances = client.balances()
    assert balances["BTC"].free == Decimal("1.23456789")
    assert balances["BTC"].used == Decimal("0.00500000")
    assert balances["BTC"].total == Decimal("1.23956789")
    assert balances["USD"].total == Decimal("10450.50")


def test_open_orders_one_order_and_fills_parse_from_the_recorded_payloads(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    open_orders = {o.order_id: o for o in client.open_orders()}
    assert set(open_orders) == {"0000-000000-000001", "0000-000000-000000"}  # FILLED one left out
    limit = open_orders["0000-000000-000001"]
    assert (limit.client_order_id, limit.symbol, limit.side) == (
        "11111-000000-000001",
        "BTC/USD",
        "buy",
    )
    assert (limit.status, limit.exchange_status) == ("open", "OPEN")
    assert limit.amount == Decimal("0.01")
    assert str(limit.price) == "45000.00"
    assert server.seen("GET", f"{ORDERS}/historical/batch")[0].query["order_status"] == ["OPEN"]

    single = client.order("0000-000000-000000")
    assert single.client_order_id == "11111-000000-000000"
    assert (single.amount, single.filled, single.fee) == (
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("5.00"),
    )

    [fill] = client.fills(order_ids=["0000-000000-000000"])
    recorded = load_fixture("http_fills.json")["fills"][0]
    assert (fill.trade_id, fill.order_id, fill.symbol, fill.side) == (
        recorded["trade_id"],
        recorded["order_id"],
        "BTC/USD",
        "buy",
    )
    assert (str(fill.amount), str(fill.price), str(fill.fee)) == ("0.005", "45123.45", "1.14")
    assert (fill.fee_currency, fill.liquidity) == ("USD", "maker")
    assert server.seen("GET", f"{ORDERS}/historical/fills")[0].query["order_ids"] == [
        recorded["order_id"]
    ]
    assert [f.trade_id for f in client.fills()] == [
        "1111-11111-111112",
        "1111-11111-111111",
    ]  # oldest first


def test_an_order_carries_the_documented_cdp_jwt_and_exact_decimal_body(
    client: CoinbaseTrading, server: CoinbaseTradingServer, cdp_key: CdpKey
) -> None:
    placed = client.place_order(
        OrderRequest(
            "BTC/USD", "buy", "limit", Decimal("0.00500000"), "grekko-7", Decimal("45200.10")
        )
    )
    client.place_order(OrderRequest("BTC/USD", "sell", "market", Decimal("0.005"), "grekko-8"))

    assert placed.order_id == "0000-000000-000000"
    assert placed.client_order_id == "grekko-7"
    assert server.rejections == []
    limit, market = server.seen("POST", ORDERS)
    assert limit.body == {
        "client_order_id": "grekko-7",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {
            "limit_limit_gtc": {
                "base_size": "0.00500000",
                "limit_price": "45200.10",
                "post_only": False,
            }
        },
    }
    assert market.body["order_configuration"] == {"market_market_ioc": {"base_size": "0.005"}}
    assert limit.token is not None
    # Verified again here, independently of the server: signature, header and claims.
    claims = jwt.decode(
        limit.token, cdp_key.private_key.public_key(), algorithms=["ES256"], issuer="cdp"
    )
    header = jwt.get_unverified_header(limit.token)
    assert header["alg"] == "ES256"
    assert header["kid"] == cdp_key.name
    assert len(bytes.fromhex(header["nonce"])) == 16
    assert claims["sub"] == cdp_key.name
    assert claims["uri"] == "POST api.coinbase.com/api/v3/brokerage/orders"
    assert claims["exp"] - claims["nbf"] == 120
    assert "aud" not in claims
    assert header["nonce"] != jwt.get_unverified_header(market.token or "")["nonce"]


def test_reads_are_signed_for_their_path_without_the_query(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    client.open_orders()
    client.fills(order_ids=["0000-000000-000000"])
    private = [r for r in server.requests if r.claims is not None]
    uris = {r.claims["uri"] for r in private if r.claims is not None}
    assert "GET api.coinbase.com/api/v3/brokerage/orders/historical/batch" in uris
    assert "GET api.coinbase.com/api/v3/brokerage/orders/historical/fills" in uris
    assert "GET api.coinbase.com/api/v3/brokerage/transaction_summary" in uris  # ccxt's fee tier
    assert len({r.jwt_header["nonce"] for r in private if r.jwt_header}) == len(private)
    public = [r for r in server.requests if "/market/" in r.path]
    assert public
    assert all(r.token is None for r in public)


def test_a_token_signed_by_another_key_is_refused(
    tmp_path: Path, server: CoinbaseTradingServer, cdp_key: CdpKey
) -> None:
    impostor = new_vault(tmp_path, new_key(cdp_key.name), db="impostor.db")
    with connect(impostor, server) as client, pytest.raises(CoinbaseAuthError) as refused:
        client.accounts()
    assert server.rejections
    assert all(r.startswith("InvalidSignatureError") for r in server.rejections)
    assert "AuthenticationError" in str(refused.value)
    signed = [r for r in server.requests if r.token]
    assert signed
    assert all(r.claims is None for r in signed)  # none got past verification, none was answered


def test_an_order_coinbase_refuses_raises_its_error_and_message(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    server.answer_next_orders("http_create_order_insufficient_fund.json")
    with pytest.raises(OrderRefused) as refused:
        client.place_order(OrderRequest("BTC/USD", "buy", "market", Decimal("500"), "grekko-9"))
    assert refused.value.code == "INSUFFICIENT_FUND"
    assert refused.value.message == "Insufficient balance in source account"
    assert str(refused.value) == "INSUFFICIENT_FUND: Insufficient balance in source account"


def test_cancel_reports_each_order_as_coinbase_answered(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    results = client.cancel(["0000-000000-000000", "0000-000000-000002"])
    assert results["0000-000000-000000"].success
    assert not results["0000-000000-000002"].success  # FILLED already
    assert results["0000-000000-000002"].failure_reason == "UNKNOWN_CANCEL_ORDER"
    [request] = server.seen("POST", f"{ORDERS}/batch_cancel")
    assert request.body == {"order_ids": ["0000-000000-000000", "0000-000000-000002"]}


def test_credentials_never_reach_logs_reprs_or_errors(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    client: CoinbaseTrading,
    server: CoinbaseTradingServer,
    cdp_key: CdpKey,
    vault: LocalVault,
) -> None:
    caplog.set_level(logging.DEBUG)
    client.balances()
    client.place_order(
        OrderRequest("BTC/USD", "buy", "limit", Decimal("0.01"), "grekko-10", Decimal("45000"))
    )
    errors: list[Exception] = []
    with pytest.raises(CoinbaseError) as missing:
        client.order("no-such-order")
    errors.append(missing.value)
    impostor = new_vault(tmp_path, new_key(cdp_key.name), db="impostor.db")
    with connect(impostor, server) as other, pytest.raises(CoinbaseAuthError) as refused:
        other.accounts()
    errors.append(refused.value)

    tokens = [r.token for r in server.requests if r.token]
    assert len(tokens) >= 4
    pem_lines = [line for line in cdp_key.pem.splitlines() if "-----" not in line]
    forbidden = [
        cdp_key.name,
        *pem_lines,
        *tokens,
        *(t.split(".")[2] for t in tokens),
    ]
    shown = [
        caplog.text,
        repr(client),
        str(client),
        repr(load_credentials(vault)),
        *(str(e) for e in errors),
        *(repr(e) for e in errors),
    ]
    assert "GET" in caplog.text  # ccxt did log its requests
    # the bearer token was blanked: by our scrubber, or first by the API's log redaction when a
    # platform in the same test process installed it on every log record
    assert "<redacted>" in caplog.text or "[REDACTED]" in caplog.text
    leaks = [(f[:12], i) for f in forbidden for i, text in enumerate(shown) if f and f in text]
    assert leaks == []
    assert all(e.__cause__ is None and e.__context__ is None for e in errors)


def test_a_missing_or_unusable_key_is_a_config_error_naming_the_secret_only(tmp_path: Path) -> None:
    key = new_key()
    vault = new_vault(tmp_path, key)
    vault.delete(NAMES.api_secret)
    with pytest.raises(ConfigError, match="exchange/coinbase/api_secret") as missing:
        load_credentials(vault)
    assert key.name not in str(missing.value)

    ed_pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    vault.put(NAMES.api_secret, ed_pem)
    with pytest.raises(ConfigError, match="not an EC P-256 private key") as wrong:
        load_credentials(vault)
    assert ed_pem.splitlines()[1] not in str(wrong.value)

    vault.put(NAMES.api_secret, key.pem.replace("\n", "\\n"))  # pasted from the JSON key file
    assert load_credentials(vault).key_name == key.name
