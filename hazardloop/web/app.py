"""``create_app(application)``: the FastAPI application of ``hazardloop web``. Nothing happens at import; the
wired ``App`` (config/bootstrap.py) comes in, the routers go on, and every request passes the hardening middleware
(body limit, security headers) and, for the API, the ``current_principal`` dependency."""

from __future__ import annotations

import importlib.util
import logging

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from hazardloop.config.bootstrap import App
from hazardloop.models.store.db import schema_is_current
from hazardloop.web import problems
from hazardloop.web.deps import WebState, acceptable_parameters
from hazardloop.web.security import FailureLimiter, Hardening

log = logging.getLogger("hazardloop.web")
API_PREFIX = "/api/v1"


def _console_present() -> bool:
    """The console package exists with its ``__init__`` (a folder still being built is not a package yet)."""
    try:
        spec = importlib.util.find_spec("hazardloop.web.console")
    except ModuleNotFoundError:
        return False
    return spec is not None and spec.origin is not None


def create_app(application: App, *, console: bool | None = None) -> FastAPI:
    """``console`` (default: the ``console`` setting, on) serves the web console beside the API."""
    settings = application.settings
    public = settings.public_url or ""
    web = FastAPI(
        title="hazardloop",
        summary="Closed-loop management of risk hazards (风险隐患闭环管理): the HTTP API",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        dependencies=[Depends(acceptable_parameters)],
    )
    web.state.hazardloop = WebState(
        app=application,
        limiter=FailureLimiter(settings.auth_failures_per_minute),
        secure_cookies=public.startswith("https://"),
    )
    problems.install(web)

    @web.get("/healthz", tags=["health"], summary="liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @web.get(
        "/readyz",
        tags=["health"],
        summary="readiness: the database answers and is at the current schema",
        responses={503: {"model": problems.ProblemDetails}},
        response_model=None,
    )
    async def readyz() -> JSONResponse | dict[str, str]:
        try:
            current = await run_in_threadpool(schema_is_current, application.engine)
        except Exception as exc:  # any failure to reach the database means not ready
            log.warning("readiness check failed: %s", type(exc).__name__)
            return problems.problem_response(503, "the database does not answer")
        if not current:
            return problems.problem_response(503, "the database schema is not current; run `hazardloop init`")
        return {"status": "ready"}

    from hazardloop.web.api import router as api_router

    web.include_router(api_router, prefix=API_PREFIX)

    # ---- the web console (issue 17) -------------------------------------------------------------------------
    # The console's router lives in hazardloop/web/console/ (its own engineer's); it is included when present.
    if (settings.console if console is None else console) and _console_present():
        from hazardloop.web.console import router as console_router
        from hazardloop.web.console.routing import http_error_page

        web.include_router(console_router)
        web.state.hazardloop.extra[problems.CONSOLE_ERROR_PAGE] = http_error_page
    # ---------------------------------------------------------------------------------------------------------

    if settings.cors_origins:  # off unless configured
        web.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
            allow_credentials=False,
        )
    web.add_middleware(Hardening, limit=settings.body_limit, hsts=public.startswith("https://"))
    return web


def from_environment() -> FastAPI:
    """The app of a ``web --workers N`` process, wired from the environment (``HAZARDLOOP_*``)."""
    from hazardloop.config.bootstrap import bootstrap

    return create_app(bootstrap())
