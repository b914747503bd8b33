"""Wiring the chain into a paper session: the devnet (or a node elsewhere), the keystore wallet that
signs for the platform, the DEX venue over Uniswap V2 + V3, the pools' prices into the data
pipeline, and (on the devnet) the market mirror that keeps pool prices on the replayed market.

Swaps and chain reads block, so they run on worker threads; everything they produce comes back
to the kernel's thread: through the event loop when one runs (`grekko up` serving), else at the
next replayed bar.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import Web3

from grekko.bootstrap.handoff import Handoff
from grekko.core.errors import ConfigError
from grekko.settings import ChainSettings, Settings

log = logging.getLogger("grekko.chain")

VENUE = "uniswap"
# the platform wallet's float on the devnet: enough for gas and a desk's worth of trading
DEVNET_WALLET_ETH = 100 * 10**18
DEVNET_WALLET_USDC = 250_000
# (base, quote, price increment, size increment) of the pairs the DEX venue lists
PAIRS = (
    ("WETH", "USDC", "0.01", "0.0001"),
    ("WBTC", "USDC", "0.01", "0.00001"),
    ("WBTC", "WETH", "0.00001", "0.00001"),
    ("UNI", "WETH", "0.0000001", "0.01"),
)
REPLAY_TOKENS = {"ETH": "WETH", "BTC": "WBTC"}


@dataclass
class ChainRuntime:
    rpc_url: str
    chain_id: int
    wallet: Any  # KeystoreWallet
    venue: Any  # DexVenue
    handoff: Handoff
    tokens: Mapping[str, str]
    mirror: Any = None
    watcher: Any = None
    devnet: Any = None  # the Devnet this session started (stopped on close)
    w3: Any = None
    deployment: Any = None  # ours on the local devnet; None on a fork or a node elsewhere
    wallets: Any = None  # the WalletManager (the keystore wallet registered in it)
    replayed: frozenset[str] = frozenset()  # the replay's assets the mirror follows (BTC, ETH)
    swap_planner: Any = None  # UserSwapPlanner: swaps for browser wallets (None without V2)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def token_specs(self) -> dict[int, list[Any]]:
        """The tokens the DEX venue trades, as the WalletManager reports balances of them."""
        from grekko.engines.wallets import TokenSpec

        seen: dict[str, TokenSpec] = {}
        for market in self.venue.markets.values():
            for token, decimals in (
                (market.base_token, market.base_decimals),
                (market.quote_token, market.quote_decimals),
            ):
                symbol = next(s for s, a in self.tokens.items() if a.lower() == token.lower())
                seen[symbol] = TokenSpec(self.chain_id, symbol, token, decimals)
        return {self.chain_id: [seen[s] for s in sorted(seen)]}

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("closing the chain runtime")


def build_chain(
    kernel: Any, engine: Any, settings: Settings, first_prices: Mapping[str, Decimal]
) -> ChainRuntime | None:
    """The node, contracts, wallet and DEX venue (with its instruments), before the kernel
    recovers: recovery replays DEX fills, which need the instruments. None when disabled."""
    cfg = settings.chain
    if not cfg.enabled:
        return None
    devnet, url = _node(settings.data_dir, cfg)
    handoff = Handoff()
    runtime: ChainRuntime | None = None
    try:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        chain_id = int(w3.eth.chain_id)
        local = devnet is not None and cfg.fork_url is None
        deployment = _deployment(w3, settings.data_dir, cfg, local, first_prices)
        addresses = (
            dict(deployment.contracts)
            if deployment is not None
            else {**cfg.contracts, **cfg.tokens}
        )
        wallets, plugins, plugin = start_wallets(kernel, settings, engine, chain_id, url)
        wallet = plugin.wallet
        if deployment is not None:
            fund_devnet_wallet(w3, deployment, wallet.address)
        venue = _venue(kernel, w3, wallet, addresses, cfg, handoff)
        runtime = ChainRuntime(
            url, chain_id, wallet, venue, handoff, _tokens(addresses), devnet=devnet
        )
        runtime.w3, runtime.deployment = w3, deployment
        runtime.swap_planner = _swap_planner(w3, venue)
        runtime.replayed = frozenset(first_prices)
        if devnet is not None:
            runtime.closers.append(devnet.down)
        runtime.wallets = wallets
        runtime.closers += [lambda: plugins.stop(plugin), handoff.close]
        return runtime
    except BaseException:
        handoff.close()
        if runtime is not None:
            runtime.close()
        elif devnet is not None:
            devnet.down()
        raise


def start_chain(runtime: ChainRuntime, kernel: Any, settings: Settings) -> None:
    """After recovery: book on-chain balances, then start the mirror and the pool watcher."""
    cfg = settings.chain
    sync_balances(kernel, runtime.w3, runtime.wallet.address, runtime.tokens, runtime.venue.markets)
    kernel.bus.subscribe("data.bars.*", runtime.handoff.on_bar)
    if runtime.deployment is not None and cfg.mirror:
        runtime.mirror = _mirror(
            kernel, runtime.w3, runtime.deployment, runtime.handoff, runtime.replayed
        )
    pools = _watched_pools(runtime.w3, runtime.deployment)
    if pools:
        runtime.watcher, stop = _watcher(kernel, runtime.w3, pools, cfg, runtime.handoff)
        runtime.closers.append(stop)


def _node(data_dir: Path, cfg: ChainSettings) -> tuple[Any, str]:
    if cfg.rpc_url:
        return None, cfg.rpc_url
    from grekko.adapters.devnet.devnet import Devnet

    devnet = Devnet(data_dir, fork_url=cfg.fork_url, fork_block=cfg.fork_block)
    return devnet, devnet.up().rpc_url


def _deployment(
    w3: Web3, data_dir: Path, cfg: ChainSettings, local: bool, first_prices: Mapping[str, Decimal]
) -> Any:
    """On the local devnet: our deployment, pools seeded at the replay's first prices. On a fork
    or a node elsewhere the configured addresses stand instead (None here)."""
    if not local:
        missing = {"WETH9", "USDC"} - {*cfg.contracts, *cfg.tokens}
        if missing:
            raise ConfigError(
                f"chain.rpc_url / chain.fork_url need chain.contracts and chain.tokens addresses; "
                f"missing {sorted(missing)}"
            )
        return None
    from grekko.adapters.devnet.deploy import deploy_all
    from grekko.adapters.devnet.market_pools import seed_market_pools

    deployment = deploy_all(w3, data_dir)
    seed_market_pools(w3, deployment, first_prices, depth_usd=cfg.pool_depth_usd)
    return deployment


def start_wallets(kernel: Any, settings: Settings, engine: Any, chain_id: int, url: str) -> Any:
    """The WalletManager with the platform's keystore wallet, started as a grekko.wallets plugin
    (connected and relaying its events onto the bus). Returns (manager, plugin manager, plugin)."""
    from types import MappingProxyType

    from grekko.bootstrap.api import open_vault
    from grekko.engines.wallets import WalletManager
    from grekko.plugins import PluginContext, PluginManager
    from grekko.ports.wallet import ChainInfo

    wallets = WalletManager(kernel.bus, kernel.clock)
    name = "devnet" if chain_id == 31337 else f"chain {chain_id}"
    extras = {
        "wallets": wallets,
        "secrets": open_vault(settings, engine),
        "data_dir": settings.data_dir,
        "chains": [ChainInfo(chain_id, name, url)],
    }
    plugins = PluginManager()
    ctx = PluginContext(kernel.bus, kernel.clock, settings, MappingProxyType(extras))
    plugin = plugins.start("grekko.wallets", "keystore", ctx)
    return wallets, plugins, plugin


def fund_devnet_wallet(w3: Web3, deployment: Any, address: str) -> None:
    """A new wallet on the devnet gets ether for gas and USDC to trade with, once."""
    from grekko.adapters.devnet.deploy import Deployer, contract_at, dev_account

    if int(w3.eth.get_balance(Web3.to_checksum_address(address))) > 0:
        return
    w3.provider.make_request("anvil_setBalance", [address, hex(DEVNET_WALLET_ETH)])  # type: ignore[arg-type]
    usdc = contract_at(w3, "USDC", deployment.contracts["USDC"])
    Deployer(w3, dev_account()).call(usdc, "transfer", address, DEVNET_WALLET_USDC * 10**6)


def _tokens(addresses: Mapping[str, str]) -> dict[str, str]:
    tokens = {sym: addresses[sym] for sym in ("USDC", "WBTC", "UNI") if sym in addresses}
    if "WETH9" in addresses:
        tokens["WETH"] = addresses["WETH9"]
    return tokens


def _venue(
    kernel: Any,
    w3: Web3,
    wallet: Any,
    addresses: Mapping[str, str],
    cfg: ChainSettings,
    handoff: Handoff,
) -> Any:
    from grekko.adapters.evm.routing import DexRouter
    from grekko.adapters.evm.venue import DexMarket, DexVenue, DexVenueConfig
    from grekko.domain.instruments import spot

    protocols = _protocols(w3, wallet, addresses)
    if not protocols:
        raise ConfigError("no DEX to trade: chain.contracts names neither Uniswap V2 nor V3")
    router = DexRouter(protocols)
    tokens = _tokens(addresses)
    markets: dict[str, Any] = {}
    for base, quote, tick, lot in PAIRS:
        if base not in tokens or quote not in tokens:
            continue
        instrument = spot(
            f"{base}/{quote}", venue=VENUE, price_increment=tick, size_increment=lot, fee="0"
        )
        kernel.add_instrument(instrument)
        markets[instrument.id] = DexMarket(
            tokens[base], tokens[quote], _decimals(w3, tokens[base]), _decimals(w3, tokens[quote])
        )
    config = DexVenueConfig(name=VENUE, slippage_bps=cfg.slippage_bps, weth=tokens.get("WETH"))
    venue = DexVenue(
        config,
        router,
        markets,
        kernel.cache.instrument,
        kernel.clock,
        worker=handoff.worker,
        hand_back=handoff.hand_back,
    )
    kernel.add_venue(venue)
    return venue


V2_CONTRACTS = ("UniswapV2Router02", "UniswapV2Factory", "WETH9")
V3_CONTRACTS = ("UniswapV3Factory", "SwapRouter", "QuoterV2", "WETH9")


def uniswap_v2_config(addresses: Mapping[str, str]) -> Any:
    """The V2 adapter's config: addresses as deployed or configured, ABIs from the npm artifacts."""
    from grekko.adapters.devnet.artifacts import load_artifact
    from grekko.adapters.evm.uniswap_v2 import UniswapV2Config

    return UniswapV2Config(
        router=addresses["UniswapV2Router02"],
        factory=addresses["UniswapV2Factory"],
        weth=addresses["WETH9"],
        router_abi=load_artifact("UniswapV2Router02").abi,
        pair_abi=load_artifact("UniswapV2Pair").abi,
        erc20_abi=load_artifact("GrekkoToken").abi,
    )


