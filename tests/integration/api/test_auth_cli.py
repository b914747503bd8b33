"""`grekko user` through typer's CliRunner on a real data dir, then a login over HTTP against
the service the bootstrap builds from the same data dir (default argon2 cost, jwt.key file)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pyotp
import pytest
from auth_support import API, PASSWORD, client, problem_code
from typer.testing import CliRunner

from grekko.adapters.sql import SqlEventStore
from grekko.api.problems import ApiProblem
from grekko.bootstrap.auth import (
    JWT_SECRET_ENV,
    auth_service_for,
    load_jwt_secret,
    open_auth_service,
)
from grekko.commands.user import user_app
from grekko.core.errors import ConfigError
from grekko.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GREKKO_* settings from the developer's shell leak into the commands."""
    for name in list(os.environ):
        if name.startswith("GREKKO_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "grekko-data"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.asyncio
async def test_user_add_then_login_over_http(runner: CliRunner, data_dir: Path) -> None:
    added = runner.invoke(
        user_app,
        ["add", "alice", "--role", "trader", "--password-stdin", "--data-dir", str(data_dir)],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(added.stdout)
    assert (shown["username"], shown["role"], shown["disabled"]) == ("alice", "trader", False)
    assert PASSWORD not in added.output
    key_file = data_dir / "jwt.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32

    service = open_auth_service(load_settings(data_dir))
    try:
        async with client(service) as http:
            body = {"username": "alice", "password": PASSWORD}
            answer = await http.post(f"{API}/auth/login", json=body)
            assert answer.status_code == 200
            me = await http.get(
                f"{API}/auth/me",
                headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
            )
            assert me.json()["role"] == "trader"
            wrong = await http.post(
                f"{API}/auth/login", json={"username": "alice", "password": "x" * 12}
            )
            assert problem_code(wrong) == "invalid_credentials"
        stored = service.store.get_user_by_username("alice")
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$v=19$m=65536")  # library defaults
    finally:
        service.close()


def test_list_set_role_disable_enable(runner: CliRunner, data_dir: Path) -> None:
    for name in ("bob", "carl"):
        made = runner.invoke(
            user_app,
            ["add", name, "--password-stdin", "--data-dir", str(data_dir)],
            input=f"{PASSWORD}-{name}\n",
        )
        assert made.exit_code == 0, made.output
    promoted = runner.invoke(user_app, ["set-role", "bob", "admin", "--data-dir", str(data_dir)])
    assert json.loads(promoted.stdout)["role"] == "admin"
    off = runner.invoke(user_app, ["disable", "carl", "--data-dir", str(data_dir)])
    assert json.loads(off.stdout)["disabled"] is True
    listed = runner.invoke(user_app, ["list", "--data-dir", str(data_dir)])
    users = {u["username"]: u for u in json.loads(listed.stdout)}
    assert (users["bob"]["role"], users["carl"]["role"], users["carl"]["disabled"]) == (
        "admin", "viewer", True,
    )  # fmt: skip
    assert "hash" not in listed.stdout
    assert PASSWORD not in listed.stdout
    on = runner.invoke(user_app, ["enable", "carl", "--data-dir", str(data_dir)])
    assert json.loads(on.stdout)["disabled"] is False


def test_refusals_exit_2_with_a_message(runner: CliRunner, data_dir: Path) -> None:
    args = ["add", "dora", "--password-stdin", "--data-dir", str(data_dir)]
    assert runner.invoke(user_app, args, input=PASSWORD + "\n").exit_code == 0
    duplicate = runner.invoke(user_app, args, input=PASSWORD + "\n")
    assert duplicate.exit_code == 2
    assert "username is taken" in duplicate.stderr
    weak = runner.invoke(
        user_app, ["add", "eve", "--password-stdin", "--data-dir", str(data_dir)], input="short\n"
    )
    assert weak.exit_code == 2
    assert "12 to 1024 characters" in weak.stderr
    assert "short" not in weak.output
    bad_name = runner.invoke(
        user_app, ["add", "a b", "--password-stdin", "--data-dir", str(data_dir)], input=PASSWORD
    )
    assert bad_name.exit_code == 2
    missing = runner.invoke(user_app, ["disable", "nobody", "--data-dir", str(data_dir)])
    assert missing.exit_code == 2
    assert "No such user" in missing.stderr
    bad_role = runner.invoke(
        user_app, ["add", "fred", "--role", "root", "--password-stdin", "--data-dir", str(data_dir)]
    )
    assert bad_role.exit_code == 2  # click's usage error


def test_recovery_commands(runner: CliRunner, data_dir: Path) -> None:
    add = ["add", "gina", "--role", "admin", "--password-stdin", "--data-dir", str(data_dir)]
    assert runner.invoke(user_app, add, input=PASSWORD + "\n").exit_code == 0
    service = open_auth_service(load_settings(data_dir))
    try:
        gina = service.user_by_name("gina")
        secret = service.mfa_enrol(gina.id).secret
        service.mfa_verify(gina.id, pyotp.TOTP(secret).now())
        old_session = service.login("gina", PASSWORD, pyotp.TOTP(secret).now())
        with pytest.raises(ApiProblem, match="mfa_required"):
            service.login("gina", PASSWORD)
        reset = runner.invoke(user_app, ["reset-mfa", "gina", "--data-dir", str(data_dir)])
        assert json.loads(reset.stdout)["mfa_enabled"] is False
        changed = runner.invoke(
            user_app,
            ["set-password", "gina", "--password-stdin", "--data-dir", str(data_dir)],
            input="a brand new password\n",
        )
        assert changed.exit_code == 0, changed.output
        assert "a brand new password" not in changed.output
        with pytest.raises(ApiProblem, match="invalid_credentials"):
            service.login("gina", PASSWORD)
        assert service.login("gina", "a brand new password").expires_in == 900
        with pytest.raises(ApiProblem, match="refresh_revoked"):
            service.refresh(old_session.refresh_token)  # a new password ends old sessions
    finally:
        service.close()


def test_ensure_admin_creates_the_first_admin_once(data_dir: Path) -> None:
    service = open_auth_service(load_settings(data_dir))
    try:
        password = service.ensure_admin()
        assert password is not None
        assert len(password) >= 20
        assert service.ensure_admin() is None
        pair = service.login("admin", password)
        assert service.authenticate(pair.access_token).role.value == "admin"
        stored = service.store.get_user_by_username("admin")
        assert stored is not None
        assert password not in stored.password_hash
    finally:
        service.close()


def test_jwt_secret_sources(data_dir: Path) -> None:
    data_dir.mkdir()
    from_env = load_jwt_secret(data_dir, {JWT_SECRET_ENV: "s" * 40})
    assert from_env == b"s" * 40
    assert not (data_dir / "jwt.key").exists()
    with pytest.raises(ConfigError, match="at least 32"):
        load_jwt_secret(data_dir, {JWT_SECRET_ENV: "short"})
    first = load_jwt_secret(data_dir, {})
    assert load_jwt_secret(data_dir, {}) == first  # kept across restarts
    (data_dir / "jwt.key").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_jwt_secret(data_dir, {})


def test_the_service_shares_the_event_store_database(runner: CliRunner, data_dir: Path) -> None:
    """What `grekko up` does: one engine (the event store's) for events and users alike."""
    add = ["add", "hank", "--password-stdin", "--data-dir", str(data_dir)]
    assert runner.invoke(user_app, add, input=PASSWORD + "\n").exit_code == 0
    settings = load_settings(data_dir)
    events = SqlEventStore(settings.database_url)
    try:
        service = auth_service_for(settings, events.engine)
        pair = service.login("hank", PASSWORD)
        assert service.authenticate(pair.access_token).username == "hank"
        service.close()  # the store does not own the engine: the event store still works
        with events.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM users").scalar_one() == 1
    finally:
        events.close()
