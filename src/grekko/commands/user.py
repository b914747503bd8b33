"""`grekko user`: manage the API's users from the machine that runs Grekko.

Whoever can run this can read the data dir and so is trusted like an admin; it is how the first
admin is made (or recovered) without the API. A password is read from stdin with
--password-stdin (one line, for scripts) or else prompted for without echo; it never appears
on the command line, where `ps` and shell history would see it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from grekko.api.principal import Role
from grekko.core.errors import GrekkoError
from grekko.core.time import ns_to_iso

if TYPE_CHECKING:  # the service is imported when a command runs, keeping --help fast
    from grekko.api.auth.service import AuthService
    from grekko.api.auth.views import UserInfo

user_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Users of the API: add, list, set-role, disable, enable, set-password, reset-mfa.",
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where database, logs and settings live (default: $GREKKO_DATA_DIR or ~/.grekko).",
    ),
]
NameArg = Annotated[str, typer.Argument(help="The username (3-64 of a-z 0-9 _ . -).")]


@contextmanager
def _service(data_dir: Path | None) -> Iterator[AuthService]:
    """The auth service of the data dir; any refusal ends the command with a message, exit 2."""
    from grekko.api.problems import ApiProblem
    from grekko.bootstrap.auth import open_auth_service
    from grekko.settings import load_settings

    try:
        service = open_auth_service(load_settings(data_dir))
        try:
            yield service
        finally:
            service.close()
    except ApiProblem as exc:
        typer.secho(f"error: {exc.title}" + (f": {exc.detail}" if exc.detail else ""), err=True)
        raise typer.Exit(2) from None
    except GrekkoError as exc:
        typer.secho(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _shown(user: UserInfo) -> dict[str, Any]:
    out = asdict(user)
    out["role"] = user.role.value
    out["created_at"] = ns_to_iso(user.created_at)
    return out


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def add(
    name: NameArg,
    role: Annotated[Role, typer.Option(help="viewer, trader or admin.")] = Role.VIEWER,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user; the password needs at least 12 characters."""
    password = _read_password(password_stdin)
    with _service(data_dir) as service:
        user = service.create_user(name, password, role)
    typer.echo(json.dumps(_shown(user), indent=1))


@user_app.command("list")
def list_users(data_dir: DataDir = None) -> None:
    """Every user with role, MFA and wallet; never a password or secret."""
    with _service(data_dir) as service:
        users = service.list_users()
    typer.echo(json.dumps([_shown(u) for u in users], indent=1))


@user_app.command("set-role")
def set_role(
    name: NameArg,
    role: Annotated[Role, typer.Argument(help="viewer, trader or admin.")],
    data_dir: DataDir = None,
) -> None:
    """Change a user's role; it applies to their next request."""
    with _service(data_dir) as service:
        user = service.set_role(service.user_by_name(name).id, role)
    typer.echo(json.dumps(_shown(user), indent=1))


@user_app.command("disable")
def disable(name: NameArg, data_dir: DataDir = None) -> None:
    """Disable a user: every session and API key of theirs stops working at once."""
    with _service(data_dir) as service:
        user = service.disable(service.user_by_name(name).id, True)
    typer.echo(json.dumps(_shown(user), indent=1))


@user_app.command("enable")
def enable(name: NameArg, data_dir: DataDir = None) -> None:
    """Enable a disabled user again."""
    with _service(data_dir) as service:
        user = service.disable(service.user_by_name(name).id, False)
    typer.echo(json.dumps(_shown(user), indent=1))


@user_app.command("set-password")
def set_password(
    name: NameArg,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Replace a user's password (e.g. the generated admin one); their sessions end."""
    password = _read_password(password_stdin)
    with _service(data_dir) as service:
        user = service.user_by_name(name)
        service.set_password(user.id, password)
    typer.echo(json.dumps(_shown(user), indent=1))


@user_app.command("reset-mfa")
def reset_mfa(name: NameArg, data_dir: DataDir = None) -> None:
    """Forget a user's TOTP secret (lost phone); they can enrol again after logging in."""
    with _service(data_dir) as service:
        user = service.mfa_reset(service.user_by_name(name).id)
    typer.echo(json.dumps(_shown(user), indent=1))
