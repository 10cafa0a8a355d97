"""``POST /readings``: monitoring-point readings (CSV or JSON Lines), as ``hazardloop readings`` takes a file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import Problem, Rejections
from hazardloop.models.core.event_json import numbered_lines
from hazardloop.services.readings import send_readings
from hazardloop.web.api.hazards import json_response
from hazardloop.web.api.schemas import COMMON, problems
from hazardloop.web.deps import application, current_principal
from hazardloop.web.problems import ApiProblem, problem_response, status_of

router = APIRouter(tags=["readings"])
CONTENT_TYPES = ("text/csv", "application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain")

_BODY = {
    "required": True,
    "description": "readings as CSV with the header point,instant,value, or as JSON Lines of "
    '{"point": ..., "instant": ..., "value": ...}; instants in ISO 8601 with their offset',
    "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}},
}


def _rejection(found: list[Problem]) -> Response:
    first = found[0]
    detail = (
        f"line {first.line}: {first.message}"
        if len(found) == 1
        else (f"{len(found)} lines were rejected; nothing was written. First, line {first.line}: {first.message}")
    )
    return problem_response(status_of(found), detail, field=first.field, line=first.line, problems=found)


@router.post(
    "/readings",
    summary="take in monitoring-point readings (all-or-nothing unless ?partial=true); a breach raises a hazard",
    responses=problems(*COMMON, 403, 415),
    openapi_extra={"requestBody": _BODY},
)
async def post_readings(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    partial: Annotated[bool, Query(description="keep the good lines and list the rejected ones")] = False,
) -> Response:
    content_type = request.headers.get("content-type", "text/csv").split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        raise ApiProblem(415, "send text/csv (point,instant,value) or application/x-ndjson (JSON Lines)")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiProblem(422, "the body is not UTF-8 text") from None
    lines = numbered_lines(text)  # only LF (or CRLF) ends a line, as for a file
    if not any(line.strip() for _n, line in lines):
        raise ApiProblem(422, "the body holds no readings")
    try:
        report = await run_in_threadpool(send_readings, application(request), principal, lines, partial=partial)
    except Rejections as exc:
        return _rejection(exc.problems)
    if report.rejected and not (report.readings or report.duplicates):
        return _rejection(report.rejected)
    return json_response(report.as_json())
