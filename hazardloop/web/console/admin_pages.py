"""管理: an admin's accounts and API tokens, for its unit and the units below. A new password or token is shown once,
on the page that answers the form (never in a redirect's URL or a cookie)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from hazardloop.models.core.authz import Action
from hazardloop.models.core.errors import InvalidInput, NotFound, Refused
from hazardloop.services import accounts as account_service

from .render import page, redirect
from .routing import console_router
from .session import ROLE_NAMES_CN, Viewer, application, posted_form, signed_in
from .session import NotFound as PageNotFound
from .views import local_text, problem_words

router = console_router()
Me = Annotated[Viewer, Depends(signed_in)]


def _require_admin(viewer: Viewer) -> None:
    if not viewer.may(Action.MANAGE_ACCOUNTS):
        raise PageNotFound()  # the page does not exist for other accounts


def _admin_page(
    request: Request,
    viewer: Viewer,
    *,
    secret: dict[str, str] | None = None,
    flashes: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    app = application(request)
    now = app.clock.now()
    users = account_service.list_users(app, viewer.principal)
    tokens = account_service.list_tokens(app, viewer.principal)
    by_login: dict[str, list[dict[str, Any]]] = {}
    for t in tokens:
        by_login.setdefault(t.login, []).append(
            {
                "id": t.id,
                "revoked": t.revoked_at is not None,
                "expires_text": ("有效期至" + local_text(app.rules.local_iso(t.expires_at), with_time=False))
                if t.expires_at
                else "长期有效",
            }
        )
    rows = []
    for a in users:
        unit = app.tree.units.get(a.unit_code)
        rows.append(
            {
                "login": a.login,
                "name": a.name,
                "unit_name": unit.name if unit else a.unit_code,
                "roles_text": "、".join(ROLE_NAMES_CN.get(r, r) for r in a.roles),  # type: ignore[call-overload]
                "disabled": not a.active,
                "locked": a.locked_until is not None and a.locked_until > now,
                "tokens": by_login.get(a.login, []),
            }
        )
    j = viewer.principal.jurisdiction
    units = [(code, app.tree.label(u)) for code, u in app.tree.units.items() if j.sees_unit(code)]
    context = {
        "section": "admin",
        "title": "账号管理",
        "accounts": rows,
        "units": units,
        "roles": [(str(r), name) for r, name in ROLE_NAMES_CN.items()],
        "new_secret": secret,
        "flashes": flashes or [],
    }
    return page(request, "console/admin.html", context, me=viewer, csrf=viewer.csrf, status=status)


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, viewer: Me) -> Response:
    _require_admin(viewer)
    return _admin_page(request, viewer)


@router.post("/admin/accounts", response_class=HTMLResponse)
async def add_account(request: Request, viewer: Me) -> Response:
    form = await posted_form(request, viewer)
    _require_admin(viewer)
    roles = ",".join(str(r) for r in form.getlist("roles"))
    login = str(form.get("login") or "").strip()
    try:
        created = account_service.add_user(
            application(request),
            viewer.principal,
            login=login,
            unit=str(form.get("unit") or ""),
            roles=roles,
            name=str(form.get("name") or ""),
            password=None,
        )
    except (InvalidInput, Refused) as exc:
        return _admin_page(request, viewer, flashes=[("error", "未能新建账号：" + problem_words(exc))], status=422)
    secret = {"label": f"账号 {created.account.login} 的初始密码", "value": created.generated_password or ""}
    return _admin_page(request, viewer, secret=secret)


@router.post("/admin/accounts/{login}/{what}", response_class=HTMLResponse)
async def account_action(request: Request, login: str, what: str, viewer: Me) -> Response:
    await posted_form(request, viewer)
    _require_admin(viewer)
    app = application(request)
    try:
        if what == "disable":
            if login == viewer.login:
                return redirect("/admin", flash=("error", "不能停用自己的账号。"))
            account_service.set_active(app, viewer.principal, login, False)
            return redirect("/admin", flash=("ok", f"账号 {login} 已停用，其登录和令牌立即失效。"))
        if what == "unlock":
            account_service.unlock_user(app, viewer.principal, login)
            return redirect("/admin", flash=("ok", f"账号 {login} 已解除锁定。"))
        if what == "token":
            token_id, token = account_service.create_token(app, viewer.principal, login, 365)
            secret = {"label": f"账号 {login} 的API令牌 {token_id}（365天有效）", "value": token}
            return _admin_page(request, viewer, secret=secret)
    except NotFound:
        raise PageNotFound() from None
    except (InvalidInput, Refused) as exc:
        return redirect("/admin", flash=("error", problem_words(exc)))
    raise PageNotFound()


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke(request: Request, token_id: str, viewer: Me) -> Response:
    await posted_form(request, viewer)
    _require_admin(viewer)
    try:
        account_service.revoke_token(application(request), viewer.principal, token_id)
    except NotFound:
        raise PageNotFound() from None
    return redirect("/admin", flash=("ok", f"令牌 {token_id} 已吊销。"))
