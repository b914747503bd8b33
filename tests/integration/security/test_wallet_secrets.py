"""No wallet secret leaves its keeper: the served platform with the chain on (real anvil, real
vault, real SQLite), the platform's keystore wallet, a trader's MetaMask (a real key in a Python
stand-in) and a WalletConnect session with the official SDK wallet through the local relay.

Every logger logs at DEBUG while the wallets connect, sign, send, fail and disconnect; the bus is
read on '*'. Then the keystore's private key and its vault password, and the session's X25519
private key, session key and pairing key, are looked for in every API answer and problem body,
every log line, every bus message, the repr and str of the wallet and session objects, the
errors raised, and (after shutdown) every byte of the data dir. The one place a key may be is the
pairing URI the trader's own wallet has to scan: it is in the create answer, and nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from grekko.adapters.wallets.plugin import PASSWORD_SECRET
from grekko.adapters.wallets.walletconnect import parse_pairing_uri
from grekko.api.principal import Role
from grekko.ports.wallet import TxRequest, WalletError
from integration.api.platform_support import Harness, running_platform
from integration.security.wallet_actors_support import MM, WC, Browser, BusLog, secret_forms
from integration.wallets.walletconnect_relay_support import LocalRelay
from integration.wallets.walletconnect_wallet_support import NodeWallet, node_wallet

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
# anvil's dev account 2: anvil signs eth_sendTransaction for it, as the SDK wallet hands it over
SDK_WALLET_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
SDK_WALLET = Account.from_key(SDK_WALLET_KEY).address


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def every_logger_at_debug() -> Iterator[_Lines]:
    """A handler on the root and on each logger that does not propagate; every level DEBUG."""
    handler, levels = _Lines(), {}
    root = logging.getLogger()
    levels[""] = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for logger in _loggers():
            logger.removeHandler(handler)


def _loggers() -> list[logging.Logger]:
    return [v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)]


def all_to_debug(handler: _Lines) -> None:
    """Again after start-up: loggers made meanwhile (web3, websockets, ...) log at DEBUG too."""
    for logger in _loggers():
        logger.setLevel(logging.DEBUG)
        if not logger.propagate and handler not in logger.handlers:
            logger.addHandler(handler)


class Seen:
    """Everything the test saw come out of the platform, by where it came from."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.errors: list[str] = []
        self.reprs: list[str] = []

    def answer(self, response: httpx.Response) -> httpx.Response:
        self.answers.append(f"{response.status_code} {response.headers} {response.text}")
        return response

    def error(self, exc: BaseException) -> None:
        self.errors.append(f"{exc!s} {exc!r} {exc.__cause__!r} {exc.__context__!r}")

    def objects(self, *objects: object) -> None:
        self.reprs += [f"{o!r} {o!s}" for o in objects]


def keystore_secrets(h: Harness) -> tuple[bytes, str]:
    """The platform wallet's private key, opened the one way it opens: the keystore file with
    the password from the vault."""
    wallet = h.platform.session.chain.wallet
    password = h.app.state.services.extra["vault"].get(PASSWORD_SECRET)
    key = bytes(Account.decrypt(json.loads(wallet.keystore_file.read_text()), password))
    assert Account.from_key(key).address == wallet.address
    return key, password


async def use_the_keystore_wallet(h: Harness, seen: Seen) -> None:
    chain = h.platform.session.chain
    wallets, me = chain.wallets, chain.wallet.address
    signed = await asyncio.to_thread(wallets.sign_message, "keystore", "security check")
    assert Account.recover_message(encode_defunct(text="security check"), signature=signed) == me
    sent = await asyncio.to_thread(
        wallets.send_transaction, "keystore", TxRequest(to=Account.create().address, value=10**15)
    )
    assert chain.w3.eth.wait_for_transaction_receipt(sent, timeout=30)["status"] == 1
    overdraw = "0xa9059cbb" + "00" * 12 + me[2:].lower() + f"{10**30:064x}"  # transfer(me, 1e30)
    bad = TxRequest(to=chain.tokens["USDC"], data=bytes.fromhex(overdraw[2:]))
    with pytest.raises(WalletError, match="refused the transaction") as refused:
        await asyncio.to_thread(wallets.send_transaction, "keystore", bad)
    seen.error(refused.value)
    seen.objects(wallets.get("keystore"), wallets)
    seen.answer(await h.client.get("/api/v1/wallets", headers=h.auth(Role.VIEWER)))

    wallets.get("keystore").disconnect()
    with pytest.raises(WalletError, match="not connected") as locked:
        await asyncio.to_thread(wallets.sign_message, "keystore", "after the lock")
    seen.error(locked.value)
    listed = seen.answer(await h.client.get("/api/v1/wallets", headers=h.auth(Role.VIEWER)))
    keystore = next(w for w in listed.json() if w["provider_id"] == "keystore")
    assert (keystore["connected"], keystore["accounts"], keystore["balances"]) == (False, [], {})
    seen.objects(wallets.get("keystore"))


