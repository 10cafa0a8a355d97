"""通知: the notices of the account's units with their delivery state; each notice as the official document (公文) in
an A4 print layout; operators (supervisors and admins) send a failed or dead notice again."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from hazardloop.models.core.authz import Action
from hazardloop.models.core.errors import InvalidInput, NotFound, Refused
from hazardloop.services import notices

from . import views
from .render import page, redirect, safe_local
from .routing import console_router
from .session import NotFound as PageNotFound
from .session import Viewer, application, posted_form, signed_in

router = console_router()
Me = Annotated[Viewer, Depends(signed_in)]
PAGE_SIZE = 50
NoticeId = Annotated[int, Path(ge=1, le=2**62)]  # as the API's; past this no number is a notice's
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)


@router.get("/notices", response_class=HTMLResponse)
def notice_list(request: Request, viewer: Me, status: str = "", kind: str = "", cursor: str | None = None) -> Response:
    app = application(request)
    status = status if status in views.NOTICE_STATUS_NAMES else ""
    kind = kind if kind in views.NOTICE_KIND_NAMES else ""
    flashes: list[tuple[str, str]] = []
    try:
        found = notices.list_page(
            app,
            viewer.principal,
            status=status or None,
            kind=kind or None,
            limit=PAGE_SIZE,
            cursor=cursor,
            names=("status", "kind", "hazard"),
            newest_first=True,
        )
        rows, next_cursor = found.items, found.next_cursor
    except InvalidInput as exc:
        rows, next_cursor = [], None
        flashes.append(("error", "；".join(p.message for p in exc.problems)))
    args = {k: v for k, v in {"status": status, "kind": kind}.items() if v}
    context = {
        "section": "notices",
        "title": "通知公文",
        "rows": [views.notice_view(n, app.tree) for n in rows],
        "statuses": list(views.NOTICE_STATUS_NAMES.items()),
        "kinds": list(views.NOTICE_KIND_NAMES.items()),
        "status": status,
        "kind": kind,
        "next_href": "/notices?" + urlencode({**args, "cursor": next_cursor}) if next_cursor else None,
        "can_requeue": viewer.may(Action.REQUEUE),
        "flashes": flashes,
    }
    return page(request, "console/notices.html", context, me=viewer, csrf=viewer.csrf)


def _document(request: Request, viewer: Viewer, notice_id: int) -> dict[str, Any]:
    try:
        return notices.document(application(request), viewer.principal, notice_id)
    except (NotFound, InvalidInput):
        raise PageNotFound() from None


@router.get("/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, notice_id: NoticeId, viewer: Me) -> Response:
    app = application(request)
    found = _document(request, viewer, notice_id)
    doc = found["document"]
    body = _BODY.search(doc["html"])
    context = {
        "section": "notices",
        "title": f"{views.NOTICE_KIND_NAMES.get(found['kind'], found['kind'])} {found['number']}",
        "n": {**views.notice_view(found, app.tree), "archived": doc["as_sent"]},
        # the engine's own template, autoescaped when it was rendered: shown as it is
        "document": Markup(body.group(1) if body else doc["html"]),
        "can_requeue": viewer.may(Action.REQUEUE),
    }
    return page(request, "console/notice.html", context, me=viewer, csrf=viewer.csrf)


@router.post("/notices/{notice_id}/requeue")
async def notice_requeue(request: Request, notice_id: NoticeId, viewer: Me) -> Response:
    form = await posted_form(request, viewer)
    back = safe_local(str(form.get("back") or ""), default=f"/notices/{notice_id}")
    try:
        view = notices.send_again(application(request), viewer.principal, notice_id)
    except (NotFound, InvalidInput):
        raise PageNotFound() from None
    except Refused as exc:
        return redirect(back, flash=("error", f"不能重新发送：{exc}"))
    return redirect(back, flash=("ok", f"通知 {view['number']} 已重新排队，下次发送时投递。"))