def uniswap_v3_config(addresses: Mapping[str, str]) -> Any:
    """The V3 adapter's config, like `uniswap_v2_config`."""
    from grekko.adapters.devnet.artifacts import load_artifact
    from grekko.adapters.evm.uniswap_v3 import UniswapV3Config

    return UniswapV3Config(
        factory=addresses["UniswapV3Factory"],
        swap_router=addresses["SwapRouter"],
        quoter=addresses["QuoterV2"],
        weth=addresses["WETH9"],
        factory_abi=load_artifact("UniswapV3Factory").abi,
        swap_router_abi=load_artifact("SwapRouter").abi,
        quoter_abi=load_artifact("QuoterV2").abi,
        pool_abi=load_artifact("UniswapV3Pool").abi,
        erc20_abi=load_artifact("GrekkoToken").abi,
    )


def _protocols(w3: Web3, wallet: Any, addresses: Mapping[str, str]) -> dict[str, Any]:
    """The protocols whose contracts are known, sharing one nonce manager for the wallet."""
    from grekko.adapters.evm.nonces import NonceManager
    from grekko.adapters.evm.uniswap_v2 import UniswapV2
    from grekko.adapters.evm.uniswap_v3 import UniswapV3

    nonces = NonceManager(
        lambda _c, a: int(w3.eth.get_transaction_count(Web3.to_checksum_address(a), "pending"))
    )
    protocols: dict[str, Any] = {}
    if set(V2_CONTRACTS) <= addresses.keys():
        protocols["uniswap_v2"] = UniswapV2(w3, uniswap_v2_config(addresses), wallet, nonces)
    if set(V3_CONTRACTS) <= addresses.keys():
        protocols["uniswap_v3"] = UniswapV3(w3, uniswap_v3_config(addresses), wallet, nonces)
    return protocols


