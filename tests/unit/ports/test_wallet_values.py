"""The WalletProvider port's value objects refuse what no chain would accept."""

from __future__ import annotations

import pytest

from grekko.ports.wallet import WALLET_EVENTS, ChainInfo, TxRequest, WalletError, check_event

TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_a_complete_request_has_every_node_field() -> None:
    partial = TxRequest(to=TO, value=1)
    assert not partial.complete
    full = TxRequest(
        to=TO, value=1, gas=21_000, nonce=0, max_fee_per_gas=2, max_priority_fee_per_gas=2
    )
    assert full.complete
    assert not TxRequest(to=TO, gas=21_000, nonce=0, max_fee_per_gas=2).complete


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": -1}, "TxRequest.value must be a non-negative int"),
        ({"gas": 1.5}, "TxRequest.gas must be a non-negative int"),
        ({"nonce": True}, "TxRequest.nonce must be a non-negative int"),
        ({"data": "0xabcd"}, "TxRequest.data must be bytes"),
        ({"max_fee_per_gas": 1, "max_priority_fee_per_gas": 2}, "must not exceed"),
        ({"to": None}, "deploys `data`, which is empty"),
    ],
)
def test_tx_request_rejects_values_a_chain_would_not_take(
    kwargs: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {"to": TO, **kwargs}
    with pytest.raises(WalletError, match=message):
        TxRequest(**fields)  # type: ignore[arg-type]


def test_a_contract_deployment_needs_no_recipient() -> None:
    assert TxRequest(to=None, data=b"\x60\x00").to is None


def test_chain_info_needs_a_positive_id_and_an_rpc_url() -> None:
    assert ChainInfo(31337, "devnet", "http://127.0.0.1:8545").native_symbol == "ETH"
    with pytest.raises(WalletError, match="must be positive"):
        ChainInfo(0, "zero", "http://127.0.0.1:8545")
    with pytest.raises(WalletError, match="non-negative int"):
        ChainInfo(-1, "negative", "http://127.0.0.1:8545")
    with pytest.raises(WalletError, match="needs an rpc_url"):
        ChainInfo(1, "mainnet", "")


def test_events_are_eip_1193s_five() -> None:
    assert (
        frozenset({"accountsChanged", "chainChanged", "connect", "disconnect", "error"})
        == WALLET_EVENTS
    )
    assert check_event("chainChanged") == "chainChanged"
    with pytest.raises(WalletError, match="unknown wallet event 'message'"):
        check_event("message")
