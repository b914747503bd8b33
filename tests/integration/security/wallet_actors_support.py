"""The other side of the platform's wallets, for the security tests, and what they leave behind.

- WalletPeer: a WalletConnect wallet built from Grekko's own protocol modules. It speaks the real
  protocol through the local relay (reads the pairing URI, answers the proposal, settles, reads
  each wc_sessionRequest) and answers what the test tells it, including what an honest wallet
  (the SDK in interop/) never would: a signature by another key, the hash of another
  transaction, a hash it gave before, a session that expires in seconds.
- Browser: the user's MetaMask, with a real key: a SIWE message for /metamask/connect, and
  eth_sendTransaction signed and sent to anvil as MetaMask would.
- BusLog: every message the kernel bus carries ('*'), as text.
- secret_forms: the spellings a 32-byte secret would have if it leaked.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from eth_account import Account
from eth_account.messages import encode_defunct

from grekko.adapters.wallets.walletconnect import (
    Metadata,
    Participant,
    Relay,
    RelayClient,
    Request,
    SessionNamespace,
    SessionSettleParams,
    decode,
    decrypt,
    derive_sym_key,
    encode,
    encrypt,
    generate_key_pair,
    hash_key,
    parse_pairing_uri,
)
from grekko.adapters.wallets.walletconnect import messages as wc

MM = "/api/v1/metamask"
WC = "/api/v1/walletconnect"
CHAIN = {  # a platform with the devnet, no mirror, no agents: what the wallet tests run on
    "GREKKO_CHAIN__ENABLED": "true",
    "GREKKO_CHAIN__MIRROR": "false",
    "GREKKO_AGENTS__ENABLED": "[]",
}
PEER_META = Metadata("Security test wallet", "a wallet peer", "https://peer.grekko.local", ())
_REQUEST_ANSWER = wc.PUBLISH_OPTIONS[wc.SESSION_REQUEST][1]


@dataclass
class PeerRequest:
    id: int
    method: str
    params: list[Any]


@dataclass
class WalletPeer:
    relay_url: str
    account: Any  # eth_account LocalAccount
    client: RelayClient | None = None
    topic: str = ""
    key: str = field(default="", repr=False)
    deleted: bool = False

    async def settle(self, uri: str, expiry: int, chain_id: int = 31337) -> None:
        """Answer the proposal the URI points at and settle a session for the account."""
        self.client = RelayClient(self.relay_url)
        await self.client.connect()
        pairing = parse_pairing_uri(uri)
        await self.client.subscribe(pairing.topic)
        delivered = await self.client.next_message(timeout=10)
        proposal = decode(decrypt(delivered.message, pairing.sym_key))
        assert isinstance(proposal, Request)
        keys = generate_key_pair()
        self.key = derive_sym_key(keys.private_key, proposal.params.proposer.public_key)
        self.topic = hash_key(self.key)
        await self.client.subscribe(self.topic)
        answer = wc.result(
            proposal.id, {"relay": {"protocol": "irn"}, "responderPublicKey": keys.public_key}
        )
        sealed = encrypt(encode(answer), pairing.sym_key)
        await self.client.publish(pairing.topic, sealed, ttl=300, tag=1101)
        granted = SessionNamespace(
            (f"eip155:{chain_id}:{self.account.address}",),
            ("eth_sendTransaction", "personal_sign"),
            ("accountsChanged", "chainChanged"),
        )
        params = SessionSettleParams(
            relay=Relay("irn"),
            namespaces={"eip155": granted},
            controller=Participant(keys.public_key, PEER_META),
            expiry=expiry,
        )
        settle = wc.request(wc.SESSION_SETTLE, params)
        await self.client.publish(self.topic, encrypt(encode(settle), self.key), ttl=300, tag=1102)

    async def next_request(self, timeout: float = 30) -> PeerRequest:
        """The dApp's next wc_sessionRequest (acknowledgements skipped); AssertionError when the
        dApp deletes the session instead."""
        assert self.client is not None
        while True:
            delivered = await self.client.next_message(timeout=timeout)
            if delivered.topic != self.topic:
                continue
            message = decode(decrypt(delivered.message, self.key))
            if not isinstance(message, Request):
                continue
            if message.method == wc.SESSION_DELETE:
                self.deleted = True
                raise AssertionError("the dApp deleted the session")
            if message.method == wc.SESSION_REQUEST:
                call = message.params.request
                return PeerRequest(message.id, call.method, list(call.params))

    async def until_deleted(self, timeout: float = 30) -> None:
        """Read on until the dApp's wc_sessionDelete arrives."""
        while not self.deleted:
            with contextlib.suppress(AssertionError):
                await self.next_request(timeout)

    async def answer(self, request_id: int, result: object) -> None:
        await self._reply(wc.result(request_id, result))

    async def refuse(self, request_id: int, message: str) -> None:
        await self._reply(wc.error(request_id, 5000, message))

    async def _reply(self, reply: Any) -> None:
        assert self.client is not None
        sealed = encrypt(encode(reply), self.key)
        await self.client.publish(
            self.topic, sealed, ttl=_REQUEST_ANSWER.ttl, tag=_REQUEST_ANSWER.tag
        )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def personal_signature(account: Any, hex_message: str) -> str:
    signed = account.sign_message(encode_defunct(bytes.fromhex(hex_message[2:])))
    return "0x" + bytes(signed.signature).hex()


