"""Who the caller is: the account behind the credentials, its roles and its unit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from hazardloop.models.core.authz import Principal
from hazardloop.web.deps import application, current_principal
from hazardloop.web.problems import ProblemDetails

router = APIRouter(tags=["accounts"], responses={401: {"model": ProblemDetails}, 429: {"model": ProblemDetails}})


class Me(BaseModel):
    login: str
    name: str
    unit: str
    unit_name: str
    roles: list[str]
    actor: str
    via: str
    credential: str | None


@router.get("/me", summary="the signed-in account", response_model=Me)
def me(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    tree = application(request).tree
    return Me(
        login=principal.login,
        name=principal.name,
        unit=principal.unit_code,
        unit_name=tree.units[principal.unit_code].name,
        roles=sorted(principal.roles),
        actor=principal.actor,
        via=principal.via,
        credential=principal.credential_id,
    )