async def use_metamask(h: Harness, seen: Seen) -> None:
    trader = h.auth(Role.TRADER)
    browser = Browser(h.platform.session.chain.w3)
    nonce = seen.answer(await h.client.get("/api/v1/auth/siwe/nonce")).json()
    connected = await h.client.post(f"{MM}/connect", json=browser.siwe(nonce), headers=trader)
    assert seen.answer(connected).status_code == 200, connected.text
    replayed = await h.client.post(f"{MM}/connect", json=browser.siwe(nonce), headers=trader)
    assert seen.answer(replayed).json()["code"] == "siwe_nonce_invalid"
    gone = seen.answer(await h.client.post(f"{MM}/disconnect", headers=trader))
    assert gone.json()["connected"] is False
    seen.answer(await h.client.get(f"{MM}/requests", headers=trader))
    seen.objects(h.platform.session.chain.wallets.get(connected.json()["provider_id"]))


async def poll(h: Harness, path: str, done: Any, seen: Seen) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = seen.answer(
            await h.client.get(path, headers=h.auth(Role.TRADER))
        ).json()
        if done(body):
            return body
        await asyncio.sleep(0.05)
    pytest.fail(f"{path} never reached the state wanted")


async def ask(h: Harness, seen: Seen, method: str, params: list[Any]) -> dict[str, Any]:
    sent = await h.client.post(
        f"{WC}/request/send", json={"method": method, "params": params}, headers=h.auth(Role.TRADER)
    )
    assert seen.answer(sent).status_code == 202, sent.text
    path = f"{WC}/request/{sent.json()['request_id']}"
    return await poll(h, path, lambda b: b["status"] != "pending", seen)


async def use_walletconnect(h: Harness, seen: Seen, wallet: NodeWallet) -> dict[str, str]:
    """Pair, sign, be refused, send, disconnect, fail; the session's keys, read while it lives."""
    trader = h.auth(Role.TRADER)
    created = await h.client.post(f"{WC}/session/create", headers=trader)
    assert created.status_code == 200, created.text
    uri = created.json()["uri"]
    assert parse_pairing_uri(uri).sym_key in created.text  # for the trader's own wallet to scan
    logging.getLogger("grekko.api").debug("a careless line with the URI %s", uri)
    await wallet.expect("ready")
    await wallet.send("pair", uri=uri)
    await wallet.expect("session")
    await poll(h, f"{WC}/session/status", lambda b: b["state"] == "established", seen)
    seen.answer(await h.client.get("/api/v1/wallets", headers=h.auth(Role.VIEWER)))
    signed = await ask(h, seen, "personal_sign", ["0x" + b"hello".hex(), SDK_WALLET])
    assert signed["status"] == "approved", signed
    refused = await ask(h, seen, "personal_sign", ["0x" + b"reject".hex(), SDK_WALLET])
    assert refused["status"] == "failed"
    tx = {"from": SDK_WALLET, "to": Account.create().address, "value": hex(10**15)}
    assert (await ask(h, seen, "eth_sendTransaction", [tx]))["status"] == "approved"
    seen.answer(await h.client.get(f"{WC}/request/nothing-such", headers=trader))

    me = (await h.client.get("/api/v1/auth/me", headers=trader)).json()["id"]
    session = h.app.state.services.extra["walletconnect"].sessions[me]
    channel = session._live
    assert channel.keys is not None
    assert channel.session_key is not None
    keys = {
        "the session's X25519 private key": channel.keys.private_key,
        "the session key": channel.session_key,
        "the pairing key": parse_pairing_uri(uri).sym_key,
    }
    assert channel.pairing.sym_key == keys["the pairing key"]
    seen.objects(session, channel, channel.pairing, channel.keys, channel.relay)
    seen.objects(h.platform.session.chain.wallets.get(session.provider_id))

    gone = seen.answer(await h.client.delete(f"{WC}/session/disconnect", headers=trader))
    assert gone.json()["state"] == "disconnected"
    await wallet.expect("deleted")
    assert (channel.keys, channel.session_key) == (None, None)  # the channel forgot them
    after = await h.client.post(
        f"{WC}/request/send",
        json={"method": "personal_sign", "params": ["0x00", SDK_WALLET]},
        headers=trader,
    )
    assert seen.answer(after).status_code == 409
    with pytest.raises(WalletError) as refused_after:
        await asyncio.to_thread(session.sign_message, "after the end")
    seen.error(refused_after.value)
    seen.objects(session, channel)
    seen.answer(await h.client.get(f"{WC}/session/status", headers=trader))
    seen.answer(await h.client.get(f"{WC}/session/status", headers=h.auth(Role.VIEWER)))
    return keys


