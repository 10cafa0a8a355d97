"""``/reports/{period}`` (the analysis's figures) and ``/ledger.xlsx``, both cut to the caller's jurisdiction."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from hazardloop.models.core.authz import Principal
from hazardloop.services import reports as service
from hazardloop.services.hazards import HazardFilter
from hazardloop.web.api.hazards import Filters, json_response
from hazardloop.web.api.schemas import COMMON, problems
from hazardloop.web.deps import application, current_principal

router = APIRouter(tags=["reports"])
Who = Annotated[Principal, Depends(current_principal)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PeriodKind(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"


@router.get(
    "/reports/{kind}",
    summary="the periodic analysis (日、周、月、季研判) of a scope within the jurisdiction, as report --json",
    response_model=dict[str, Any],
    responses=problems(*COMMON, 404),
)
async def report(
    request: Request,
    principal: Who,
    kind: PeriodKind,
    period: Annotated[
        str | None, Query(max_length=20, description="2025-09-14, 2025-W38, 2025-09 or 2025-Q3; default the last")
    ] = None,
    scope: Annotated[str | None, Query(max_length=200, description="unit code or name; default the account's")] = None,
) -> Response:
    figures = await run_in_threadpool(
        service.figures, application(request), principal, kind.value, period or None, scope or None
    )
    return json_response(figures)


@router.get(
    "/ledger.xlsx",
    summary="the hazard ledger (隐患台账) of the jurisdiction, with the hazards filters",
    response_class=Response,
    responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}, **problems(*COMMON)},
)
async def ledger(request: Request, principal: Who, filters: Annotated[Filters, Depends()]) -> Response:
    data = await run_in_threadpool(service.ledger, application(request), principal, HazardFilter(**filters.values))
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="ledger.xlsx"'})
