"""``/hazards``: list and read hazards within the caller's jurisdiction, and act on one."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hazardloop.models.core.authz import HAZARD_ACTION_EVENTS, Action, Principal
from hazardloop.services import hazards as service
from hazardloop.web.api.schemas import COMMON, ActionOutcome, HazardDetail, HazardList, problems
from hazardloop.web.deps import application, current_principal, unique_keys
from hazardloop.web.problems import ApiProblem

router = APIRouter(tags=["hazards"])
Who = Annotated[Principal, Depends(current_principal)]

HazardAction = StrEnum("HazardAction", {a.name: a.value for a in HAZARD_ACTION_EVENTS})  # type: ignore[misc]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


class Filters:
    """The ``hazards`` filters, shared by the list and the ledger."""

    def __init__(
        self,
        state: Annotated[str | None, Query(max_length=200, description="state(s), comma-separated")] = None,
        township: Annotated[str | None, Query(max_length=200, description="township name or code")] = None,
        unit: Annotated[str | None, Query(max_length=200, description="responsible unit name or code")] = None,
        field: Annotated[str | None, Query(max_length=200, description="field code(s), comma-separated")] = None,
        overdue: Annotated[bool, Query(description="only hazards past their deadline")] = False,
        level: Annotated[str | None, Query(max_length=100, description="supervision level(s)")] = None,
        q: Annotated[str | None, Query(max_length=200, description="text in the title, reference or id")] = None,
    ) -> None:
        self.values = {
            "state": state,
            "township": township,
            "unit": unit,
            "field": field,
            "overdue": overdue,
            "level": level,
            "q": q,
        }


@router.get(
    "/hazards",
    summary="hazards within the caller's jurisdiction, in detection order (keyset pages)",
    response_model=HazardList,
    responses=problems(*COMMON),
)
async def list_hazards(
    request: Request,
    principal: Who,
    filters: Annotated[Filters, Depends()],
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    flt = service.HazardFilter(**filters.values, limit=limit, cursor=cursor)
    # reads never wait on a lock (SQLite WAL, PostgreSQL MVCC): on the event loop, without a thread hand-off
    page = service.list_page(application(request), principal, flt)
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


@router.get(
    "/hazards/{hazard:path}",
    summary="one hazard with its history and notices",
    response_model=HazardDetail,
    responses=problems(*COMMON, 404),
)
async def show_hazard(
    request: Request,
    principal: Who,
    hazard: Annotated[str, Path(max_length=200, description="the engine's id or the source reference")],
) -> Response:
    view = service.show(application(request), principal, hazard)
    return json_response(view)


class ActionBody(BaseModel):
    """The event's own fields (those the action does not take are refused); ``event_id`` for safe retries."""

    model_config = ConfigDict(extra="allow")

    event_id: str | None = Field(None, min_length=1, max_length=200)
    days: int | None = None
    reason: str | None = None
    note: str | None = None
    approved: bool | None = None
    unit: str | None = None
    to: str | None = None
    evidence: list[str] | None = None


@router.post(
    "/hazards/{hazard:path}/{action}",
    summary="act on a hazard as the signed-in account",
    response_model=ActionOutcome,
    responses=problems(*COMMON, 403, 404, 409),
    dependencies=[Depends(unique_keys)],
)
async def act(
    request: Request,
    principal: Who,
    hazard: Annotated[str, Path(max_length=200)],
    action: HazardAction,  # type: ignore[valid-type]
    body: Annotated[ActionBody | None, Body()] = None,
) -> Response:
    fields: dict[str, Any] = {}
    event_id = None
    if body is not None:
        given = body.model_dump(exclude_unset=True)
        event_id = given.pop("event_id", None)
        named = given.pop("actor", None)
        if named is not None and named != principal.actor:
            raise ApiProblem(
                422,
                f"actions sent with an account act as that account ({principal.actor}); the body may not name "
                "another actor. Leave 'actor' out",
                field="actor",
            )
        for key in ("type", "hazard", "at"):
            if key in given:
                raise ApiProblem(422, f"'{key}' is set by the server; leave it out of the body", field=key)
        fields = {k: v for k, v in given.items() if v is not None}
    result = await run_in_threadpool(
        service.act, application(request), principal, hazard, Action(action.value), fields, event_id
    )
    return json_response(
        {
            "hazard": result.hazard,
            "event_id": result.event_id,
            "duplicate": result.duplicate,
            "notices": result.notices,
        }
    )
