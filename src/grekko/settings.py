"""Typed, frozen settings: defaults < `grekko.toml` in the data dir < GREKKO_* variables.

Unknown keys are errors rather than silently ignored, because a misspelt risk limit that falls back
to its default is the kind of mistake that costs money. Every error names the key, where it came
from (the file or the variable) and the valid keys of its section.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError
from pydantic_settings.sources import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from grekko.core.errors import ConfigError

ENV_PREFIX = "GREKKO_"
ENV_DELIMITER = "__"
TOML_NAME = "grekko.toml"
DATA_DIR_ENV = "GREKKO_DATA_DIR"
# GREKKO_ variables that other parts of Grekko read and that are therefore not settings keys.
# secrets and paths read directly by their users, never part of Settings
NON_SETTINGS_ENV = frozenset(
    {
        DATA_DIR_ENV,
        "GREKKO_SHARED_DIR",
        "GREKKO_MASTER_KEY",
        "GREKKO_VAULT_PASSPHRASE",
        "GREKKO_JWT_SECRET",
        "GREKKO_PURE_PYTHON",
        "GREKKO_CHAIN_DIR",  # the devnet's npm project (grekko.adapters.devnet.paths)
    }
)
REDACTED = "***"


def _exact_decimal(value: Any) -> Any:
    """A float reaches Decimal through its shortest repr (0.1 -> Decimal('0.1'))."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(allow_inf_nan=False)]
Fraction = Annotated[ExactDecimal, Field(gt=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskSettings(_Section):
    """Pre-trade limits and circuit breakers; fractions are of the portfolio value (0.05 = 5 %)."""

    max_order_notional: Annotated[ExactDecimal, Field(gt=0)] = Decimal(1_000_000)
    max_position_qty: Annotated[ExactDecimal, Field(gt=0)] | None = None
    price_band_pct: Fraction = Decimal("0.10")
    max_orders_per_second: Annotated[int, Field(gt=0)] = 50
    strategy_budget_pct: Fraction = Decimal("1.0")
    daily_loss_pct: Fraction = Decimal("0.05")
    max_drawdown_pct: Fraction = Decimal("0.20")
    allowed_instruments: tuple[str, ...] = ()  # empty: every instrument is allowed


class PaperSettings(_Section):
    """Simulated matching: how far fills drift from the book and how long they take."""

    fee: Annotated[ExactDecimal, Field(ge=0, le=1)] = Decimal("0.001")  # maker and taker fee rate
    slippage_bps: Annotated[ExactDecimal, Field(ge=0)] = Decimal(0)
    volume_participation: Fraction | None = None  # max fraction of a bar's volume per fill
    latency_ms: Annotated[int, Field(ge=0)] = 0
    starting_cash: Annotated[ExactDecimal, Field(ge=0)] = Decimal(100_000)
    cash_currency: Annotated[str, Field(min_length=1)] = "USDT"


class ReplaySettings(_Section):
    """Replay of recorded market data in paper mode."""

    speed: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 20.0  # bars per wall second
    files: tuple[Path, ...] = ()  # empty: the bundled data slice
    strategy: Annotated[str, Field(min_length=1)] = "sma_cross"
    params: dict[str, str] = Field(default_factory=lambda: {"fast": "10", "slow": "30"})
    quantity: Annotated[ExactDecimal, Field(gt=0)] = Decimal("0.01")

    @field_validator("params", mode="before")
    @classmethod
    def _params_as_text(cls, value: Any) -> Any:
        """Parameters are text so each strategy parses its own; toml numbers are welcome."""
        if isinstance(value, Mapping):
            return {k: v if isinstance(v, str) else _scalar_text(v) for k, v in value.items()}
        return value


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return str(_exact_decimal(value))
    return value


class IngestSettings(_Section):
    """The market data pipeline: validation thresholds, indicator periods, live feeds."""

    spike_mads: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 12.0
    spike_min_move: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.03
    spike_window: Annotated[int, Field(ge=8, le=10_000)] = 64
    stale_after_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 60.0  # live feeds; 0 = off
    max_future_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 5.0  # live feeds; 0 = off
    bar_interval_s: Annotated[int, Field(gt=0, le=86_400)] = 60  # bars built from trade ticks
    sma: Annotated[int, Field(gt=0)] = 20
    ema: Annotated[int, Field(gt=0)] = 20
    rsi: Annotated[int, Field(gt=0)] = 14
    bollinger: Annotated[int, Field(gt=0)] = 20
    atr: Annotated[int, Field(gt=0)] = 14
    poll_interval_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0
    news_feeds: tuple[Annotated[str, Field(pattern=r"^https?://")], ...] = ()
    news_poll_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 300.0


class ApiSettings(_Section):
    """The gateway: token lifetimes, CORS, limits. Secrets (JWT key, vault key) are never here."""

    cors_origins: tuple[str, ...] = ("http://127.0.0.1:8000", "http://localhost:8000")
    access_token_ttl_s: Annotated[int, Field(ge=30, le=86_400)] = 900
    refresh_token_ttl_s: Annotated[int, Field(ge=60, le=90 * 86_400)] = 30 * 86_400
    rate_limit_user: Annotated[str, Field(min_length=3)] = "1200/minute"
    rate_limit_ip: Annotated[str, Field(min_length=3)] = "2400/minute"
    rate_limit_login: Annotated[str, Field(min_length=3)] = "10/minute"
    rate_limit_storage: Annotated[str, Field(pattern=r"^(memory|redis|rediss)://")] = "memory://"
    max_body_bytes: Annotated[int, Field(ge=1024, le=100_000_000)] = 1_000_000
    # the host:port users sign in to; unset, the address Grekko serves on (host:port)
    siwe_domain: Annotated[str | None, Field(min_length=1)] = None
    siwe_chain_id: Annotated[int, Field(ge=1)] = 31337
    ws_queue_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    ws_heartbeat_s: Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)] = 15.0
    walletconnect_relay_url: str = "wss://relay.walletconnect.org"
    walletconnect_project_id: str | None = None


