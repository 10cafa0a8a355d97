"""The console's route class: its exceptions become pages, never tracebacks or JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from hazardloop.models.core.errors import InvalidInput

from .render import page
from .session import CsrfRefused, LoginRequired, NotFound, login_url, resolve_viewer

log = logging.getLogger("hazardloop.web.console")


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    viewer = None
    try:
        viewer = resolve_viewer(request)
    except Exception:  # an error page never fails for want of a session
        viewer = None
    return page(
        request,
        "console/error.html",
        {"title": title, "message": message},
        status=status,
        me=viewer,
        csrf=viewer.csrf if viewer else "",
    )


def not_found_page(request: Request) -> HTMLResponse:
    return error_page(request, 404, "未找到", "没有这个页面或记录，或者它不在本账号的管辖范围内。")


class ConsoleRoute(APIRoute):
    """Turns the console's exceptions into pages (a router cannot register exception handlers of its own)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return RedirectResponse(login_url(exc.next_url), status_code=303)
            except CsrfRefused:
                return error_page(
                    request,
                    403,
                    "请求被拒绝",
                    "表单缺少本次登录的安全校验码（CSRF），可能已过期。请返回上一页，刷新后重新提交。",
                )
            except NotFound:
                return not_found_page(request)
            except InvalidInput as exc:
                first = exc.problems[0] if exc.problems else None
                where = f"参数 {first.field}：" if first and first.field else ""
                return error_page(request, 422, "请求有误", where + (first.message if first else str(exc)))
            except SQLAlchemyError as exc:
                log.error("database error: %s", type(exc).__name__)
                return error_page(request, 503, "暂时无法访问", "数据库暂时无法使用，未作任何更改。请稍后再试。")

        return console_handler


def console_router() -> APIRouter:
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)
