"""MetaMask in the browser, end to end: `grekko up` with the devnet, Debian's chromium, and an
injected EIP-1193 wallet holding a real key (it signs for real and sends to anvil).

Sign in with Ethereum -> connect MetaMask from the wallet panel (the wallet is moved from mainnet
to the devnet, adding the chain first) -> a swap the wallet signs -> confirmed on chain, and the
wallet's balance in the panel. Then a swap the trader refuses in MetaMask is reported as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from browser_support import new_page, page_problems, wait_for_desk
from e2e_support import Platform, write_settings
from injected_wallet_support import DevnetWallet

_ERC20 = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "b", "type": "uint256"}],
    }
]
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def chain_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("e2e-chain") / "data"
    write_settings(data_dir, speed=5.0)
    running = Platform(data_dir, devnet=True)
    running.start()
    try:
        running.create_users()
        yield running
    finally:
        running.stop()


def _api(platform: Platform, token: str, method: str, path: str, **kw: Any) -> Any:
    answer = httpx.request(
        method,
        f"{platform.url}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kw,
    )
    assert answer.is_success, answer.text
    return answer.json()


def _wallet_for_tess(platform: Platform) -> tuple[DevnetWallet, str]:
    """A wallet whose address the admin links to tess (a trader), so SIWE signs in as tess."""
    tess = platform.login("tess")
    switch = _api(platform, tess, "GET", "/metamask/network/switch")
    rpc_url = switch["wallet_addEthereumChain"][0]["rpcUrls"][0]
    wallet = DevnetWallet(rpc_url)
    admin = platform.admin_token()
    users = _api(platform, admin, "GET", "/users")
    tess_id = next(u["id"] for u in users if u["username"] == "tess")
    _api(platform, admin, "POST", f"/users/{tess_id}/wallet", json={"address": wallet.address})
    return wallet, rpc_url


def test_siwe_login_connect_and_a_swap_confirmed_on_chain(
    browser: Any, chain_platform: Platform, screenshot: Any
) -> None:
    from playwright.sync_api import expect

    wallet, _ = _wallet_for_tess(chain_platform)
    page = new_page(browser, wallet.install)
    page.goto(chain_platform.url + "/")
    page.get_by_role("button", name="Sign in with Ethereum").click()
    wait_for_desk(page)
    expect(page.locator(".user-name")).to_have_text("tess")

    page.get_by_role("button", name="Wallets", exact=True).click()
    drawer = page.get_by_role("complementary", name="Wallets")
    metamask = drawer.get_by_role("region", name="MetaMask")
    metamask.get_by_role("button", name="Connect MetaMask").click()
    short = f"{wallet.address[:6]}…{wallet.address[-4:]}"
    expect(metamask.get_by_role("status").first).to_have_text(
        f"Connected: {short}", timeout=TIMEOUT_MS
    )
    assert wallet.chain_id == 31337
    assert wallet.known_chains[31337]["rpcUrls"] == [wallet.rpc_url]
    calls = [c for c in wallet.calls if c != "eth_accounts"]  # the panel's look at its state
    login, connect = calls[:2], calls[2:8]
    assert login == ["eth_requestAccounts", "personal_sign"]
    assert connect == [
        "eth_requestAccounts",
        "wallet_switchEthereumChain",  # 4902: the wallet does not know the devnet yet
        "wallet_addEthereumChain",
        "wallet_switchEthereumChain",
        "eth_chainId",
        "personal_sign",
    ]

    swap = drawer.get_by_role("form", name="Swap with MetaMask")
    swap.get_by_label("Sell", exact=True).select_option("ETH")
    swap.get_by_label("Buy", exact=True).select_option("USDC")
    swap.get_by_label("Amount to sell").fill("0.25")
    swap.get_by_role("button", name="Swap with MetaMask").click()
    result = swap.locator(".wl-swap-result")
    expect(result).to_have_text(
        re.compile(r"Swap confirmed in block \d+: received [\d.]+ USDC\."),
        timeout=TIMEOUT_MS,
    )
    (tx_hash,) = wallet.sent
    receipt = wallet.w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["from"] == wallet.address
    usdc = _usdc(chain_platform, wallet)
    received = Decimal(result.inner_text().split("received ")[1].split(" ")[0])
    assert Decimal(usdc).scaleb(-6) == received > 0

    row = drawer.locator('tr[data-wallet^="metamask:"][data-asset="USDC"]')
    expect(row).to_have_count(1, timeout=TIMEOUT_MS)
    expect(row.locator("td").nth(3)).to_have_text(_trim(received))
    screenshot(page, "wallets-metamask-swap")

    wallet.refuse_next_send = True
    swap.get_by_label("Amount to sell").fill("0.1")
    swap.get_by_role("button", name="Swap with MetaMask").click()
    expect(result).to_contain_text("User denied transaction signature", timeout=TIMEOUT_MS)
    assert _usdc(chain_platform, wallet) == usdc

    metamask.get_by_role("button", name="Disconnect").click()
    expect(metamask.get_by_role("status").first).to_have_text("Not connected.")
    expect(swap.get_by_role("button", name="Swap with MetaMask")).to_be_disabled(timeout=TIMEOUT_MS)
    assert page_problems(page) == []


def _usdc(platform: Platform, wallet: DevnetWallet) -> int:
    tess = platform.login("tess")
    wallets = _api(platform, tess, "GET", "/wallets")
    mine = next(w for w in wallets if w["provider_id"].startswith("metamask:"))
    assert mine["accounts"] == [wallet.address]
    amount = Decimal(mine["balances"][wallet.address].get("USDC", "0"))
    return int(amount.scaleb(6))


def _trim(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
