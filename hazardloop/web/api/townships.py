"""``/townships/{township}/list`` and ``/delist``: listed supervision by a supervisor. The township is its code or
its name, and a name may hold a ``/`` (sent as ``%2F``, which the server decodes before routing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hazardloop.models.core.authz import Action, Principal
from hazardloop.services import townships as service
from hazardloop.web.api.hazards import json_response
from hazardloop.web.api.schemas import COMMON, TownshipOutcome, problems
from hazardloop.web.deps import application, current_principal, unique_keys

router = APIRouter(tags=["townships"])
Who = Annotated[Principal, Depends(current_principal)]


class ListingBody(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)
    force: bool = Field(False, description="delist although listed problems are open (a listing made in error)")


async def _change(request: Request, principal: Principal, township: str, action: Action, body: ListingBody) -> Response:
    result = await run_in_threadpool(
        service.change_listing, application(request), principal, township, action, body.reason, body.force
    )
    return json_response({"township": result.township, "listing": result.listing, "notices": result.notices})


@router.post(
    "/townships/{township:path}/list",
    summary="list a township for elevated supervision (挂牌督办)",
    response_model=TownshipOutcome,
    responses=problems(*COMMON, 403, 404, 409),
    dependencies=[Depends(unique_keys)],
)
async def list_township(
    request: Request, principal: Who, township: Annotated[str, Path(max_length=200)], body: ListingBody
) -> Response:
    return await _change(request, principal, township, Action.LIST, body)


@router.post(
    "/townships/{township:path}/delist",
    summary="delist a township (摘牌)",
    response_model=TownshipOutcome,
    responses=problems(*COMMON, 403, 404, 409),
    dependencies=[Depends(unique_keys)],
)
async def delist_township(
    request: Request, principal: Who, township: Annotated[str, Path(max_length=200)], body: ListingBody
) -> Response:
    return await _change(request, principal, township, Action.DELIST, body)
