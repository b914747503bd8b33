"""Settings: defaults < grekko.toml < GREKKO_* variables, exact Decimals, and loud unknown keys."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from grekko.core.errors import ConfigError
from grekko.settings import Settings, iter_env_names, load_settings, redact


def write_toml(data_dir: Path, text: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "grekko.toml"
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})

    assert settings.data_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/grekko.db"
    assert (settings.mode, settings.host, settings.port) == ("paper", "127.0.0.1", 8000)
    assert (settings.log_level, settings.log_json) == ("INFO", False)
    assert settings.risk.max_order_notional == Decimal(1_000_000)
    assert settings.risk.max_position_qty is None
    assert settings.risk.price_band_pct == Decimal("0.10")
    assert settings.risk.max_orders_per_second == 50
    assert settings.risk.strategy_budget_pct == Decimal(1)
    assert (settings.risk.daily_loss_pct, settings.risk.max_drawdown_pct) == (
        Decimal("0.05"),
        Decimal("0.20"),
    )
    assert settings.risk.allowed_instruments == ()
    assert settings.paper.slippage_bps == 0
    assert settings.paper.volume_participation is None
    assert (settings.paper.latency_ms, settings.paper.cash_currency) == (0, "USDT")
    assert settings.paper.starting_cash == Decimal(100_000)
    assert settings.replay.speed == 20.0
    assert settings.replay.files == ()
    assert (settings.replay.strategy, settings.replay.params) == (
        "sma_cross",
        {"fast": "10", "slow": "30"},
    )
    assert settings.replay.quantity == Decimal("0.01")


def test_toml_overrides_defaults(tmp_path: Path) -> None:
    write_toml(
        tmp_path,
        """
        mode = "backtest"
        port = 9001
        log_level = "debug"
        [risk]
        max_order_notional = "2500.50"
        allowed_instruments = ["BTC/USDT", "ETH/USDT"]
        [paper]
        volume_participation = 0.25
        [replay]
        files = ["/data/a.csv"]
        params = { fast = 5, slow = 50 }
        """,
    )
    settings = load_settings(tmp_path, env={})

    assert (settings.mode, settings.port, settings.log_level) == ("backtest", 9001, "DEBUG")
    assert settings.risk.max_order_notional == Decimal("2500.50")
    assert settings.risk.allowed_instruments == ("BTC/USDT", "ETH/USDT")
    assert settings.paper.volume_participation == Decimal("0.25")
    assert settings.replay.files == (Path("/data/a.csv"),)
    assert settings.replay.params == {"fast": "5", "slow": "50"}
    assert settings.risk.daily_loss_pct == Decimal("0.05")  # untouched keys keep their default


def test_environment_beats_toml_beats_defaults(tmp_path: Path) -> None:
    write_toml(
        tmp_path,
        "port = 9001\nhost = '0.0.0.0'\n[risk]\nmax_order_notional = 2000\ndaily_loss_pct = 0.02\n",
    )
    env = {
        "GREKKO_RISK__MAX_ORDER_NOTIONAL": "5000",
        "GREKKO_PORT": "9002",
        "GREKKO_LOG_JSON": "true",
        "GREKKO_PAPER__LATENCY_MS": "15",
        "GREKKO_RISK__ALLOWED_INSTRUMENTS": '["SOL/USDT"]',
        "GREKKO_REPLAY__PARAMS__FAST": "3",
    }
    settings = load_settings(tmp_path, env=env)

    assert settings.risk.max_order_notional == Decimal(5000)  # env over toml
    assert settings.port == 9002  # env over toml
    assert settings.host == "0.0.0.0"  # toml over default  # noqa: S104
    assert settings.risk.daily_loss_pct == Decimal("0.02")  # toml, same section as an env override
    assert settings.log_json is True
    assert settings.paper.latency_ms == 15
    assert settings.risk.allowed_instruments == ("SOL/USDT",)
    assert settings.replay.params == {"fast": "3"}
    assert settings.risk.max_drawdown_pct == Decimal("0.20")  # default


def test_explicit_database_url_wins(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    settings = load_settings(tmp_path, env={"GREKKO_DATABASE_URL": url})
    assert settings.database_url == url


def test_unknown_toml_key_names_key_file_and_valid_keys(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[risk]\nmax_notional = 5\n")

    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})

    message = str(err.value)
    assert "'risk.max_notional'" in message
    assert str(path) in message
    assert "valid keys of [risk]: max_order_notional, max_position_qty, price_band_pct" in message


def test_unknown_top_level_and_section_in_toml(tmp_path: Path) -> None:
    write_toml(tmp_path, "[riks]\nx = 1\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'riks' .* valid keys of the top level: log_level, .*risk"
    ):
        load_settings(tmp_path, env={})

    write_toml(tmp_path, "data_dir = '/elsewhere'\n")
    with pytest.raises(ConfigError, match="'data_dir' cannot be set in"):
        load_settings(tmp_path, env={})


def test_unknown_environment_variable(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown setting GREKKO_RISK__MAX_NOTIONAL in the environment"
    ) as err:
        load_settings(tmp_path, env={"GREKKO_RISK__MAX_NOTIONAL": "5"})
    assert "valid keys of [risk]: max_order_notional" in str(err.value)

    with pytest.raises(
        ConfigError, match=r"unknown setting GREKKO_PROT .* valid keys of the top level"
    ):
        load_settings(tmp_path, env={"GREKKO_PROT": "1"})
    with pytest.raises(ConfigError, match="'port' has no sub-keys"):
        load_settings(tmp_path, env={"GREKKO_PORT__X": "1"})


def test_non_settings_grekko_variables_and_others_are_accepted(tmp_path: Path) -> None:
    env = {
        "GREKKO_DATA_DIR": str(tmp_path / "ignored"),
        "GREKKO_SHARED_DIR": "/somewhere",
        "HOME": "/root",
        "PATH": "/bin",
    }
    settings = load_settings(tmp_path, env=env)
    assert settings.data_dir == tmp_path.resolve()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"GREKKO_RISK__MAX_ORDER_NOTIONAL": "lots"},
            "risk.max_order_notional = 'lots' (from environment",
        ),
        ({"GREKKO_PORT": "70000"}, "port = '70000' (from environment variable GREKKO_PORT)"),
        ({"GREKKO_MODE": "yolo"}, "mode = 'yolo'"),
        ({"GREKKO_RISK__DAILY_LOSS_PCT": "1.5"}, "risk.daily_loss_pct"),
        ({"GREKKO_PAPER__LATENCY_MS": "-1"}, "paper.latency_ms"),
        ({"GREKKO_RISK__MAX_ORDER_NOTIONAL": "NaN"}, "risk.max_order_notional"),
    ],
)
def test_bad_env_value_names_key_path_and_problem(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match="invalid settings") as err:
        load_settings(tmp_path, env=env)
    assert expected in str(err.value)


def test_bad_toml_value_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[replay]\nspeed = -2.5\nquantity = 'a lot'\n")

    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})

    message = str(err.value)
    assert f"replay.speed = -2.5 (from {path}): Input should be greater than 0" in message
    assert f"replay.quantity = 'a lot' (from {path}): Input should be a valid decimal" in message


def test_bad_json_in_env_and_broken_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot parse a GREKKO_ environment variable"):
        load_settings(tmp_path, env={"GREKKO_RISK__ALLOWED_INSTRUMENTS": "[not json"})

    path = write_toml(tmp_path, "[risk\n")
    with pytest.raises(ConfigError, match=f"{path} is not valid TOML"):
        load_settings(tmp_path, env={})


def test_decimals_are_exact_from_toml_floats_strings_and_env(tmp_path: Path) -> None:
    write_toml(
        tmp_path,
        "[risk]\nprice_band_pct = 0.1\ndaily_loss_pct = '0.03'\n"
        "max_position_qty = 0.30000000000000004\n"
        "[paper]\nslippage_bps = 2.675\n[replay]\nquantity = 1e-8\n",
    )
    settings = load_settings(
        tmp_path, env={"GREKKO_PAPER__STARTING_CASH": "12345.678901234567890123"}
    )

    assert str(settings.risk.price_band_pct) == "0.1"
    assert str(settings.risk.daily_loss_pct) == "0.03"
    assert settings.risk.max_position_qty == Decimal("0.30000000000000004")
    assert settings.paper.slippage_bps == Decimal("2.675")
    assert settings.replay.quantity == Decimal("1e-8")
    assert settings.paper.starting_cash == Decimal("12345.678901234567890123")
    assert all(
        isinstance(v, Decimal)
        for v in (
            settings.risk.price_band_pct,
            settings.paper.slippage_bps,
            settings.replay.quantity,
        )
    )


def test_python_floats_reach_decimal_through_their_repr(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, risk={"price_band_pct": 0.1, "max_order_notional": 1.1})
    assert settings.risk.price_band_pct == Decimal("0.1")
    assert settings.risk.max_order_notional == Decimal("1.1")


def test_null_clears_an_optional_value_from_env(tmp_path: Path) -> None:
    write_toml(tmp_path, "[risk]\nmax_position_qty = 3\n")
    settings = load_settings(tmp_path, env={"GREKKO_RISK__MAX_POSITION_QTY": "null"})
    assert settings.risk.max_position_qty is None


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})

    with pytest.raises(ValidationError, match="frozen"):
        settings.port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        settings.risk.max_order_notional = Decimal(1)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings(data_dir=tmp_path, surprise=1)  # type: ignore[call-arg]


def test_data_dir_is_created_private(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "grekko-home"

    settings = load_settings(target, env={})

    assert target.is_dir()
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert settings.data_dir == target.resolve()


def test_data_dir_from_env_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = tmp_path / "from-env"
    assert load_settings(env={"GREKKO_DATA_DIR": str(from_env)}).data_dir == from_env.resolve()

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert load_settings(env={}).data_dir == (tmp_path / "home" / ".grekko").resolve()
    assert stat.S_IMODE((tmp_path / "home" / ".grekko").stat().st_mode) == 0o700


def test_reads_os_environ_when_no_mapping_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREKKO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GREKKO_RISK__MAX_ORDERS_PER_SECOND", "7")
    settings = load_settings()
    assert (settings.data_dir, settings.risk.max_orders_per_second) == (tmp_path.resolve(), 7)


def test_data_dir_created_by_a_sibling_process_meanwhile_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes starting at once both see no dir; the slower mkdir must not fail."""
    target = tmp_path / "raced"
    target.mkdir(mode=0o700)
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self == target else real_exists(self))

    assert load_settings(target, env={}).data_dir == target.resolve()


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_settings(not_a_dir, env={})


