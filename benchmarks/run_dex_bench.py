"""DEX benchmark on a real anvil with the real Uniswap V2 bytecode: quotes and sustained swaps.

Measured in one run, one process: (1) quote latency over a two-hop route (USDC -> WETH -> UNI,
router.getAmountsOut through the evm adapter); (2) swaps, each one the whole adapter path (best
route, allowance, estimate, send, receipt, fill from the logs), one after the other; (3) sustained
swaps pipelined: swap transactions signed by the keystore wallet with nonces from the NonceManager
and explicit gas, sent without waiting, then every receipt checked; (4) the reference, bare
web3.py ERC-20 transfers signed with eth_account, sent the same way. Targets: >= 200 swaps/s
sustained, quote p50 < 5 ms.

Also measured: (5) a two-hop Uniswap V3 quote (QuoterV2, which simulates the swap) and (6) the
DexRouter's best quote across V2 and every V3 fee tier (route discovery included), as the DEX
venue asks for each order.

Usage: python -m benchmarks.run_dex_bench [--quotes N] [--swaps N] [--pipelined N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account
from rich.console import Console
from web3 import Web3
from web3.exceptions import TimeExhausted

from benchmarks.bench_results import machine_info, replace_in_readme
from benchmarks.run_backtest_bench import REPO, RESULTS_DIR
from grekko.adapters.devnet.deploy import Deployer, contract_at, deploy_all, dev_account
from grekko.adapters.devnet.devnet import Devnet
from grekko.adapters.devnet.pools import add_v2_eth_pools
from grekko.adapters.devnet.pools_v3 import add_v3_pool
from grekko.adapters.evm import NonceManager, UniswapV2
from grekko.adapters.evm.routing import DexRouter
from grekko.adapters.evm.uniswap_v3 import UniswapV3
from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.adapters.vault import LocalVault
from grekko.adapters.wallets import KeystoreWallet
from grekko.bootstrap.chain import uniswap_v2_config, uniswap_v3_config
from grekko.ports.wallet import ChainInfo, TxRequest

MARKER = "<!-- DEX-BENCH -->"
ETHER = 10**18
SWAP_GAS = 250_000
POOLS = (("USDC", 4_000_000, 2_000), ("UNI", 400_000, 2_000))


def _setup(data_dir: Path) -> tuple[Devnet, Web3, Any, KeystoreWallet]:
    # no periodic state dump mid-measurement: dumping a grown chain stalls mining for seconds
    devnet = Devnet(data_dir, state_interval_s=86_400)
    info = devnet.up()
    w3 = Web3(Web3.HTTPProvider(info.rpc_url, request_kwargs={"timeout": 60}))
    deployment = deploy_all(w3, data_dir)
    add_v2_eth_pools(w3, deployment, POOLS)
    for symbol, tokens, ether in POOLS:  # the same prices on V3, 0.3 % tier, full range
        price = Decimal(tokens) / Decimal(ether)
        add_v3_pool(w3, deployment, "WETH", symbol, 3000, price, amount_a_whole=Decimal(ether))
    deployer = Deployer(w3, dev_account())
    engine = build_engine(f"sqlite:///{data_dir / 'vault.db'}")
    upgrade_to_head(engine)
    chain = ChainInfo(info.chain_id, "devnet", info.rpc_url)
    wallet = KeystoreWallet.create(
        data_dir, LocalVault(engine, os.urandom(32)), "bench", [chain], scrypt_n=2**14
    )
    wallet.connect()
    w3.provider.make_request("anvil_setBalance", [wallet.address, hex(10_000 * ETHER)])  # type: ignore[arg-type]
    usdc = contract_at(w3, "USDC", deployment.contracts["USDC"])
    deployer.call(usdc, "transfer", wallet.address, 1_000_000 * 10**6)
    return devnet, w3, deployment, wallet


def _adapter(w3: Web3, deployment: Any, wallet: KeystoreWallet) -> UniswapV2:
    return UniswapV2(w3, uniswap_v2_config(deployment.contracts), wallet)


def _v3_adapter(w3: Web3, deployment: Any, wallet: KeystoreWallet) -> UniswapV3:
    return UniswapV3(w3, uniswap_v3_config(deployment.contracts), wallet)


def _latency(n: int, call: Any) -> dict[str, float]:
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        times[i] = time.perf_counter() - t0
    return {
        "quotes": n,
        "p50_ms": round(float(np.percentile(times, 50)) * 1000, 2),
        "p99_ms": round(float(np.percentile(times, 99)) * 1000, 2),
    }


def bench_quotes(dex: UniswapV2, usdc: str, uni: str, n: int) -> dict[str, float]:
    path = dex.best_quote(1_000 * 10**6, usdc, uni).path
    return _latency(n, lambda i: dex.quote(1_000 * 10**6 + i, path))


def bench_v3_quotes(v3: UniswapV3, usdc: str, uni: str, n: int) -> dict[str, float]:
    best = v3.best_quote(1_000 * 10**6, usdc, uni)
    return _latency(n, lambda i: v3.quote(1_000 * 10**6 + i, best.path, best.fees))


def bench_router_quotes(router: DexRouter, usdc: str, uni: str, n: int) -> dict[str, float]:
    return _latency(n, lambda i: router.best_quote(1_000 * 10**6 + i, usdc, uni))


def bench_sequential(dex: UniswapV2, usdc: str, uni: str, n: int) -> dict[str, float]:
    dex.ensure_allowance(usdc, 2**255)
    started = time.perf_counter()
    fills = 0
    for _ in range(n):
        result = dex.swap(100 * 10**6, usdc, uni, slippage_bps=100)
        fills += hasattr(result, "amount_out")
    elapsed = time.perf_counter() - started
    return {"swaps": n, "filled": fills, "per_s": round(n / elapsed, 1)}


def _wait_all(w3: Web3, hashes: list[str]) -> int:
    """Receipts that say success; a transaction the node never mines counts as failed."""
    ok = 0
    for tx_hash in hashes:
        try:
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)  # type: ignore[arg-type]
        except TimeExhausted:
            continue
        ok += int(receipt["status"] == 1)
    return ok


def bench_pipelined(
    w3: Web3, dex: UniswapV2, wallet: KeystoreWallet, usdc: str, uni: str, n: int
) -> dict[str, float]:
    path = dex.best_quote(100 * 10**6, usdc, uni).path
    router = w3.eth.contract(address=dex.config.router, abi=dex.config.router_abi)  # type: ignore[arg-type]
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 86_400
    data = bytes.fromhex(
        router.encode_abi(
            "swapExactTokensForTokens", [100 * 10**6, 0, list(path), wallet.address, deadline]
        )[2:]
    )
    nonces = NonceManager(lambda _c, a: w3.eth.get_transaction_count(a, "pending"))  # type: ignore[arg-type]
    tip = w3.eth.max_priority_fee
    max_fee = 2 * int(w3.eth.get_block("latest")["baseFeePerGas"]) + tip + 10**9
    chain_id = w3.eth.chain_id
    started = time.perf_counter()
    hashes = []
    for _ in range(n):
        tx = TxRequest(
            to=dex.config.router,
            data=data,
            gas=SWAP_GAS,
            nonce=nonces.next(chain_id, wallet.address),
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=tip,
        )
        signed = wallet.sign_transaction(tx)
        hashes.append(w3.eth.send_raw_transaction(signed.raw).hex())
    ok = _wait_all(w3, hashes)
    elapsed = time.perf_counter() - started
    return {"swaps": n, "succeeded": ok, "per_s": round(n / elapsed, 1)}


def bench_bare_transfers(w3: Web3, usdc_address: str, n: int) -> dict[str, float]:
    """The peer reference: plain web3.py + eth_account ERC-20 transfers, explicit gas, pipelined."""
    account = Account.create()
    w3.provider.make_request("anvil_setBalance", [account.address, hex(100 * ETHER)])  # type: ignore[arg-type]
    token = contract_at(w3, "USDC", usdc_address)
    Deployer(w3, dev_account()).call(token, "transfer", account.address, 10**12)
    data = token.encode_abi("transfer", [dev_account().address, 1])
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    tip = w3.eth.max_priority_fee
    max_fee = 2 * int(w3.eth.get_block("latest")["baseFeePerGas"]) + tip + 10**9
    started = time.perf_counter()
    hashes = []
    for i in range(n):
        fields = {
            "type": 2, "chainId": w3.eth.chain_id, "nonce": nonce + i, "gas": 80_000,
            "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip, "to": token.address,
            "value": 0, "data": data,
        }  # fmt: skip
        signed = Account.sign_transaction(fields, account.key)
        hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction).hex())
    ok = _wait_all(w3, hashes)
    elapsed = time.perf_counter() - started
    return {"transfers": n, "succeeded": ok, "per_s": round(n / elapsed, 1)}


def report(
    q: dict[str, float],
    seq: dict[str, float],
    pipe: dict[str, float],
    bare: dict[str, float],
    v3: dict[str, float],
    routed: dict[str, float],
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    ratio = pipe["per_s"] / bare["per_s"] if bare["per_s"] else 0.0
    return "\n".join(
        [
            f"Latest `make bench-dex` ({when} UTC, anvil 1.7.1 from npm, real Uniswap V2/V3 bytecode, one process, 2 cores):",
            "",
            "| measure | result | target |",
            "|---|---|---|",
            f"| quote, 2 hops (USDC→WETH→UNI, getAmountsOut) | p50 **{q['p50_ms']} ms**, p99 {q['p99_ms']} ms | p50 < 5 ms |",
            f"| quote, 2 hops on V3 (QuoterV2 quoteExactInput, 0.3 % tiers) | p50 **{v3['p50_ms']} ms**, p99 {v3['p99_ms']} ms | p50 < 5 ms |",
            f"| best quote across V2 + all V3 tiers (DexRouter: routes found, every candidate quoted) | p50 {routed['p50_ms']} ms, p99 {routed['p99_ms']} ms | |",
            f"| swaps one after the other (route, estimate, send, receipt, fill) | {seq['per_s']}/s ({seq['filled']}/{seq['swaps']} filled) | |",
            f"| sustained swaps, pipelined (keystore wallet, NonceManager, explicit gas) | **{pipe['per_s']}/s** ({pipe['succeeded']}/{pipe['swaps']} mined ok) | ≥ 200/s |",
            f"| reference: bare web3.py + eth_account ERC-20 transfers, pipelined | {bare['per_s']}/s ({bare['succeeded']}/{bare['transfers']}) | |",
            f"| swaps / bare transfers | {ratio:.2f}x | |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=500)
    parser.add_argument("--swaps", type=int, default=100)
    parser.add_argument("--pipelined", type=int, default=2000)
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        devnet, w3, deployment, wallet = _setup(Path(tmp))
        try:
            dex = _adapter(w3, deployment, wallet)
            usdc, uni = deployment.contracts["USDC"], deployment.contracts["UNI"]
            console.print("quotes ...")
            q = bench_quotes(dex, usdc, uni, args.quotes)
            v3 = _v3_adapter(w3, deployment, wallet)
            v3q = bench_v3_quotes(v3, usdc, uni, args.quotes)
            router = DexRouter({"uniswap_v2": dex, "uniswap_v3": v3})
            routed = bench_router_quotes(router, usdc, uni, max(args.quotes // 10, 10))
            console.print("swaps one after the other ...")
            seq = bench_sequential(dex, usdc, uni, args.swaps)
            # both from the same chain: anvil slows as its chain grows (2,000 more blocks cost
            # the later phase up to 40 %), so the reference's blocks are rolled back first
            snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
            console.print("bare web3.py transfers ...")
            bare = bench_bare_transfers(w3, usdc, args.pipelined)
            w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
            console.print("pipelined swaps ...")
            pipe = bench_pipelined(w3, dex, wallet, usdc, uni, args.pipelined)
        finally:
            wallet.disconnect()
            devnet.down()
    markdown = report(q, seq, pipe, bare, v3q, routed)
    console.print(markdown)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "dex.json").write_text(
        json.dumps(
            {
                "machine": machine_info(),
                "quotes": q,
                "v3_quotes": v3q,
                "router_quotes": routed,
                "sequential": seq,
                "pipelined": pipe,
                "bare": bare,
            },
            indent=2,
        )
    )
    replace_in_readme(REPO / "README.md", MARKER, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
