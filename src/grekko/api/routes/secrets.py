"""Secrets (exchange API keys, wallet keys): admins store and delete them; nobody reads them back.

The API never returns a secret's value, only its name; the value goes straight into the
vault and is masked in the logs from then on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.redaction import register
from grekko.api.schemas import Request as RequestBody
from grekko.api.schemas import problems
from grekko.api.services import ApiServices, audit, services

router = APIRouter(prefix="/api/v1/secrets", tags=["secrets"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Services = Annotated[ApiServices, Depends(services)]
SecretName = Annotated[
    str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
]


class SecretIn(RequestBody):
    value: Annotated[str, Field(min_length=1, max_length=10_000, repr=False)]


def _vault(svc: ApiServices) -> Any:
    vault = svc.extra.get("vault")
    if vault is None:
        raise ApiProblem(404, "no_vault", "This server has no secret store")
    return vault


@router.get("", response_model=list[str], responses=problems(404))
async def names(_: Admin, svc: Services) -> list[str]:
    return sorted(_vault(svc).names())


@router.put("/{name:path}", status_code=204, responses=problems(404))
async def put_secret(
    name: SecretName, body: SecretIn, who: Admin, svc: Services, request: Request
) -> None:
    register(body.value)
    _vault(svc).put(name, body.value)
    audit(request, who.username, "secret.put", name)


@router.delete("/{name:path}", status_code=204, responses=problems(404))
async def delete_secret(name: SecretName, who: Admin, svc: Services, request: Request) -> None:
    try:
        _vault(svc).delete(name)
    except KeyError:
        raise ApiProblem(404, "unknown_secret", "No such secret", name) from None
    audit(request, who.username, "secret.delete", name)
