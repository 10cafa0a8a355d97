"""The one dependency every API route takes: ``current_principal``. It accepts ``Authorization: Bearer TOKEN`` or
the console's session cookie (``hazardloop_session``); for a cookie on an unsafe method (POST, PUT, PATCH, DELETE)
it also requires the session's CSRF token, in an ``X-CSRF-Token`` header or a ``csrf_token`` form field.

Failed token and session checks count against the client address (``FailureLimiter``): past the limit the client
gets 429 with Retry-After. No secret is ever logged."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.event_json import duplicate_key
from hazardloop.models.core.text import text_problem
from hazardloop.services import identity
from hazardloop.web.problems import ApiProblem
from hazardloop.web.security import FailureLimiter

SESSION_COOKIE = "hazardloop_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class WebState:
    """What the web process holds: the wired app and the in-process failure counter."""

    app: App
    limiter: FailureLimiter
    secure_cookies: bool = False
    extra: dict[str, object] = field(default_factory=dict)


def web_state(request: Request) -> WebState:
    return request.app.state.hazardloop  # type: ignore[no-any-return]


def application(request: Request) -> App:
    return web_state(request).app


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _unauthorised(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="hazardloop"'})


def _too_many(seconds: int) -> ApiProblem:
    return ApiProblem(
        429,
        f"too many failed sign-in attempts from this address; try again in {seconds} second(s)",
        headers={"Retry-After": str(seconds)},
    )


async def session_principal(request: Request) -> identity.SessionPrincipal | None:
    """The console's session, if the request carries a valid one (no CSRF check: see ``check_csrf``)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    state = web_state(request)
    client = client_address(request)
    wait = state.limiter.retry_after(client)
    if wait:
        raise _too_many(wait)
    found = await run_in_threadpool(identity.resolve_session, state.app, cookie, client)
    if found is None:
        state.limiter.failed(client)
    return found


async def check_csrf(request: Request, session: identity.SessionPrincipal) -> None:
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
        raise ApiProblem(
            403,
            "the form or request lacks this session's CSRF token (X-CSRF-Token header or csrf_token field); "
            "reload the page and try again",
            field=CSRF_FIELD,
        )


async def current_principal(request: Request) -> Principal:
    """The proven account behind this request, or 401 (none or bad credentials) / 429 (too many failures)."""
    state = web_state(request)
    client = client_address(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorised("the Authorization header must read 'Bearer TOKEN'")
        wait = state.limiter.retry_after(client)
        if wait:
            raise _too_many(wait)
        # One indexed read, never waiting on a lock: done on the event loop, which saves a thread hand-off per
        # request; the occasional last-used write (once a minute per token) may wait for a writer, so it goes to a
        # worker thread.
        checked = identity.check_token(state.app, token.strip(), client)
        if checked is None:
            state.limiter.failed(client)
            raise _unauthorised("the token is unknown, expired or revoked, or its account is disabled")
        principal, due = checked
        if due is not None:
            await run_in_threadpool(identity.touch_token, state.app, due)
        request.state.principal = principal
        return principal
    session = await session_principal(request)
    if session is None:
        if request.cookies.get(SESSION_COOKIE):
            raise _unauthorised("the session has ended or expired, or its account is disabled; sign in again")
        raise _unauthorised("sign in, or send an API token as 'Authorization: Bearer TOKEN'")
    await check_csrf(request, session)
    request.state.principal = session.principal
    request.state.session = session
    return session.principal


async def acceptable_parameters(request: Request) -> None:
    """Every path and query parameter is one line of text (``models.core.text``): a NUL, an escape or a line break
    in an address is refused with 422 naming the parameter, before it reaches a query (PostgreSQL cannot hold NUL
    at all, and SQLite would end a search pattern there and match everything). A request without credentials is
    left to the sign-in check, so it gets its 401 (or the console's sign-in page) as any other does."""
    if "authorization" not in request.headers and SESSION_COOKIE not in request.cookies:
        return
    named = [*request.path_params.items(), *request.query_params.multi_items()]
    problems = [
        Problem(why, field=name)
        for name, value in named
        if isinstance(value, str) and (why := text_problem(value, multi_line=False)) is not None
    ]
    if problems:
        raise InvalidInput(problems)


async def unique_keys(request: Request) -> None:
    """A JSON body gives each key once: a key given twice (``{"reason": "a", "reason": "b"}``) is refused with 422
    naming it, as ``apply`` refuses it in an event, instead of the last value being taken silently. A body that is
    not JSON at all is left to the route's own check, which says so."""
    body = await request.body()
    if not body.strip() or not request.headers.get("content-type", "").startswith("application/json"):
        return
    try:
        found = duplicate_key(body)
    except (ValueError, RecursionError):  # not JSON (or nested past reading): the body's own check names it
        return
    if found is not None:
        path, key = found
        raise InvalidInput([Problem(f"the key '{key}' is given twice in one object; give each field once", field=path)])