class VaultSettings(_Section):
    """Where secrets live: the local AES-GCM store (key from GREKKO_MASTER_KEY or a passphrase
    through scrypt) or HashiCorp Vault (token from VAULT_TOKEN)."""

    backend: Literal["local", "hashicorp"] = "local"
    hashicorp_url: str | None = None
    hashicorp_mount: Annotated[str, Field(min_length=1)] = "secret"
    hashicorp_path: Annotated[str, Field(min_length=1)] = "grekko"


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Mode = Literal["backtest", "paper", "live"]


class AgentSettings(_Section):
    """The agent desk of the paper/live session (`grekko up`)."""

    enabled: tuple[Annotated[str, Field(min_length=1)], ...] = (
        "spot",
        "gordo",
        "gekko",
    )  # plugin names
    vote_timeout_ms: Annotated[int, Field(ge=1, le=60_000)] = 500
    confirmation_ttl_s: Annotated[int, Field(ge=5, le=86_400)] = 120


class ChainSettings(_Section):
    """The on-chain side of `grekko up`. By default a local anvil with the real Uniswap V2/V3 and
    Aave V3 contracts, pools seeded at the replay's prices and kept there by a market mirror.
    `rpc_url` trades on a node that runs elsewhere (a fork, a testnet, mainnet) with the
    contract and token addresses given here instead; `fork_url` starts the local anvil as a fork.
    """

    enabled: bool = True
    rpc_url: Annotated[str, Field(pattern=r"^(https?|wss?)://")] | None = None
    fork_url: Annotated[str, Field(pattern=r"^(https?|wss?)://")] | None = None
    fork_block: Annotated[int, Field(ge=0)] | None = None
    contracts: dict[str, Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]] = Field(
        default_factory=dict
    )  # with rpc_url/fork_url: WETH9, UniswapV2Router02, UniswapV2Factory, SwapRouter, ...
    tokens: dict[str, Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]] = Field(
        default_factory=dict
    )  # with rpc_url/fork_url: symbol -> ERC-20 address (USDC, WBTC, ...)
    slippage_bps: Annotated[int, Field(ge=0, le=1000)] = 50
    pool_depth_usd: Annotated[ExactDecimal, Field(gt=0)] = Decimal(2_000_000)
    mirror: bool = True  # keep devnet pool prices on the replayed market
    watch_poll_s: Annotated[float, Field(gt=0, le=60, allow_inf_nan=False)] = 1.0

    @model_validator(mode="after")
    def _one_source(self) -> ChainSettings:
        if self.rpc_url and self.fork_url:
            raise ValueError("set rpc_url (a node elsewhere) or fork_url (a local fork), not both")
        return self


class CoinbaseSettings(_Section):
    """Coinbase Advanced Trade (linked at run time with a CDP key through the API; the key lives
    only in the secrets store) and the Coinbase Onramp."""

    rest_url: Annotated[str, Field(pattern=r"^https?://")] | None = None  # None: api.coinbase.com
    onramp_app_id: str = ""  # the CDP project id Onramp links carry
    poll_fills_s: Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)] = 5.0
    poll_market_s: Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)] = 5.0


