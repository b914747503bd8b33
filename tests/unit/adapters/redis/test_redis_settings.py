"""The [redis] settings section: defaults, the environment, and keys or values it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from grekko.core.errors import ConfigError
from grekko.settings import load_settings


def test_defaults_point_at_a_local_redis(tmp_path: Path) -> None:
    redis = load_settings(tmp_path, env={}).redis
    assert redis.url.get_secret_value() == "redis://127.0.0.1:6379/0"
    assert (redis.stream_maxlen, redis.publish_buffer, redis.claim_idle_ms) == (
        100_000,
        10_000,
        30_000,
    )
    assert (redis.max_attempts, redis.idempotency_ttl_s) == (5, 86_400)


def test_the_environment_sets_it_and_the_password_never_shows(tmp_path: Path) -> None:
    env = {
        "GREKKO_REDIS__URL": "redis://:hunter2-secret@10.0.0.5:6380/2",
        "GREKKO_REDIS__CLAIM_IDLE_MS": "5000",
        "GREKKO_REDIS__MAX_ATTEMPTS": "8",
    }
    settings = load_settings(tmp_path, env=env)
    assert settings.redis.url.get_secret_value() == "redis://:hunter2-secret@10.0.0.5:6380/2"
    assert (settings.redis.claim_idle_ms, settings.redis.max_attempts) == (5000, 8)
    assert settings.redacted()["redis"]["url"] == "***"
    assert "hunter2" not in repr(settings)


def test_unknown_keys_and_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GREKKO_REDIS__MAXLEN"):
        load_settings(tmp_path, env={"GREKKO_REDIS__MAXLEN": "5"})
    with pytest.raises(ConfigError, match=r"redis\.publish_buffer"):
        load_settings(tmp_path, env={"GREKKO_REDIS__PUBLISH_BUFFER": "0"})
    with pytest.raises(ConfigError, match=r"redis\.url") as refused:
        load_settings(tmp_path, env={"GREKKO_REDIS__URL": "http://user:pw-secret@host"})
    assert "pw-secret" not in str(refused.value)
    (tmp_path / "grekko.toml").write_text("[redis]\nclaim_idle_ms = 50\n")
    with pytest.raises(ConfigError, match=r"redis\.claim_idle_ms"):
        load_settings(tmp_path, env={})
