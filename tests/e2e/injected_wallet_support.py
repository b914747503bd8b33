"""An EIP-1193 provider injected into the page, standing in for the MetaMask extension.

window.ethereum in the page forwards every request to `DevnetWallet.handle` in the test process
(Playwright's expose_function). The wallet holds a real key: it signs SIWE messages with it, and
signs and sends transactions to the devnet's anvil itself, as MetaMask does. Like a fresh
MetaMask it starts on mainnet and does not know the devnet: switching there fails with 4902 until
wallet_addEthereumChain has added it. It records every call so a test can check the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

INJECT = """
(() => {
  const listeners = {};
  window.ethereum = {
    isMetaMask: true,
    async request({ method, params }) {
      const out = await window.__devnetWallet(method, params === undefined ? [] : params);
      for (const [event, payload] of out.emit || []) {
        for (const handler of listeners[event] || []) handler(payload);
      }
      if (out.error) {
        const error = new Error(out.error.message);
        error.code = out.error.code;
        throw error;
      }
      return out.result;
    },
    on(event, handler) { (listeners[event] = listeners[event] || []).push(handler); },
    removeListener(event, handler) {
      listeners[event] = (listeners[event] || []).filter((h) => h !== handler);
    },
  };
})();
"""

MAINNET = 1


@dataclass
class DevnetWallet:
    rpc_url: str
    account: Any = field(default_factory=Account.create)
    chain_id: int = MAINNET
    known_chains: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    refuse_next_send: bool = False

    def __post_init__(self) -> None:
        self.w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))
        self.w3.provider.make_request(  # type: ignore[attr-defined]
            "anvil_setBalance", [self.account.address, hex(10 * 10**18)]
        )

    @property
    def address(self) -> str:
        return str(self.account.address)

    def install(self, context: Any) -> None:
        """On a browser context, before any page script runs."""
        context.expose_function("__devnetWallet", self.handle)
        context.add_init_script(INJECT)

    def handle(self, method: str, params: Any) -> dict[str, Any]:
        self.calls.append(method)
        try:
            return self._dispatch(method, params)
        except WalletRpcError as exc:
            return {"error": {"code": exc.code, "message": str(exc)}}

    def _dispatch(self, method: str, params: Any) -> dict[str, Any]:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.address.lower()]}  # MetaMask hands out lower case
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "wallet_switchEthereumChain":
            wanted = int(params[0]["chainId"], 16)
            if wanted != MAINNET and wanted not in self.known_chains:
                raise WalletRpcError(4902, f"Unrecognized chain ID {hex(wanted)}")
            self.chain_id = wanted
            return {"result": None, "emit": [["chainChanged", hex(wanted)]]}
        if method == "wallet_addEthereumChain":
            chain = params[0]
            self.known_chains[int(chain["chainId"], 16)] = chain
            return {"result": None}
        if method == "personal_sign":
            return {"result": self._personal_sign(params)}
        if method == "eth_sendTransaction":
            return {"result": self._send(params[0])}
        raise WalletRpcError(4200, f"{method} is not supported")

    def _personal_sign(self, params: list[str]) -> str:
        message, signer = params
        if signer.lower() != self.address.lower():
            raise WalletRpcError(4100, "not this wallet's account")
        signed = self.account.sign_message(encode_defunct(hexstr=message))
        return "0x" + bytes(signed.signature).hex()

    def _send(self, asked: dict[str, str]) -> str:
        if self.refuse_next_send:
            self.refuse_next_send = False
            raise WalletRpcError(4001, "MetaMask Tx Signature: User denied transaction signature.")
        if int(asked["chainId"], 16) != self.chain_id:
            raise WalletRpcError(4901, "the request is for another chain")
        me = self.account.address
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "to": Web3.to_checksum_address(asked["to"]),
            "value": int(asked["value"], 16),
            "data": asked["data"],
            "nonce": self.w3.eth.get_transaction_count(me, "pending"),
            "maxPriorityFeePerGas": 10**9,
        }
        tx["maxFeePerGas"] = 2 * int(self.w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9
        tx["gas"] = 2 * self.w3.eth.estimate_gas(
            {"from": me, "to": tx["to"], "value": tx["value"], "data": tx["data"]}
        )
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
        self.sent.append(tx_hash)
        return tx_hash


class WalletRpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