class ServeSettings(_Section):
    """`grekko serve`: which share of the work this process takes. Execution and agents are
    partitioned by instrument (a stable hash of the instrument id, modulo partitions); instance
    k works partition k % partitions, holding its lease, so one order and one strategy are only
    ever worked by one process and instances past the partition count are standbys. Gateway
    and risk replicas each take their own instance number (a StatefulSet ordinal)."""

    instance: Annotated[int, Field(ge=0, le=1023)] = 0
    partitions: Annotated[int, Field(ge=1, le=1024)] = 1
    # where the gateway finds the agents' API (agents instance 0, which runs Spot, Gordo, Gekko)
    agents_url: Annotated[str, Field(pattern=r"^https?://")] = "http://127.0.0.1:8002"
    # where the other processes reach this one (the agents' API announces it in Redis, so the
    # gateway follows it when partition 0 moves to a standby); unset: this host's name and port
    advertise_url: Annotated[str | None, Field(pattern=r"^https?://")] = None
    # one process per execution/agents partition holds its lease; others wait as hot standbys
    lease_ttl_ms: Annotated[int, Field(ge=500, le=600_000)] = 10_000
    # how often a process catches its orders up with the store, past any notice it missed
    catch_up_ms: Annotated[int, Field(ge=100, le=600_000)] = 2_000


class RedisSettings(_Section):
    """Redis, once Grekko runs as several processes: the Streams bus between them, the hot
    read-model cache. The URL may carry a password, so it is a secret (shown as '***')."""

    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    stream_maxlen: Annotated[int, Field(ge=1_000)] = 100_000  # XADD MAXLEN ~ per stream
    publish_buffer: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000  # then BusBackpressure
    claim_idle_ms: Annotated[int, Field(ge=100, le=3_600_000)] = 30_000  # then taken over
    max_attempts: Annotated[int, Field(ge=1, le=1_000)] = 5  # deliveries before <stream>.dead
    idempotency_ttl_s: Annotated[int, Field(ge=60)] = 86_400  # handled event ids remembered

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value


class Settings(BaseSettings):
    """Everything a Grekko process is configured with; build it with `load_settings`."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        env_parse_none_str="null",
    )

    data_dir: Path
    log_level: LogLevel = "INFO"
    log_json: bool = False
    database_url: Annotated[str, Field(min_length=1)]
    mode: Mode = "paper"
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    risk: RiskSettings = Field(default_factory=RiskSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    vault: VaultSettings = Field(default_factory=VaultSettings)
    agents: AgentSettings = Field(default_factory=AgentSettings)
    chain: ChainSettings = Field(default_factory=ChainSettings)
    coinbase: CoinbaseSettings = Field(default_factory=CoinbaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only explicit values: `load_settings` merges the file and the environment itself."""
        return (init_settings,)

    @model_validator(mode="before")
    @classmethod
    def _default_database_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "database_url" not in data and "data_dir" in data:
            return {**data, "database_url": f"sqlite:///{Path(data['data_dir']) / 'grekko.db'}"}
        return data

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def redacted(self) -> dict[str, Any]:
        """A JSON-ready view for display, with every SecretStr/SecretBytes shown as '***'."""
        return redact(self)


def redact(model: BaseModel) -> dict[str, Any]:
    """Dump a model for display; secrets never leave as their value."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        out[name] = _redact_value(getattr(model, name))
    return out


def _redact_value(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, BaseModel):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return to_jsonable_python(value)


# ---- loading ------------------------------------------------------------------------------------
def load_settings(data_dir: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Resolve and create the data dir (argument, GREKKO_DATA_DIR, ~/.grekko); merge sources."""
    environ = os.environ if env is None else env
    resolved = resolve_data_dir(data_dir, environ)
    toml_path = resolved / TOML_NAME
    from_file = _read_toml(toml_path)
    from_env, env_names = _read_env(environ)
    merged = _deep_merge(from_file, from_env)
    merged["data_dir"] = resolved
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, toml_path, from_file, env_names)) from None