def _swap_planner(w3: Web3, venue: Any) -> Any:
    """Swaps a browser wallet signs itself (MetaMask), over the venue's Uniswap V2."""
    from grekko.adapters.evm.user_swaps import UserSwapPlanner

    v2 = venue.router.protocols.get("uniswap_v2")
    return None if v2 is None else UserSwapPlanner(w3, v2)


def _decimals(w3: Web3, token: str) -> int:
    from grekko.adapters.devnet.artifacts import load_artifact

    erc20 = w3.eth.contract(
        address=Web3.to_checksum_address(token), abi=load_artifact("GrekkoToken").abi
    )
    return int(erc20.functions.decimals().call())


def sync_balances(
    kernel: Any, w3: Web3, address: str, tokens: Mapping[str, str], markets: Mapping[str, Any]
) -> dict[str, Decimal]:
    """Book the wallet's on-chain balances into the account: each token the venue trades, and
    ether (for gas) as ETH. The difference is recorded as funding, so a restart books only
    what changed on chain meanwhile. Returns the adjustments."""
    from grekko.adapters.devnet.artifacts import load_artifact

    abi = load_artifact("GrekkoToken").abi
    me = Web3.to_checksum_address(address)
    traded = {m.base_token.lower() for m in markets.values()} | {
        m.quote_token.lower() for m in markets.values()
    }
    onchain: dict[str, Decimal] = {"ETH": Decimal(int(w3.eth.get_balance(me))).scaleb(-18)}
    for symbol, token in tokens.items():
        if token.lower() not in traded:
            continue
        erc20 = w3.eth.contract(address=Web3.to_checksum_address(token), abi=abi)
        units = int(erc20.functions.balanceOf(me).call())
        onchain[symbol] = Decimal(units).scaleb(-int(erc20.functions.decimals().call()))
    account = kernel.portfolio.account
    changes: dict[str, Decimal] = {}
    for symbol, amount in onchain.items():
        delta = amount - account.total(symbol)
        if delta:
            kernel.fund(symbol, delta)
            changes[symbol] = delta
    return changes