def test_redacted_is_json_ready_and_hides_secrets(tmp_path: Path) -> None:
    shown = load_settings(tmp_path, env={}).redacted()

    assert shown["risk"]["max_order_notional"] == "1000000"
    assert shown["data_dir"] == str(tmp_path.resolve())
    assert shown["replay"]["files"] == []

    class WithSecret(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        api_key: SecretStr
        nested: dict[str, SecretStr]
        label: str

    hidden = redact(WithSecret(api_key="sk-live-123", nested={"k": "v-secret"}, label="coinbase"))
    assert hidden == {"api_key": "***", "nested": {"k": "***"}, "label": "coinbase"}


def test_every_listed_env_name_is_accepted(tmp_path: Path) -> None:
    names = list(iter_env_names())
    assert "GREKKO_RISK__MAX_ORDER_NOTIONAL" in names
    assert "GREKKO_DATA_DIR" not in names
    assert "GREKKO_RISK" not in names
    samples = {
        "GREKKO_LOG_LEVEL": "warning",
        "GREKKO_REPLAY__SPEED": "100",
        "GREKKO_PAPER__CASH_CURRENCY": "USD",
    }
    assert set(samples) <= set(names)
    settings = load_settings(tmp_path, env=samples)
    assert (settings.log_level, settings.replay.speed, settings.paper.cash_currency) == (
        "WARNING",
        100.0,
        "USD",
    )
