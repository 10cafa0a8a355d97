"""``POST /events``: contract events in a batch, exactly as ``apply`` takes them, acting as the account."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import Problem, Rejections
from hazardloop.models.core.event_json import duplicate_key, numbered_lines
from hazardloop.models.store.intake import ApplyReport
from hazardloop.services import hazards as service
from hazardloop.web.api.hazards import json_response
from hazardloop.web.api.schemas import COMMON, ApplyOutcome, problems
from hazardloop.web.deps import application, current_principal
from hazardloop.web.problems import ApiProblem, problem_response, status_of

router = APIRouter(tags=["events"])
NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-lines")

_BODY = {
    "required": True,
    "description": "a JSON array of contract events, or JSON Lines with Content-Type application/x-ndjson. Leave "
    "'actor' out: every event acts as the signed-in account (an event naming another actor is refused).",
    "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}


def _lines(body: bytes, content_type: str) -> list[tuple[int, str]]:
    """(line number, JSON text) as ``apply`` reads a file: JSON Lines keep their line numbers; an array's events
    are numbered from 1 in order."""
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ApiProblem(422, "the body is not UTF-8 text") from None
    if content_type in NDJSON:
        return numbered_lines(text)  # only LF (or CRLF) ends a line: U+2028 may stand inside a JSON string
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiProblem(422, f"the body is not valid JSON ({exc}); send a JSON array of events") from None
    if not isinstance(data, list):
        raise ApiProblem(422, "send a JSON array of events (or JSON Lines as application/x-ndjson)")
    # orjson keeps the last of a key given twice; apply refuses such an event, and so does this
    twice = duplicate_key(text, _keys(data))
    if twice is not None:
        path, key = twice
        index, _, where = path.lstrip(".").partition(".")  # ".0.type": the first event's key "type"
        number = int(index) + 1 if index.isdigit() else None
        raise ApiProblem(
            422,
            f"line {number}: the key '{key}' is given twice in one object; give each field once, so that it is clear "
            "which value is meant",
            field=where or key,
            line=number,
        )
    return [(n, orjson.dumps(item).decode()) for n, item in enumerate(data, start=1)]


def _keys(value: object) -> int:
    """How many keys the parsed objects hold, all of them: as many ``":`` in the text means no key was given twice."""
    if isinstance(value, dict):
        return len(value) + sum(_keys(v) for v in value.values())
    if isinstance(value, list):
        return sum(_keys(v) for v in value)
    return 0


def _outcome(report: ApplyReport) -> dict[str, object]:
    return {
        "lines": report.lines,
        "applied": report.applied,
        "duplicates": report.duplicates,
        "created": report.created,
        "notices": report.notices,
        "rejected": [
            {"line": p.line, "field": p.field, "message": p.message, "refused": p.refused} for p in report.rejected
        ],
    }


def _rejection(problems_found: list[Problem]) -> Response:
    status = status_of(problems_found)
    first = problems_found[0]
    n = len(problems_found)
    detail = (
        f"line {first.line}: {first.message}"
        if n == 1
        else f"{n} events were rejected; nothing was written. First, line {first.line}: {first.message}"
    )
    return problem_response(status, detail, field=first.field, line=first.line, problems=problems_found)


@router.post(
    "/events",
    summary="apply contract events (all-or-nothing unless ?partial=true), as the signed-in account",
    response_model=ApplyOutcome,
    responses=problems(*COMMON, 403, 409, 415),
    openapi_extra={"requestBody": _BODY},
)
async def post_events(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    partial: Annotated[bool, Query(description="apply the good events and list the rejected ones")] = False,
) -> Response:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", *NDJSON):
        raise ApiProblem(415, "send application/json (an array of events) or application/x-ndjson (JSON Lines)")
    lines = _lines(await request.body(), content_type)
    if not any(text.strip() for _n, text in lines):
        raise ApiProblem(422, "the body holds no events")
    try:
        report = await run_in_threadpool(
            service.apply_events, application(request), principal, lines, source="request", partial=partial
        )
    except Rejections as exc:
        return _rejection(exc.problems)
    if report.rejected and not (report.applied or report.duplicates):
        return _rejection(report.rejected)
    return json_response(_outcome(report))
