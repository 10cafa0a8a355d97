"""The console's route class: its exceptions become pages, never tracebacks or JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from hazardloop.models.core.errors import InvalidInput
from hazardloop.models.core.errors import NotFound as EngineNotFound

from .render import page
from .session import CsrfRefused, LoginRequired, NotFound, login_url, resolve_viewer
from .views import field_label, problem_words

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


def http_error_page(request: Request, status: int) -> HTMLResponse:
    """The page for an address no console route takes (404), or a method it does not (405): what the server's own
    error handler answers outside the API, instead of problem JSON."""
    if status == 404:
        return not_found_page(request)
    if status == 405:
        return error_page(request, 405, "请求有误", "这个地址不接受这种请求方式，请从页面上的链接或按钮进入。")
    return error_page(request, status, "请求有误", "请求无法处理，请返回上一页重试。")


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
            except (NotFound, EngineNotFound):
                return not_found_page(request)
            except RequestValidationError as exc:
                # An address the console's routes cannot take (a notice number that is no number, or out of range)
                # names nothing there; a query parameter of the wrong type is named in words.
                errors = exc.errors()
                if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in errors):
                    return not_found_page(request)
                where = next((str(e["loc"][-1]) for e in errors if e.get("loc")), "")
                return error_page(
                    request, 422, "请求有误", f"参数 {field_label(where)}：取值无效。" if where else "请求有误。"
                )
            except InvalidInput as exc:
                named = bool(exc.problems and exc.problems[0].field)
                return error_page(request, 422, "请求有误", ("参数 " if named else "") + problem_words(exc))
            except SQLAlchemyError as exc:
                log.error("database error: %s", type(exc).__name__)
                return error_page(request, 503, "暂时无法访问", "数据库暂时无法使用，未作任何更改。请稍后再试。")
            except Exception:  # a fault of the server's own: a page, never a traceback or JSON
                log.exception("unexpected error on a console page")
                return error_page(request, 500, "出错了", "服务器未能完成这次请求，未作任何更改。请稍后再试。")

        return console_handler


def console_router() -> APIRouter:
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)