def _replay_prices(kernel: Any) -> dict[str, Decimal]:
    """Dollar prices of the replayed assets from the last bars the kernel saw."""
    out: dict[str, Decimal] = {}
    for iid, bar in kernel.cache.last_bar.items():
        symbol, _, venue = iid.partition("@")
        base, _, quote = symbol.partition("/")
        if venue != VENUE and base in REPLAY_TOKENS and quote in {"USDT", "USD", "USDC"}:
            out[base] = Decimal(repr(bar.close))
    return out


def _mirror(
    kernel: Any, w3: Web3, deployment: Any, handoff: Handoff, assets: frozenset[str]
) -> Any:
    """On each replayed bar, move the devnet pools to the bar's prices (one alignment at a time;
    bars that arrive while one runs are folded into the next)."""
    from grekko.adapters.devnet.mirror import MarketMirror

    mirror = MarketMirror(w3, deployment)
    mirror.prepare()
    busy = threading.Event()

    def align(prices: dict[str, Decimal]) -> None:
        try:
            mirror.align(prices)
        finally:
            busy.clear()

    def on_bar(bar: Any) -> None:
        if bar.instrument_id.endswith("@" + VENUE) or busy.is_set():
            return
        prices = _replay_prices(kernel)
        if prices.keys() >= assets:  # every replayed asset priced: cross pools need both
            busy.set()
            handoff.worker(lambda: align(prices))

    kernel.bus.subscribe("data.bars.*", on_bar)
    return mirror


def _watcher(
    kernel: Any, w3: Web3, pools: list[Any], cfg: ChainSettings, handoff: Handoff
) -> tuple[Any, Callable[[], None]]:
    """Swaps in the venue's pools become trade ticks of its instruments (and quotes per block),
    polled on a thread; the returned callable stops it. Records pass the pipeline's normalizer
    and validator (schema, order, duplicates, spikes); rejects go to `watcher.quarantine`. No
    bars are built from them: blocks carry wall time, the replay's bars and breakers data time."""
    from grekko.adapters.evm.chain_source import ChainWatcher
    from grekko.domain.raw import RawQuote, RawTrade
    from grekko.engines.ingest.normalizer import Normalizer
    from grekko.engines.ingest.quarantine import Quarantine, Rejected
    from grekko.engines.ingest.validator import Validator

    # from the next block on: every swap after start-up reaches the pipeline, none before twice
    watcher = ChainWatcher(w3, pools, cfg.watch_poll_s, start_block=int(w3.eth.block_number) + 1)
    normalizer, validator, quarantine = Normalizer(), Validator(), Quarantine(capacity=1000)
    watcher.quarantine = quarantine  # type: ignore[attr-defined]
    stop = threading.Event()

    def publish(records: list[Any]) -> None:
        for raw in records:
            try:
                if isinstance(raw, RawTrade):
                    tick = normalizer.trade(raw)
                    validator.trade(tick)
                    kernel.data.process_trade(tick)
                elif isinstance(raw, RawQuote):
                    quote = normalizer.quote(raw)
                    validator.quote(quote)
                    kernel.data.process_quote(quote)
            except Rejected as error:
                quarantine.add(watcher.name, error, raw, kernel.clock.timestamp_ns())

    def poll() -> None:
        while not stop.wait(cfg.watch_poll_s):
            try:
                records = watcher.poll_once()
            except Exception:
                log.warning("chain watcher poll failed", exc_info=True)
                continue
            if records:
                handoff.hand_back(functools.partial(publish, records))

    thread = threading.Thread(target=poll, name="chain-watcher", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=5)

    return watcher, halt


def _watched_pools(w3: Web3, deployment: Any) -> list[Any]:
    if deployment is None:
        return []
    from grekko.adapters.devnet.market_pools import find_market_pools
    from grekko.adapters.evm.chain_source import WatchedPool

    return [
        WatchedPool(
            p.address,
            p.kind,
            p.symbol,
            p.base_is_token0,
            p.base_decimals,
            p.quote_decimals,
            venue=VENUE,
        )
        for p in find_market_pools(w3, deployment)
    ]
