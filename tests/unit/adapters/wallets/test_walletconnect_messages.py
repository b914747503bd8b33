"""The Sign protocol's JSON-RPC payloads: the shapes Grekko sends and the checks on what a wallet
sends back. The wallet-side payloads are written as @walletconnect/sign-client writes them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from grekko.adapters.wallets.walletconnect import (
    PUBLISH_OPTIONS,
    Error,
    EthTransaction,
    InvalidPayload,
    Metadata,
    Participant,
    ProposalNamespace,
    Relay,
    Request,
    Result,
    SessionNamespace,
    SessionProposeResult,
    SessionSettleParams,
    decode,
    encode,
    eth_send_transaction,
    generate_key_pair,
    payload_id,
    personal_sign,
    session_delete,
    session_propose,
)
from grekko.adapters.wallets.walletconnect import messages as wc

DAPP_KEY = "d" * 64
WALLET_KEY = "e" * 64
ADDRESS = "0x" + "ab" * 20
METADATA = Metadata("Grekko", "Self-hosted trading", "https://grekko.local", ("https://i/x.png",))
EVM = ProposalNamespace(
    ("eth_sendTransaction", "personal_sign"), ("accountsChanged", "chainChanged"), ("eip155:1",)
)


def _settle_from_wallet(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "relay": {"protocol": "irn"},
        "namespaces": {
            "eip155": {
                "chains": ["eip155:1"],
                "accounts": [f"eip155:1:{ADDRESS}"],
                "methods": ["eth_sendTransaction", "personal_sign"],
                "events": ["accountsChanged", "chainChanged"],
            }
        },
        "controller": {
            "publicKey": WALLET_KEY,
            "metadata": {"name": "W", "description": "a wallet", "url": "https://w", "icons": []},
        },
        "expiry": 1_800_000_000,
        "sessionConfig": {"disableDeepLink": False},
        "someFutureField": 1,
    }
    params.update(changes)
    return {
        "id": 1_700_000_000_000_123,
        "jsonrpc": "2.0",
        "method": "wc_sessionSettle",
        "params": params,
    }


def test_payload_id_is_milliseconds_then_three_random_digits() -> None:
    before = time.time_ns() // 1_000_000
    ids = [payload_id() for _ in range(50)]
    after = time.time_ns() // 1_000_000
    assert all(before <= i // 1000 <= after for i in ids)
    assert len(set(ids)) > 1
    assert all(i < 2**53 for i in ids)  # an exact JavaScript number


def test_session_propose_has_the_sdk_shape() -> None:
    proposal = session_propose(Participant(DAPP_KEY, METADATA), {"eip155": EVM})
    assert json.loads(encode(proposal)) == {
        "id": proposal.id,
        "jsonrpc": "2.0",
        "method": "wc_sessionPropose",
        "params": {
            "relays": [{"protocol": "irn"}],
            "requiredNamespaces": {
                "eip155": {
                    "chains": ["eip155:1"],
                    "methods": ["eth_sendTransaction", "personal_sign"],
                    "events": ["accountsChanged", "chainChanged"],
                }
            },
            "optionalNamespaces": {},
            "proposer": {
                "publicKey": DAPP_KEY,
                "metadata": {
                    "name": "Grekko",
                    "description": "Self-hosted trading",
                    "url": "https://grekko.local",
                    "icons": ["https://i/x.png"],
                },
            },
        },
    }
    assert decode(encode(proposal)) == proposal
    assert PUBLISH_OPTIONS["wc_sessionPropose"][0] == (300, 1100, True)


def test_wallet_requests_are_typed() -> None:
    message = decode(json.dumps(_settle_from_wallet()))
    assert isinstance(message, Request)
    assert isinstance(message.params, SessionSettleParams)
    assert message.params.namespaces["eip155"] == SessionNamespace(
        (f"eip155:1:{ADDRESS}",),
        ("eth_sendTransaction", "personal_sign"),
        ("accountsChanged", "chainChanged"),
        ("eip155:1",),
    )
    assert message.params.controller.public_key == WALLET_KEY
    assert encode(wc.result(message.id)) == f'{{"id":{message.id},"jsonrpc":"2.0","result":true}}'
    delete = decode(
        '{"id":5,"jsonrpc":"2.0","method":"wc_sessionDelete","params":{"code":6000,"message":"User disconnected."}}'
    )
    assert isinstance(delete, Request)
    assert delete.params == wc.ReasonParams(6000, "User disconnected.")
    ping = decode('{"id":6,"jsonrpc":"2.0","method":"wc_sessionPing","params":{}}')
    assert isinstance(ping, Request)
    assert ping.params == wc.PingParams()


def test_propose_answer_gives_the_wallet_key() -> None:
    answer = decode(
        json.dumps(
            {
                "id": 9,
                "jsonrpc": "2.0",
                "result": {"relay": {"protocol": "irn"}, "responderPublicKey": WALLET_KEY},
            }
        )
    )
    assert isinstance(answer, Result)
    assert wc.result_as(answer, SessionProposeResult) == SessionProposeResult(
        Relay("irn"), WALLET_KEY
    )
    with pytest.raises(InvalidPayload, match=r"result of 9: .*responderPublicKey"):
        wc.result_as(
            Result(9, "2.0", {"relay": {"protocol": "irn"}, "responderPublicKey": "00"}),
            SessionProposeResult,
        )


def test_wallet_answers_to_requests_are_checked() -> None:
    tx_hash = "0x" + "12" * 32
    assert wc.transaction_hash(Result(1, "2.0", tx_hash)) == tx_hash
    signature = "0x" + "34" * 65
    assert wc.signature(Result(2, "2.0", signature)) == signature
    with pytest.raises(InvalidPayload, match="result of 3"):
        wc.transaction_hash(Result(3, "2.0", "0x1234"))
    rejected = decode('{"id":4,"jsonrpc":"2.0","error":{"code":5000,"message":"User rejected."}}')
    assert isinstance(rejected, Error)
    with pytest.raises(InvalidPayload, match=r"request 4 failed: User rejected. \(5000\)"):
        wc.signature(rejected)


def test_transaction_and_sign_requests() -> None:
    tx = EthTransaction(from_=ADDRESS, to="0x" + "cd" * 20, value="0xde0b6b3a7640000", data="0x")
    request = eth_send_transaction("eip155:31337", tx)
    body = json.loads(encode(request))
    assert body["method"] == "wc_sessionRequest"
    assert body["params"] == {
        "request": {
            "method": "eth_sendTransaction",
            "params": [
                {
                    "from": ADDRESS,
                    "to": "0x" + "cd" * 20,
                    "data": "0x",
                    "value": "0xde0b6b3a7640000",
                }
            ],
        },
        "chainId": "eip155:31337",
    }
    signing = json.loads(encode(personal_sign("eip155:1", "Sign in to Grekko", ADDRESS)))
    assert signing["params"]["request"]["params"] == [
        "0x" + b"Sign in to Grekko".hex(),
        ADDRESS,
    ]
    assert json.loads(encode(session_delete()))["params"] == {
        "code": 6000,
        "message": "User disconnected.",
    }


@pytest.mark.parametrize(
    ("tx", "chain", "reason"),
    [
        (EthTransaction(from_="0x12"), "eip155:1", r"at `\$.from`"),
        (EthTransaction(from_=ADDRESS, value="0x01"), "eip155:1", r"at `\$.value`"),
        (EthTransaction(from_=ADDRESS, data="0xabc"), "eip155:1", r"at `\$.data`"),
        (EthTransaction(from_=ADDRESS), "1", r"at `\$.chainId`"),
    ],
)
def test_outgoing_requests_are_checked_before_sending(
    tx: EthTransaction, chain: str, reason: str
) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        eth_send_transaction(chain, tx)


def test_request_refuses_params_of_another_method() -> None:
    with pytest.raises(TypeError, match="wc_sessionSettle does not take ReasonParams"):
        wc.request("wc_sessionSettle", wc.ReasonParams(1, "x"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not JSON"),
        ("[1]", "object, not list"),
        ('{"id":1,"jsonrpc":"1.0","result":true}', "jsonrpc must be '2.0'"),
        ('{"id":"1","jsonrpc":"2.0","result":true}', "id must be a positive integer"),
        ('{"id":true,"jsonrpc":"2.0","result":true}', "id must be a positive integer"),
        ('{"id":1,"jsonrpc":"2.0"}', "neither a method"),
        (
            '{"id":1,"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"x"}}',
            "neither a method",
        ),
        ('{"id":1,"jsonrpc":"2.0","error":{"code":"x"}}', "error of 1"),
        (
            '{"id":1,"jsonrpc":"2.0","method":"eth_call","params":[]}',
            "'eth_call' is not a Sign method",
        ),
        (
            '{"id":1,"jsonrpc":"2.0","method":"wc_sessionDelete","params":{"code":1}}',
            "missing required field `message`",
        ),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        decode(text)


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        (
            {"namespaces": {"eip155": {"accounts": [ADDRESS], "methods": [], "events": []}}},
            "accounts",
        ),
        ({"namespaces": {"EIP155": {"accounts": [], "methods": [], "events": []}}}, "namespaces"),
        ({"expiry": 0}, "expiry"),
        ({"expiry": "soon"}, "expiry"),
        ({"relay": {}}, "protocol"),
        ({"controller": {"publicKey": "E" * 64, "metadata": {}}}, "publicKey"),
    ],
)
def test_a_malformed_settlement_names_the_field(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidPayload, match=f"wc_sessionSettle params: .*{where}"):
        decode(json.dumps(_settle_from_wallet(**changes)))


def test_keys_from_the_crypto_module_fit_the_participant() -> None:
    pair = generate_key_pair()
    proposal = session_propose(Participant(pair.public_key, METADATA), {"eip155": EVM})
    assert proposal.params.proposer.public_key == pair.public_key
    with pytest.raises(InvalidPayload, match="publicKey"):
        session_propose(Participant("not-a-key", METADATA), {"eip155": EVM})
