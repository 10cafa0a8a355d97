"""工作台, 隐患列表, 隐患详情 with its actions, 上报隐患, and the evidence files of a hazard."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import UploadFile

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action, AreaTarget, Decision, decide
from hazardloop.models.core.errors import ConflictError, InvalidInput, NotFound, Problem, Refused, Rejections
from hazardloop.models.core.events import MAX_EVIDENCE_ITEMS
from hazardloop.models.core.text import text_problem
from hazardloop.notifications.rendering import LEVEL_NAMES, STATE_NAMES
from hazardloop.services import console_reads, hazards
from hazardloop.web.evidence import MAX_BYTES, EvidenceStore, default_evidence_dir

from . import offer, views
from .render import page, redirect, safe_local
from .routing import console_router
from .session import NotFound as PageNotFound
from .session import Viewer, application, posted_form, signed_in

router = console_router()
Me = Annotated[Viewer, Depends(signed_in)]
PAGE_SIZE = 50
SORTS = (("newest", "发现时间（新→旧）"), ("oldest", "发现时间（旧→新）"))
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FORM_FIELDS = {
    "request-extension": ("days", "reason"),
    "decide-extension": ("approved", "reason"),
    "fail": ("reason",),
    "pass": ("note",),
    "reassign": ("unit", "reason"),
    "invalidate": ("reason",),
    "escalate": ("to", "reason"),
    "acknowledge": (),
    "submit": ("note",),
}


def evidence_store(app: App) -> EvidenceStore:
    root = app.settings.evidence_dir or default_evidence_dir(app.settings.database_url)
    return EvidenceStore(root, max_bytes=min(MAX_BYTES, app.settings.body_limit))


def _ctx(viewer: Viewer, section: str, title: str, **values: Any) -> dict[str, Any]:
    return {"section": section, "title": title, **values}


def _render(request: Request, viewer: Viewer, template: str, context: dict[str, Any], status: int = 200) -> Response:
    return page(request, template, context, me=viewer, csrf=viewer.csrf, status=status)


def _today(app: App) -> str:
    from hazardloop.notifications.rendering import cn_date

    return cn_date(app.rules.local_day(app.clock.now()))


# --- 工作台 -----------------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def worklist(request: Request, viewer: Me) -> Response:
    app = application(request)
    found = console_reads.worklist(app, viewer.principal, app.clock.now())
    boxes = []
    for box in found.boxes:
        if box.kind == "listings":
            rows = [
                {
                    **row,
                    "listed_text": views.local_text(row.get("listed_at"), with_time=False),
                    "proposed_text": views.local_text(row.get("delist_proposed_at"), with_time=False),
                }
                for row in box.rows
            ]
        else:
            rows = [views.hazard_view(h) for h in box.rows]
        boxes.append({**box.__dict__, "rows": rows})
    return _render(
        request, viewer, "console/worklist.html", _ctx(viewer, "worklist", "工作台", boxes=boxes, today=_today(app))
    )


# --- 隐患列表 ----------------------------------------------------------------------------------------------------


def _filter_args(request: Request) -> dict[str, str]:
    q = request.query_params
    keys = ("q", "state", "field", "township", "level", "overdue", "since", "until", "sort")
    return {k: q.get(k, "").strip()[:200] for k in keys}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _hazard_filter(f: dict[str, str], cursor: str | None) -> hazards.HazardFilter:
    return hazards.HazardFilter(
        state=f["state"] or None,
        township=f["township"] or None,
        field=f["field"] or None,
        level=f["level"] or None,
        overdue=f["overdue"] in ("1", "true", "on"),
        q=f["q"] or None,
        limit=PAGE_SIZE,
        cursor=cursor,
        since=_day(f["since"]),
        until=_day(f["until"]),
        newest_first=f["sort"] != "oldest",
    )


def _pickers(app: App, viewer: Viewer) -> dict[str, Any]:
    j = viewer.principal.jurisdiction
    towns = [(u.code, app.tree.label(u)) for u in app.tree.townships() if j.sees_township(u.code)]
    return {
        "states": [(s, STATE_NAMES[s]) for s in views.STATE_ORDER],
        "fields": list(app.policy.fields.items()),
        "townships": towns,
        "levels": [(lv, LEVEL_NAMES[lv]) for lv in views.LEVEL_ORDER],
        "sorts": SORTS,
    }


@router.get("/hazards", response_class=HTMLResponse)
def hazard_list(request: Request, viewer: Me, cursor: str | None = None, page_no: int = 1) -> Response:
    app = application(request)
    f = _filter_args(request)
    flashes: list[tuple[str, str]] = []
    for key, words in (("since", "发现日期起"), ("until", "发现日期止")):
        if f[key] and _day(f[key]) is None:  # not silently dropped: the list would look filtered and is not
            shown = f[key][:30]
            flashes.append(("error", f"筛选条件有误：{words}（{key}）“{shown}”不是日期，应写作 2025-10-13；已忽略。"))
    try:
        found = hazards.list_page(app, viewer.principal, _hazard_filter(f, cursor))
        rows, next_cursor = found.items, found.next_cursor
    except InvalidInput as exc:
        rows, next_cursor = [], None
        flashes.append(("error", "筛选条件有误：" + "；".join(p.message for p in exc.problems)))
    active = {k: v for k, v in f.items() if v}
    next_href = (
        "/hazards?" + urlencode({**active, "cursor": next_cursor, "page_no": page_no + 1}) if next_cursor else None
    )
    first_href = "/hazards?" + urlencode(active) if cursor else None
    ledger = {k: v for k, v in active.items() if k in ("q", "state", "field", "township", "level", "overdue")}
    if "overdue" in ledger:
        ledger["overdue"] = "true"
    context = _ctx(
        viewer,
        "hazards",
        "隐患列表",
        f=f,
        rows=[views.hazard_view(h) for h in rows],
        next_href=next_href,
        first_href=first_href,
        page_no=max(1, page_no),
        total=None,
        export_href="/api/v1/ledger.xlsx" + ("?" + urlencode(ledger) if ledger else ""),
        flashes=flashes,
        **_pickers(app, viewer),
    )
    return _render(request, viewer, "console/hazards.html", context)


# --- 隐患详情 ----------------------------------------------------------------------------------------------------


def _show(app: App, viewer: Viewer, key: str) -> dict[str, Any]:
    try:
        return hazards.show(app, viewer.principal, key)
    except NotFound:
        raise PageNotFound() from None
    except InvalidInput:  # an id of a form the engine does not know is as absent as any other
        raise PageNotFound() from None


def _detail(
    request: Request, viewer: Viewer, h: dict[str, Any], flashes: list[tuple[str, str]], status: int = 200
) -> Response:
    app = application(request)
    store = evidence_store(app)
    actions = offer.offered(viewer.principal, app.rules, h)
    steps, loose = views.timeline(h, app.tree)
    evidence = []
    for digest in views.evidence_of(h):
        found = store.find(digest)
        evidence.append(
            {
                "sha256": digest,
                "found": found is not None,
                "image": found is not None and found[1].startswith("image/"),
                "title": f"SHA-256 {digest}",
            }
        )
    context = _ctx(
        viewer,
        "hazards",
        h["title"],
        h={
            **views.hazard_view(h),
            "reporter_name": views.actor_name(h.get("reporter") or "", app.tree),
            "pending_extension_reason": views.pending_extension_reason(h),
        },
        actions=actions,
        timeline=steps,
        loose_notices=loose,
        evidence=evidence,
        evidence_base=f"/hazards/{h['id']}/evidence",
        reassign_units=offer.reassign_units(app.rules, h),
        reassign_any=True,
        escalate_levels=offer.escalation_levels(viewer.principal, app.rules, h),
        max_mb=store.max_bytes // 1048576,
        flashes=flashes,
    )
    return _render(request, viewer, "console/hazard.html", context, status)


@router.get("/hazards/{key}", response_class=HTMLResponse)
def hazard_detail(request: Request, key: str, viewer: Me) -> Response:
    app = application(request)
    return _detail(request, viewer, _show(app, viewer, key), [])


async def _read_files(form: Any) -> list[tuple[str, bytes]]:
    found = []
    for item in form.getlist("files"):
        if isinstance(item, UploadFile) and (item.filename or item.size):
            data = await item.read()
            if data or item.filename:
                found.append((item.filename or "", data))
    return found


def _store_all(app: App, files: list[tuple[str, bytes]]) -> list[str]:
    """Check every file before storing any: one bad file refuses the whole form, so nothing half-done remains."""
    store = evidence_store(app)
    if len(files) > MAX_EVIDENCE_ITEMS:  # refused before any is stored, not after all of them are
        raise InvalidInput(
            [Problem(f"一次最多上传{MAX_EVIDENCE_ITEMS}个文件，本次选择了{len(files)}个。", field="evidence")]
        )
    for name, data in files:
        store.check(data, name)
    return [store.store(data, name).reference for name, data in files]


@router.post("/hazards/{key}/{action}", response_class=HTMLResponse)
async def hazard_action(request: Request, key: str, action: str, viewer: Me) -> Response:
    form = await posted_form(request, viewer)
    app = application(request)
    if action not in _FORM_FIELDS:
        raise PageNotFound()
    h = _show(app, viewer, key)  # 404 before anything else outside the jurisdiction
    fields: dict[str, Any] = {}
    for name in _FORM_FIELDS[action]:
        value = str(form.get(name) or "").strip()
        if value:
            fields[name] = value
    if "days" in fields:  # ASCII digits only: "²" is a digit to Python, but no number
        days = fields["days"]
        fields["days"] = int(days) if days.isascii() and days.isdigit() else days
    event_id = str(form.get("event_id") or "") or None
    back = safe_local(str(form.get("back") or ""), default=f"/hazards/{h['id']}")
    try:
        if fields.get("approved") not in (None, "true", "false"):  # the form's two buttons send only these
            raise InvalidInput([Problem("应为 true（同意）或 false（不同意）", field="approved")])
        if "approved" in fields:
            fields["approved"] = fields["approved"] == "true"
        if action == "submit":
            fields["evidence"] = _store_all(app, await _read_files(form))
        result = hazards.act(app, viewer.principal, h["id"], Action(action), fields, event_id=event_id)
    except (InvalidInput, Rejections) as exc:
        if back != f"/hazards/{h['id']}":
            return redirect(back, flash=("error", "操作未能完成：" + views.problem_words(exc)))
        return _detail(
            request, viewer, _show(app, viewer, h["id"]), [("error", "操作未能完成：" + views.problem_words(exc))], 422
        )
    except Refused as exc:
        if back != f"/hazards/{h['id']}":
            return redirect(back, flash=("error", "操作被拒绝：" + str(exc)))
        return _detail(request, viewer, _show(app, viewer, h["id"]), [("error", "操作被拒绝：" + str(exc))], 409)
    except ConflictError:
        return _detail(
            request,
            viewer,
            _show(app, viewer, h["id"]),
            [("error", "其他人刚刚办理了这条隐患，请查看最新状态后再操作。")],
            409,
        )
    done = views.ACTION_NAMES.get(offer.EVENT_OF[action], action)
    note = "（重复提交，未再次办理）" if result.duplicate else ""
    return redirect(back, flash=("ok", f"已{done}：{h['id']}{note}"))


# --- 上报隐患 ----------------------------------------------------------------------------------------------------


def _report_townships(app: App, viewer: Viewer) -> list[tuple[str, str]]:
    return [
        (u.code, app.tree.label(u))
        for u in app.tree.townships()
        if decide(viewer.principal, Action.DETECT, AreaTarget(u.code)) is Decision.ALLOWED
    ]


_REPORT_KEYS = (
    "title",
    "field",
    "severity",
    "township",
    "village",
    "description",
    "address",
    "lat",
    "lon",
    "ref",
    "source",
)


def _report_page(
    request: Request,
    viewer: Viewer,
    form: dict[str, str],
    flashes: list[tuple[str, str]],
    dupes: list[Any],
    status: int,
) -> Response:
    app = application(request)
    context = _ctx(
        viewer,
        "report",
        "上报隐患",
        form={k: form.get(k, "") for k in _REPORT_KEYS},
        fields=list(app.policy.fields.items()),
        townships=_report_townships(app, viewer),
        sources=views.SOURCES,
        duplicates=[views.hazard_view(d) for d in dupes],
        max_mb=evidence_store(app).max_bytes // 1048576,
        flashes=flashes,
    )
    return _render(request, viewer, "console/report.html", context, status)


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, viewer: Me) -> Response:
    if not viewer.may(Action.DETECT):
        raise PageNotFound()
    return _report_page(request, viewer, {"source": views.SOURCES[0]}, [], [], 200)


def _coordinate(text: str, low: float, high: float, what: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{what}“{text[:30]}”不是数字") from None
    if not low <= value <= high:
        raise InvalidInput(f"{what}应在{low}到{high}之间")
    return value


@router.post("/report", response_class=HTMLResponse)
async def report_submit(request: Request, viewer: Me) -> Response:
    form = await posted_form(request, viewer)
    if not viewer.may(Action.DETECT):
        raise PageNotFound()
    app = application(request)
    values = {k: str(form.get(k) or "").strip() for k in _REPORT_KEYS}
    # The rule for text (models.core.text) before any search: the duplicate check below queries with these values,
    # and PostgreSQL cannot hold a NUL at all.
    bad = [
        Problem(why, field=k)
        for k, v in values.items()
        if (why := text_problem(v, multi_line=k == "description")) is not None
    ]
    if bad:
        return _report_page(
            request, viewer, values, [("error", "上报未能完成：" + views.problem_words(InvalidInput(bad)))], [], 422
        )
    township = values["township"]
    if township not in {code for code, _ in _report_townships(app, viewer)}:
        return _report_page(request, viewer, values, [("error", "请选择本账号辖区内的镇街。")], [], 422)
    ref = values["ref"] or None
    if not form.get("confirm_duplicate"):
        dupes = console_reads.possible_duplicates(
            app, viewer.principal, ref=ref, title=values["title"], address=values["address"] or None
        )
        if dupes:
            return _report_page(request, viewer, values, [], dupes, 409)
    try:
        lat = _coordinate(values["lat"], -90, 90, "纬度")
        lon = _coordinate(values["lon"], -180, 180, "经度")
        if (lat is None) != (lon is None):
            raise InvalidInput("经纬度需要同时填写，或都不填")
        evidence = _store_all(app, await _read_files(form))
        event_id = str(form.get("event_id") or "")[:100] or None
        if ref is None:  # made from the form's event id, so the same form sent twice is the same report
            seed = re.sub(r"[^0-9a-f]", "", (event_id or uuid.uuid4().hex).lower())[-12:] or uuid.uuid4().hex[:12]
            ref = f"WEB-{seed.upper()}"
        hazard: dict[str, Any] = {
            "ref": ref,
            "title": values["title"],
            "description": values["description"],
            "field": values["field"],
            "severity": values["severity"] or "general",
            "township": township,
            "source": values["source"] or views.SOURCES[0],
            "evidence": evidence,
        }
        for key in ("village", "address"):
            if values[key]:
                hazard[key] = values[key]
        if lat is not None:
            hazard["latitude"], hazard["longitude"] = lat, lon
        result = hazards.detect(app, viewer.principal, hazard, event_id=event_id)
    except (InvalidInput, Rejections, Refused) as exc:
        return _report_page(request, viewer, values, [("error", "上报未能完成：" + views.problem_words(exc))], [], 422)
    created = result.hazard["id"]
    if result.duplicate:
        return redirect(f"/hazards/{created}", flash=("warn", f"该隐患已上报过（{created}），本次未重复登记。"))
    return redirect(f"/hazards/{created}", flash=("ok", f"已上报：{created}"))


# --- evidence --------------------------------------------------------------------------------------------------


def _evidence_file(request: Request, viewer: Viewer, key: str, digest: str) -> tuple[App, str, Any]:
    app = application(request)
    if not _DIGEST.fullmatch(digest):
        raise PageNotFound()
    h = _show(app, viewer, key)  # the hazard must be visible to this account...
    if digest not in views.evidence_of(h):  # ...and name this very file in its history
        raise PageNotFound()
    found = evidence_store(app).find(digest)
    if found is None:
        raise PageNotFound()
    return app, h["id"], found


@router.get("/hazards/{key}/evidence/{digest}")
def evidence_file(request: Request, key: str, digest: str, viewer: Me) -> Response:
    _app, hazard_id, (path, media) = _evidence_file(request, viewer, key, digest)
    ext = path.suffix
    return FileResponse(
        path,
        media_type=media,
        filename=f"{hazard_id}-{digest[:12]}{ext}",
        # a photo opens in the browser; a PDF is downloaded (no document of an uploader's runs in this site's pages)
        content_disposition_type="inline" if media.startswith("image/") else "attachment",
        headers={"Cache-Control": "private, max-age=86400", "Content-Security-Policy": "default-src 'none'; sandbox"},
    )


@router.get("/hazards/{key}/evidence/{digest}/thumb")
def evidence_thumb(request: Request, key: str, digest: str, viewer: Me) -> Response:
    app, _hazard_id, (_path, media) = _evidence_file(request, viewer, key, digest)
    thumb = evidence_store(app).thumb_path(digest)
    if not media.startswith("image/") or not thumb.is_file():
        raise PageNotFound()
    return FileResponse(thumb, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
