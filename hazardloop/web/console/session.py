"""Who is looking at a console page: the account of the session cookie, with the session's CSRF token.

A page without a valid session sends the browser to ``/login``; a form without the session's CSRF token is refused
(403) before anything is read from it. The cookie is checked against the database on every request, so a disabled
account or an ended session stops working at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action, Principal, Role
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.services import identity
from hazardloop.web.deps import SESSION_COOKIE, web_state

LOGIN_CSRF_COOKIE = "hazardloop_login_csrf"  # before there is a session, the login form's token (double submit)
ROLE_NAMES_CN = {
    Role.STAFF: "责任单位经办",
    Role.VERIFIER: "核查",
    Role.SUPERVISOR: "督办",
    Role.VIEWER: "查看",
    Role.ADMIN: "账号管理",
}


class LoginRequired(Exception):
    """Raised by a page dependency; the console's exception handler turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class CsrfRefused(Exception):
    """A form came without the token of the session that shows it (a forged cross-site request, or a stale page)."""


class NotFound(Exception):
    """Outside the account's jurisdiction, or nothing there: the same page either way."""


def application(request: Request) -> App:
    return web_state(request).app


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure_cookies(request: Request) -> bool:
    return web_state(request).secure_cookies


@dataclass(frozen=True)
class Viewer:
    """The signed-in account as a page sees it."""

    principal: Principal
    csrf: str
    unit_name: str
    menu: tuple[tuple[str, str, str], ...]

    @property
    def login(self) -> str:
        return self.principal.login

    @property
    def name(self) -> str:
        return self.principal.name

    def has(self, role: Role) -> bool:
        return role in self.principal.roles

    def may(self, action: Action) -> bool:
        return self.principal.may(action)


def _menu(principal: Principal, unit_level: str) -> tuple[tuple[str, str, str], ...]:
    items = [("worklist", "工作台", "/"), ("hazards", "隐患列表", "/hazards")]
    if principal.may(Action.DETECT):
        items.append(("report", "上报隐患", "/report"))
    if unit_level in ("city", "county") or principal.jurisdiction.everything:
        items.append(("overview", "督办总览", "/overview"))
    items += [("analysis", "研判", "/analysis"), ("notices", "通知", "/notices")]
    if principal.may(Action.MANAGE_ACCOUNTS):
        items.append(("admin", "管理", "/admin"))
    return tuple(items)


def resolve_viewer(request: Request) -> Viewer | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    app = application(request)
    found = identity.resolve_session(app, cookie, client_address(request))
    if found is None or found.principal.unit_code not in app.tree.units:
        return None
    unit = app.tree.units[found.principal.unit_code]
    return Viewer(found.principal, found.csrf_token, unit.name, _menu(found.principal, unit.level))


def signed_in(request: Request) -> Viewer:
    """The page dependency: the viewer, or off to the login page (coming back here afterwards)."""
    viewer = resolve_viewer(request)
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return viewer


def login_url(next_url: str) -> str:
    return "/login" if next_url in ("", "/") else f"/login?next={quote(next_url, safe='')}"


def check_csrf(viewer: Viewer, form: Any) -> None:
    sent = str(form.get("csrf_token") or "")
    if not viewer.csrf or not hmac.compare_digest(sent.encode(), viewer.csrf.encode()):
        raise CsrfRefused()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, form: Any) -> None:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    sent = str(form.get("csrf_token") or "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


async def posted_form(request: Request, viewer: Viewer | None) -> FormData:
    """A console form as sent, checked before anything is read from it: the session's CSRF token (before sign-in,
    the login form's), then its text. A form the server cannot read (a broken multipart body, a field past the
    parser's limits) and a field whose bytes are not UTF-8 (which the form parser would turn into U+FFFD, the
    replacement character, and store as if it had been typed) are refused with 422 naming what is wrong."""
    encoded = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    body = await request.body() if encoded else b""  # read first: the form is then parsed from the same bytes
    try:
        form = await request.form()
    except HTTPException as exc:
        raise InvalidInput([Problem(f"表单无法读取（{exc.detail}），请返回上一页重新提交。")]) from None
    if viewer is None:
        check_login_csrf(request, form)
    else:
        check_csrf(viewer, form)
    if encoded:
        bad = _not_utf8(body)
        if bad is not None:
            raise InvalidInput([Problem("不是有效的UTF-8文本（含有无法识别的字节），请重新输入后提交。", field=bad)])
    return form


def _not_utf8(body: bytes) -> str | None:
    """The name of the first field of a URL-encoded body whose name or value is not UTF-8 once decoded."""
    for pair in body.split(b"&"):
        name, _, value = pair.partition(b"=")
        decoded = [unquote_to_bytes(part.replace(b"+", b" ")) for part in (name, value)]
        try:
            for part in decoded:
                part.decode("utf-8")
        except UnicodeDecodeError:
            return decoded[0].decode("utf-8", "replace") or "?"
    return None