def send_as(w3: Any, account: Any, params: dict[str, Any], **changes: Any) -> str:
    """Sign eth_sendTransaction's object with the account's key and broadcast it, as a wallet
    does; `changes` alter the transaction first (what a dishonest wallet would send)."""
    me = account.address
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": int(w3.eth.chain_id),
        "to": params["to"],
        "value": int(params.get("value") or "0x0", 16),
        "data": params.get("data") or "0x",
        "nonce": w3.eth.get_transaction_count(me, "pending"),
        "maxPriorityFeePerGas": 10**9,
    }
    tx.update(changes)
    tx["maxFeePerGas"] = 2 * int(w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9
    tx["gas"] = 2 * w3.eth.estimate_gas(
        {"from": me, "to": tx["to"], "value": tx["value"], "data": tx["data"]}
    )
    signed = account.sign_transaction(tx)
    tx_hash = "0x" + bytes(w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    return tx_hash


def funded_account(w3: Any) -> Any:
    account = Account.create()
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10 * 10**18)])
    return account


class Browser:
    """The user's MetaMask: a key, SIWE messages and transactions signed with it."""

    def __init__(self, w3: Any, account: Any = None) -> None:
        self.w3 = w3
        self.account = account or funded_account(w3)

    def siwe(self, nonce: dict[str, Any], *, expires_in_s: float | None = None) -> dict[str, Any]:
        with warnings.catch_warnings():  # its ABNF grammar warns about RFC 5234 core rules
            warnings.simplefilter("ignore")
            from siwe import SiweMessage  # type: ignore[import-untyped,unused-ignore]

        now = datetime.now(tz=UTC)
        fields: dict[str, Any] = {
            "domain": nonce["domain"],
            "address": self.account.address,
            "statement": "Connect MetaMask to Grekko",
            "uri": f"http://{nonce['domain']}/",
            "version": "1",
            "chain_id": nonce["chain_id"],
            "nonce": nonce["nonce"],
            "issued_at": _iso(now - timedelta(minutes=10)),
        }
        if expires_in_s is not None:
            fields["expiration_time"] = _iso(now + timedelta(seconds=expires_in_s))
        message = SiweMessage(**fields).prepare_message()
        signed = self.account.sign_message(encode_defunct(text=message))
        return {
            "address": self.account.address,
            "chain_id": nonce["chain_id"],
            "message": message,
            "signature": "0x" + bytes(signed.signature).hex(),
        }

    def send(self, params: dict[str, str], **changes: Any) -> str:
        assert params["from"] == self.account.address
        return send_as(self.w3, self.account, params, **changes)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BusLog:
    """Every message the kernel bus carries ('*'), as text, and the messages of the given topic
    patterns by pattern; the test runs on the kernel's loop."""

    def __init__(self, bus: Any, *patterns: str) -> None:
        self.texts: list[str] = []
        self.got: dict[str, list[Any]] = {pattern: [] for pattern in patterns}
        bus.subscribe("*", self._record)
        for pattern in patterns:
            bus.subscribe(pattern, self.got[pattern].append)

    def _record(self, message: Any) -> None:
        try:
            text = msgspec.json.encode(message, enc_hook=repr).decode()
        except (TypeError, msgspec.EncodeError):
            text = ""
        self.texts.append(f"{text} {message!r}")

    def text(self) -> str:
        return "\n".join(self.texts)

    async def next(self, pattern: str, count: int = 1, timeout_s: float = 15) -> Any:
        """The count-th message on `pattern`, once the bus carried it."""
        for _ in range(int(timeout_s / 0.025)):
            if len(self.got[pattern]) >= count:
                return self.got[pattern][count - 1]
            await asyncio.sleep(0.025)
        raise AssertionError(f"too little on {pattern}: {self.got[pattern]}")


def secret_forms(secret: bytes) -> list[str]:
    """How a 32-byte secret would look if it leaked into text."""
    hexed = secret.hex()
    return [
        hexed,
        hexed.upper(),
        base64.b64encode(secret).decode().rstrip("="),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
    ]
