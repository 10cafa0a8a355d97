"""登录, 退出, 修改密码."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hazardloop.models.core.errors import InvalidInput
from hazardloop.services import identity
from hazardloop.web.deps import web_state
from hazardloop.web.security import FailureLimiter

from .render import page, redirect, safe_local
from .routing import console_router
from .session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Viewer,
    application,
    client_address,
    new_login_csrf,
    posted_form,
    resolve_viewer,
    secure_cookies,
    signed_in,
)
from .views import problem_words

router = console_router()


def limiter(request: Request) -> FailureLimiter:
    """The server's one limiter of failed credentials per client address: the API's token checks and the
    console's logins count together."""
    return web_state(request).limiter


def _login_page(request: Request, *, next_url: str, login: str = "", error: str | None = None, status: int = 200):
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = page(
        request,
        "console/login.html",
        {"title": "登录", "next_url": next_url, "login_value": login, "flashes": [("error", error)] if error else []},
        status=status,
        csrf=token,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    if resolve_viewer(request) is not None:
        return RedirectResponse(safe_local(next), status_code=303)
    return _login_page(request, next_url=safe_local(next))


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    form = await posted_form(request, None)
    app = application(request)
    next_url = safe_local(str(form.get("next") or "/"))
    login = str(form.get("login") or "").strip()[:100]
    password = str(form.get("password") or "")
    client = client_address(request) or "unknown"
    if limiter(request).retry_after(client):
        return _login_page(
            request, next_url=next_url, login=login, error="登录失败次数过多，请一分钟后再试。", status=429
        )
    result = identity.login(app, login, password, client)
    if not result.ok:
        limiter(request).failed(client)
        if result.locked_for:
            minutes = max(1, round(result.locked_for / 60))
            message = f"密码错误次数过多，账号已锁定约{minutes}分钟；如需提前解锁，请联系本单位管理员。"
            return _login_page(request, next_url=next_url, login=login, error=message, status=429)
        return _login_page(request, next_url=next_url, login=login, error="账号或密码不正确。", status=401)
    cookie = result.cookie or ""
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(app.settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    await posted_form(request, viewer)
    identity.logout(application(request), viewer.principal.credential_id or "")
    response = redirect("/login", flash=("ok", "已退出登录。"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    return page(request, "console/password.html", {"title": "修改密码"}, me=viewer, csrf=viewer.csrf)


@router.post("/password", response_class=HTMLResponse)
async def password_submit(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    form = await posted_form(request, viewer)
    app = application(request)
    current, new, again = (str(form.get(k) or "") for k in ("current", "new", "again"))

    def refuse(message: str, status: int = 422) -> Response:
        return page(
            request,
            "console/password.html",
            {"title": "修改密码", "flashes": [("error", message)]},
            me=viewer,
            csrf=viewer.csrf,
            status=status,
        )

    if new != again:
        return refuse("两次输入的新密码不一致。")
    if len(new) < 10:
        return refuse("新密码至少需要10个字符。")
    if new == current:
        return refuse("新密码不能与当前密码相同。")
    client = client_address(request) or "unknown"
    try:
        changed = identity.change_password(app, viewer.principal, current, new)
    except InvalidInput as exc:
        return refuse(problem_words(exc))
    if not changed:
        limiter(request).failed(client)
        return refuse("当前密码不正确。", status=403)
    result = identity.login(app, viewer.login, new, client)  # the change ended every session, this one too
    response = redirect("/", flash=("ok", "密码已修改；其他设备上的登录已失效。"))
    response.set_cookie(
        SESSION_COOKIE,
        result.cookie or "",
        max_age=int(app.settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response