def nowhere(what: str, secret: str | bytes, places: dict[str, str]) -> None:
    forms = secret_forms(secret) if isinstance(secret, bytes) else [secret]
    if isinstance(secret, str) and len(secret) == 64:
        forms = secret_forms(bytes.fromhex(secret))
    for where, text in places.items():
        for form in forms:
            assert form not in text, f"{what} appears in {where}"


def data_dir_files(data_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(data_dir)): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()
    }


async def test_no_wallet_secret_leaves_the_vault_or_the_wallets(tmp_path: Path) -> None:
    relay = LocalRelay()
    await relay.start()
    env = {
        "GREKKO_CHAIN__ENABLED": "true",
        "GREKKO_CHAIN__MIRROR": "false",
        "GREKKO_AGENTS__ENABLED": "[]",
        "GREKKO_API__WALLETCONNECT_RELAY_URL": relay.url,
        "GREKKO_API__WALLETCONNECT_PROJECT_ID": "grekko-security-test",
    }
    seen = Seen()
    try:
        with every_logger_at_debug() as logs:
            async with running_platform(tmp_path, env=env, bars=2000) as h:
                all_to_debug(logs)
                bus = BusLog(h.platform.session.kernel.bus)
                key, password = keystore_secrets(h)
                chain = h.platform.session.chain
                async with node_wallet(relay.url, SDK_WALLET_KEY, chain.rpc_url) as wallet:
                    session_keys = await use_walletconnect(h, seen, wallet)
                await use_metamask(h, seen)
                await use_the_keystore_wallet(h, seen)
                await relay.stop()  # a failure: the relay is gone
                broken = await h.client.post(f"{WC}/session/create", headers=h.auth(Role.TRADER))
                assert seen.answer(broken).json()["code"] == "walletconnect_relay"
                audit = await h.client.get("/api/v1/audit?limit=1000", headers=h.auth(Role.ADMIN))
                seen.answer(audit)
    finally:
        await relay.stop()
    log_text = "\n".join(logs.lines)
    # the capture is real: the wallets' own lines, and the relay frames at DEBUG, are in it
    assert "grekko.wallets.keystore INFO unlocked keystore wallet" in log_text
    assert "grekko.wallets.keystore INFO locked keystore wallet" in log_text
    assert "websockets.client DEBUG > TEXT" in log_text
    assert "a careless line with the URI wc:" in log_text  # logged, its key masked
    assert "symKey=[REDACTED]" in log_text
    assert "walletconnect:" in bus.text()
    assert "metamask:" in bus.text()
    assert any("metamask.disconnect" in a for a in seen.answers)
    files = data_dir_files(tmp_path)
    assert any(name.startswith("keystore/") for name in files)
    places = {
        "an API answer": "\n".join(seen.answers),
        "a log line": log_text,
        "a bus message": bus.text(),
        "a repr or str": "\n".join(seen.reprs),
        "an error": "\n".join(seen.errors),
    }
    places.update({f"the data dir's {name}": raw.decode("latin-1") for name, raw in files.items()})
    nowhere("the keystore private key", key, places)
    nowhere("the keystore password", password, places)
    for what, secret in session_keys.items():
        nowhere(what, secret, places)
    for name, raw in files.items():
        assert key not in raw, f"the raw keystore key is in {name}"
