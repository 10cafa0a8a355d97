"""Errors as RFC 9457 problem details (``application/problem+json``): ``title``, ``detail`` in plain words (the
command line's own messages), ``status``, and ``field`` / ``line`` where they apply; a batch names every bad line
under ``problems``. No traceback ever reaches a client.

Status codes (the contract): 401 no or bad credentials; 403 the account may not do this to what it can see (its
roles, or the lifecycle's rule on which unit acts); 404 not found or outside the jurisdiction; 409 refused by the
lifecycle (the hazard's state, a duplicate listing…); 422 invalid input, nothing written; 413 body too large; 429
too many attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hazardloop.models.core.errors import (
    ConfigError,
    ConflictError,
    HazardloopError,
    InvalidInput,
    NotFound,
    Problem,
    Refused,
    Rejections,
)

log = logging.getLogger("hazardloop.web")
PROBLEM_JSON = "application/problem+json"
CONSOLE_ERROR_PAGE = "console_error_page"  # WebState.extra: the console's page for a 404 or 405 outside the API

TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Refused",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Internal error",
    503: "Not ready",
}


class ProblemItem(BaseModel):
    message: str
    line: int | None = None
    field: str | None = None
    refused: bool = False


class ProblemDetails(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    line: int | None = None
    problems: list[ProblemItem] | None = None


class ApiProblem(Exception):
    """Raised by routes and dependencies; becomes a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        line: int | None = None,
        headers: dict[str, str] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field, self.line = status, detail, field, line
        self.headers = headers or {}
        self.title = title or TITLES.get(status, "Error")


def not_found(what: str, field: str | None = None) -> ApiProblem:
    return ApiProblem(404, what, field=field)


def problem_response(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    line: int | None = None,
    problems: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
    title: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if line is not None:
        body["line"] = line
    if problems is not None:
        body["problems"] = [
            {"message": p.message, "line": p.line, "field": p.field, "refused": p.refused} for p in problems[:1000]
        ]
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def forbidden_problem(p: Problem) -> bool:
    """A refusal about who acts (the lifecycle's unit rules): 403, not 409."""
    return p.refused and p.field == "actor"


def status_of(problems: list[Problem]) -> int:
    """A batch's status: invalid input outranks a refusal (as the command line's exit codes do)."""
    if any(not p.refused for p in problems):
        return 422
    return 403 if all(forbidden_problem(p) for p in problems) else 409


def _summary(problems: list[Problem]) -> str:
    if len(problems) == 1:
        return _words(problems[0])
    return f"{len(problems)} problems; nothing was written. First: {_words(problems[0])}"


def _words(p: Problem) -> str:
    """A problem without the file name: a request has none (line and field are given as their own members)."""
    where = []
    if p.line is not None:
        where.append(f"line {p.line}")
    if p.field:
        where.append(f"field '{p.field}'")
    return f"{', '.join(where)}: {p.message}" if where else p.message


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "。", "!", "?")) else text + "."


def response_for(exc: HazardloopError) -> JSONResponse:
    if isinstance(exc, NotFound):
        first = exc.problems[0] if exc.problems else Problem("not found")
        return problem_response(404, first.message, field=first.field)
    if isinstance(exc, Rejections | InvalidInput):
        problems = exc.problems
        status = status_of(problems) if isinstance(exc, Rejections) else 422
        first = problems[0] if problems else Problem("invalid input")
        return problem_response(
            status,
            _summary(problems) if problems else str(exc),
            field=first.field,
            line=first.line if first.source not in (None, "command") else None,
            problems=problems,
        )
    if isinstance(exc, Refused):
        status = 403 if exc.field == "actor" else 409
        return problem_response(status, f"{_sentence(str(exc))} Nothing was written.", field=exc.field)
    if isinstance(exc, ConflictError):
        return problem_response(409, str(exc))
    if isinstance(exc, ConfigError):
        log.error("configuration error: %s", exc)
        return problem_response(503, "the server is not configured correctly; the operator has been told")
    log.error("engine error: %s", exc)
    return problem_response(500, "the request could not be completed; nothing was written")


def _console_page(request: Request) -> Callable[[Request, int], Response] | None:
    """The console's error page for this address, when the console is served and the address is not the API's."""
    path = request.url.path
    if path.startswith("/api/") or path in ("/healthz", "/readyz"):
        return None
    state = getattr(request.app.state, "hazardloop", None)
    return getattr(state, "extra", {}).get(CONSOLE_ERROR_PAGE)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, field=exc.field, line=exc.line, headers=exc.headers, title=exc.title
        )

    @app.exception_handler(HazardloopError)
    async def _engine_error(_request: Request, exc: HazardloopError) -> JSONResponse:
        return response_for(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:50]:
            if err.get("type") == "json_invalid":  # its "field" would be the character position: say it in words
                why = (err.get("ctx") or {}).get("error") or "it cannot be read"
                problems.append(Problem(f"the body is not valid JSON ({why}); send a JSON object"))
                continue
            if tuple(err.get("loc", ())) == ("body",) and err.get("type") in ("model_attributes_type", "dict_type"):
                # a form, a file upload, plain text or a JSON array where a JSON object belongs: say what to send
                sent = request.headers.get("content-type", "").split(";")[0].strip() or "no content type"
                problems.append(
                    Problem(f"the body must be a JSON object sent as application/json (this one is {sent})")
                )
                continue
            loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(Problem(msg, field=".".join(loc) or None))
        first = problems[0] if problems else Problem("invalid input")
        return problem_response(422, _summary(problems), field=first.field, problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        console_page = _console_page(request)
        if console_page is not None and exc.status_code in (404, 405):
            return console_page(request, exc.status_code)  # a person's browser gets a page, not JSON
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "there is nothing at this address"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's words for a JSON body it could not read at all: not UTF-8, nested past the parser's depth, an
            # integer of thousands of digits. The client's own bad input, so 422 like any other unreadable body.
            return problem_response(
                422,
                "the body could not be read as JSON (it is not UTF-8 text, nests too deeply, or holds a number too "
                "large to read); send a JSON object",
            )
        if exc.status_code == 405 and detail == "Method Not Allowed":
            detail = "this address does not accept that method"
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("database error: %s", type(exc).__name__)
        return problem_response(503, "the database cannot be used at the moment; nothing was written")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem_response(500, "the request could not be completed; nothing was written")