def resolve_data_dir(data_dir: Path | None, env: Mapping[str, str]) -> Path:
    """The directory holding the database, devnet state, keystore and logs; private to the user."""
    chosen = data_dir if data_dir is not None else env.get(DATA_DIR_ENV) or Path.home() / ".grekko"
    path = Path(chosen).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"data dir {path} exists and is not a directory")
    if not path.exists():
        try:
            # exist_ok: two Grekko processes may start at once on a fresh data dir
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.chmod(0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create data dir {path}: {exc.strerror}") from exc
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if "data_dir" in data:
        raise ConfigError(
            f"'data_dir' cannot be set in {path}: the file lives in the data dir; "
            f"use --data-dir or {DATA_DIR_ENV}"
        )
    _check_toml_keys(data, Settings, (), path)
    return data


def _check_toml_keys(
    data: Mapping[str, Any], model: type[BaseModel], at: tuple[str, ...], path: Path
) -> None:
    for key, value in data.items():
        if key not in model.model_fields:
            where = f"[{'.'.join(at)}]" if at else "the top level"
            raise ConfigError(
                f"unknown key {'.'.join((*at, key))!r} in {path}; "
                f"valid keys of {where}: {', '.join(_valid_keys(model, at))}"
            )
        section = _section_model(model, key)
        if section is not None and isinstance(value, Mapping):
            _check_toml_keys(value, section, (*at, key), path)


def _valid_keys(model: type[BaseModel], at: tuple[str, ...]) -> list[str]:
    return [name for name in model.model_fields if at or name != "data_dir"]


def _section_model(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    annotation = model.model_fields[key].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env parsing (nesting, JSON for complex values) over a given mapping."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _read_env(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The GREKKO_* values as nested field names, and which variable supplied each key path."""
    names: dict[tuple[str, ...], str] = {}
    for var in env:
        upper = var.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NON_SETTINGS_ENV:
            continue
        names[_env_key_path(var)] = var
    if not names:
        return {}, {}
    try:
        return _MappingEnvSource(env)(), names
    except SettingsError as exc:
        raise ConfigError(f"cannot parse a GREKKO_ environment variable: {exc}") from exc


def _env_key_path(var: str) -> tuple[str, ...]:
    parts = tuple(var[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER))
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        at = parts[:depth]
        if part not in model.model_fields or (not at and part == "data_dir"):
            where = f"[{'.'.join(at)}]" if at else "the top level"
            raise ConfigError(
                f"unknown setting {var} in the environment; "
                f"valid keys of {where}: {', '.join(_valid_keys(model, at))}"
            )
        section = _section_model(model, part)
        if section is None:
            if depth + 1 < len(parts) and not _is_mapping_field(model, part):
                raise ConfigError(
                    f"unknown setting {var} in the environment: {part!r} has no sub-keys"
                )
            return parts
        model = section
    return parts


def _is_mapping_field(model: type[BaseModel], key: str) -> bool:
    annotation = model.model_fields[key].annotation
    return getattr(annotation, "__origin__", None) is dict


def _deep_merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(low)
    for key, value in high.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _explain(
    exc: ValidationError,
    toml_path: Path,
    from_file: Mapping[str, Any],
    env_names: Mapping[tuple[str, ...], str],
) -> str:
    lines = ["invalid settings:"]
    for error in exc.errors(include_url=False):
        loc = tuple(str(p) for p in error["loc"])
        key = ".".join(loc) or "(settings)"
        origin = _origin(loc, toml_path, from_file, env_names)
        shown = "" if _is_secret(loc) else f" = {_short(error.get('input'))}"
        lines.append(f"  {key}{shown} (from {origin}): {error['msg']}")
    return "\n".join(lines)


def _origin(
    loc: tuple[str, ...],
    toml_path: Path,
    from_file: Mapping[str, Any],
    env_names: Mapping[tuple[str, ...], str],
) -> str:
    for depth in range(len(loc), 0, -1):
        var = env_names.get(loc[:depth])
        if var is not None:
            return f"environment variable {var}"
    node: Any = from_file
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return "defaults"
        node = node[part]
    return str(toml_path)


def _is_secret(loc: tuple[str, ...]) -> bool:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        if any(t in (SecretStr, SecretBytes) for t in (annotation, *get_args(annotation))):
            return True
        model = _section_model(model, part)
    return False


def _short(value: Any) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def iter_env_names() -> Iterator[str]:
    """Every GREKKO_* variable name that maps to one settings key, for docs and `--help`."""
    for name in Settings.model_fields:
        if name == "data_dir":
            continue
        section = _section_model(Settings, name)
        if section is None:
            yield f"{ENV_PREFIX}{name.upper()}"
            continue
        for sub in section.model_fields:
            yield f"{ENV_PREFIX}{name.upper()}{ENV_DELIMITER}{sub.upper()}"
