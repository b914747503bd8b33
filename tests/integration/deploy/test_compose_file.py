"""deploy/docker-compose.yml: PostgreSQL, Redis and the five services from one image, each
healthy only when ready, started after healthy datastores, with secrets from deploy/.env only.

Docker is not on the test machine, so the file is checked, not run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    DEPLOY,
    INSTANCE_ENV,
    PARTITIONED,
    PARTITIONS_ENV,
    PORTS,
    REPO,
    SECRET_PLACEHOLDER,
    STATEFUL,
    compose,
    serve_args,
)

from grekko.bootstrap.services import slot
from grekko.settings import load_settings

COMPOSE = compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SECRET_NAME = re.compile("PASSWORD|SECRET|KEY|TOKEN")
INTERPOLATED = re.compile(r"\$\{(\w+):\?[^}]+\}")


def test_the_stack_is_the_datastores_and_every_service() -> None:
    assert set(SERVICES) == {"postgres", "redis", *PORTS}
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):
        assert SERVICES[name]["healthcheck"]["test"][0] == "CMD"


def test_the_datastores_keep_their_data_in_named_volumes() -> None:
    named = set(COMPOSE["volumes"])
    used = {v.split(":")[0] for name in ("postgres", "redis") for v in SERVICES[name]["volumes"]}
    assert used == named == {"pgdata", "redisdata"}


@pytest.mark.parametrize("service", PORTS)
def test_each_service_runs_from_the_one_image(service: str) -> None:
    spec = SERVICES[service]
    assert spec["image"] == SERVICES["gateway"]["image"]
    assert spec["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (DEPLOY / spec["build"]["context"]).resolve() == REPO
    assert (REPO / spec["build"]["dockerfile"]).is_file()
    assert spec["command"] == serve_args(service)


@pytest.mark.parametrize("service", PORTS)
def test_each_service_is_healthy_when_ready_and_starts_after_the_datastores(service: str) -> None:
    spec = SERVICES[service]
    check = spec["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]  # no curl in the slim image
    assert f"http://127.0.0.1:{PORTS[service]}/ready" in check[3]
    assert spec["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


@pytest.mark.parametrize("service", PORTS)
def test_each_service_runs_unprivileged_on_a_read_only_root(service: str) -> None:
    spec = SERVICES[service]
    assert spec["user"] == "10001:10001"
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]
    writable = {entry.split(":")[0] for entry in spec["tmpfs"]}
    assert writable == {"/tmp", "/var/lib/grekko"}  # noqa: S108 - the container's /tmp
    assert spec["environment"]["GREKKO_DATA_DIR"] == "/var/lib/grekko"


def test_only_the_gateway_is_published_and_only_on_loopback() -> None:
    published = {name: spec["ports"] for name, spec in SERVICES.items() if "ports" in spec}
    assert published == {"gateway": ["127.0.0.1:8000:8000"]}


@pytest.mark.parametrize("service", PORTS)
def test_each_service_environment_is_accepted_by_grekko_settings(
    service: str, tmp_path: Path
) -> None:
    env = SERVICES[service]["environment"]
    settings = load_settings(tmp_path, env=env)
    assert settings.chain.enabled is False  # anvil is not in the image
    assert settings.database_url == "postgresql+psycopg://grekko@postgres:5432/grekko"
    assert settings.redis.url.get_secret_value() == "redis://redis:6379/0"
    assert settings.api.rate_limit_storage == "redis://redis:6379/1"
    # the gateway issues access tokens; the agents service checks them on its own API
    assert ("GREKKO_JWT_SECRET" in env) is (service in {"gateway", "agents"})
    # one process of each: instance 0 of one partition, written out rather than left to defaults
    assert env[PARTITIONS_ENV] == "1"
    assert (settings.serve.instance, settings.serve.partitions) == (0, 1)
    assert (env.get(INSTANCE_ENV) == "0") is (service in STATEFUL)


# the compose services that run `grekko serve ...` (one per process, execution-1 and so on)
GREKKO = {name: spec for name, spec in SERVICES.items() if spec.get("command", [])[:1] == ["serve"]}


def _processes(service: str, tmp_path: Path) -> list[tuple[str, int]]:
    """(compose service, slot) of every process that runs `grekko serve <service>`."""
    found: list[tuple[str, int]] = []
    for name, spec in GREKKO.items():
        if spec["command"] == serve_args(service):
            settings = load_settings(tmp_path / name, env=spec["environment"])
            found.append((name, slot(service, settings)))
    return found


def _partition_count() -> int:
    """The one partition count: risk routes approvals by it, agents and execution split by it."""
    (count,) = {spec["environment"][PARTITIONS_ENV] for spec in GREKKO.values()}
    return int(count)


def test_every_process_reads_one_partition_count() -> None:
    assert set(GREKKO) >= set(PORTS)
    assert _partition_count() == 1


@pytest.mark.parametrize("service", STATEFUL)
def test_the_processes_of_a_service_share_the_work_out(service: str, tmp_path: Path) -> None:
    processes = _processes(service, tmp_path)
    slots = [taken for _, taken in processes]
    assert processes
    if service in PARTITIONED:  # every partition worked (a second process of one is a standby)
        assert set(slots) == set(range(_partition_count())), processes
    else:  # each reads every message in a consumer group of its own
        assert len(set(slots)) == len(slots), processes


def _secret_values() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, spec in SERVICES.items():
        found.extend(
            (f"{name}.{key}", str(value))
            for key, value in spec.get("environment", {}).items()
            if SECRET_NAME.search(key)
        )
    return found


def test_no_secret_is_written_in_the_file() -> None:
    secrets = _secret_values()
    assert {where.split(".")[1] for where, _ in secrets} >= {
        "PGPASSWORD",
        "GREKKO_MASTER_KEY",
        "GREKKO_JWT_SECRET",
        "POSTGRES_PASSWORD",
    }
    for where, value in secrets:
        assert INTERPOLATED.fullmatch(value), where  # ${NAME:?...}: from deploy/.env or refused
    for name, spec in SERVICES.items():
        for key, value in spec.get("environment", {}).items():
            if not INTERPOLATED.fullmatch(str(value)):  # nothing key-shaped in any other value
                assert not re.search(r"[A-Za-z0-9+/=_-]{32,}", str(value)), (name, key)


def test_the_env_template_names_every_secret_with_placeholders() -> None:
    needed = {INTERPOLATED.fullmatch(value)[1] for _, value in _secret_values()}  # type: ignore[index]
    lines = (DEPLOY / "env.example").read_text().splitlines()
    given = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert set(given) == needed
    assert all(value == SECRET_PLACEHOLDER for value in given.values())
