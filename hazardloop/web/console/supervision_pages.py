"""督办总览 (county and city: townships, listings, the escalation preview; list and delist from here) and 研判 (the
periodic analysis of the account's scope with its charts, as a page, an HTML file and an Excel workbook)."""

from __future__ import annotations

import base64
import io
import re
import threading
from collections import OrderedDict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action
from hazardloop.models.core.errors import InvalidInput, NotFound, Refused, Rejections
from hazardloop.notifications.rendering import LEVEL_NAMES, percent
from hazardloop.services import console_reads, reports, townships

from . import views
from .render import page, redirect
from .routing import console_router
from .session import NotFound as PageNotFound
from .session import Viewer, application, posted_form, signed_in

router = console_router()
Me = Annotated[Viewer, Depends(signed_in)]
RUNG_NAMES = {"ack_reminder": "签收催办", "reminder": "到期催办", "supervision": "逾期督办", "elevation": "提级督办"}
PERIODS = (("daily", "日研判"), ("weekly", "周研判"), ("monthly", "月研判"), ("quarterly", "季研判"))


def _rate(value: float | None) -> str:
    return percent(value) if value is not None else "—"


def _cue(value: float | None, floor: float) -> str:
    if value is None:
        return ""
    return "low" if value < floor else ("mid" if value < floor + 0.1 else "")


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request, viewer: Me) -> Response:
    app = application(request)
    unit = app.tree.units[viewer.principal.unit_code]
    if unit.level not in ("city", "county") and not viewer.principal.jurisdiction.everything:
        raise PageNotFound()
    now = app.clock.now()
    found = console_reads.overview(app, viewer.principal, now)
    floor = app.rules.policy.listing.min_clearance_rate
    lines = []
    for t in found.townships:
        listing = None
        if t.listing is not None:
            listing = {**t.listing, "delist_proposed": bool(t.listing.get("delist_proposed_at"))}
        lines.append(
            {
                **t.__dict__,
                "listing": listing,
                "clearance_text": _rate(t.clearance_rate),
                "clearance_pct": round((t.clearance_rate or 0) * 100),
                "clearance_cue": _cue(t.clearance_rate, floor),
                "on_time_text": _rate(t.on_time_rate),
            }
        )
    listings = [
        {
            **row,
            "listed_text": views.local_text(row["listed_at"], with_time=False),
            "deadline_text": views.local_text(row["deadline"], with_time=False),
            "delisted_text": views.local_text(row["delisted_at"], with_time=False),
            "delist_proposed_text": views.local_text(row["delist_proposed_at"], with_time=False)
            if row["delist_proposed_at"]
            else "",
            "problem_count": len(row["problems"]) + len(row["problem_hazards"]),
        }
        for row in found.listings
    ]
    actor_unit = app.tree.units[viewer.principal.unit_code]
    preview = []
    for r in found.preview:
        level = r.get("level")
        township = app.tree.units.get(str(r["township"]))
        responsible = app.tree.units.get(str(r.get("unit") or ""))
        escalate_to = None
        if r["action"] == "elevation" and level and viewer.may(Action.ESCALATE):
            current = str(r.get("current_level") or "none")
            if app.tree.may_escalate(actor_unit, str(r["township"]), current, str(level)) is None:
                escalate_to = level
        preview.append(
            {
                **r,
                "when_text": views.local_text(app.rules.local_iso(_instant(r["at"]))),
                "what": RUNG_NAMES.get(str(r["action"]), str(r["action"]))
                + (f"（{LEVEL_NAMES.get(str(level), str(level))}）" if level else ""),
                "township": township.name if township else r["township"],
                "unit_name": responsible.name if responsible else "—",
                "escalate_to": escalate_to,
            }
        )
    totals = {
        **found.totals,
        "clearance_text": _rate(found.totals["clearance_rate"]),
        "on_time_text": _rate(found.totals["on_time_rate"]),
    }
    context = {
        "section": "overview",
        "title": "督办总览",
        "scope_name": unit.name,
        "today": views.local_text(app.rules.local_iso(now), with_time=False),
        "townships": lines,
        "listings": listings,
        "listings_active": [row for row in listings if row["active"]],
        "preview": preview,
        "preview_more": found.preview_more,
        "totals": totals,
        "can_list": viewer.may(Action.LIST),
        "can_escalate": viewer.may(Action.ESCALATE),
    }
    return page(request, "console/overview.html", context, me=viewer, csrf=viewer.csrf)


def _instant(text: Any) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(str(text))


@router.post("/townships/{code}/{action}")
async def township_action(request: Request, code: str, action: str, viewer: Me) -> Response:
    form = await posted_form(request, viewer)
    if action not in ("list", "delist"):
        raise PageNotFound()
    app = application(request)
    reason = str(form.get("reason") or "").strip()
    force = bool(form.get("force"))
    words = "挂牌督办" if action == "list" else "摘牌"
    try:
        result = townships.change_listing(
            app, viewer.principal, code, Action.LIST if action == "list" else Action.DELIST, reason, force=force
        )
    except NotFound:
        raise PageNotFound() from None
    except (InvalidInput, Rejections, Refused) as exc:
        return redirect("/overview", flash=("error", f"{words}未能完成：{views.problem_words(exc)}"))
    name = result.township["name"]
    note = f"，已生成{result.notices}份通知" if result.notices else ""
    return redirect(f"/overview#township-{code}", flash=("ok", f"{name}已{words}{note}。"))


# --- 研判 ---------------------------------------------------------------------------------------------------------

_CACHE: OrderedDict[tuple[Any, ...], tuple[str, dict[str, Any]]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)


def _scopes(app: App, viewer: Viewer) -> list[tuple[str, str]]:
    j = viewer.principal.jurisdiction
    own = app.tree.units[viewer.principal.unit_code]
    found = []
    if own.level in ("city", "county", "township", "area"):
        found.append((own.code, own.name))
    for unit in [*app.tree.counties(), *app.tree.townships()]:
        if (
            unit.code != own.code
            and j.sees_unit(unit.code)
            and (own.level != "department" or j.sees_township(unit.code))
        ):
            found.append((unit.code, app.tree.label(unit)))
    return found


def _analysis(app: App, viewer: Viewer, period: str, label: str | None, scope: str) -> tuple[str, dict[str, Any]]:
    """The report document (HTML with its charts inline) and its figures, cached for a few minutes per question."""
    from hazardloop.models.core.figures import resolve_scope
    from hazardloop.models.core.periods import resolve_period
    from hazardloop.notifications.charts import render_charts
    from hazardloop.services.report_documents import as_document, preview_context

    now = app.clock.now()
    key = (period, label, scope, app.rules.local_day(now).isoformat(), now.hour)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    figures = reports.figures(app, viewer.principal, period, label, scope)
    chosen_period = resolve_period(period, now, app.rules.policy.tz, label, field="period")
    context = as_document(preview_context(app.rules, chosen_period, resolve_scope(app.rules, scope), figures, now))
    rendered = app.renderer.render("report", {**context, "image_prefix": "cid:", "image_suffix": ""})
    html = rendered.html
    for name, png in render_charts(context).items():
        html = html.replace(f"cid:{name}", "data:image/png;base64," + base64.b64encode(png).decode())
    result = (html, figures)
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > 32:
            _CACHE.popitem(last=False)
    return result


def _analysis_args(request: Request, app: App, viewer: Viewer) -> tuple[str, str | None, str]:
    q = request.query_params
    period = q.get("period") or "monthly"
    if period not in dict(PERIODS):
        period = "monthly"
    label = (q.get("label") or "").strip()[:20] or None
    scopes = _scopes(app, viewer)
    scope = q.get("scope") or (scopes[0][0] if scopes else "")
    if scope not in {code for code, _ in scopes}:
        raise PageNotFound()
    return period, label, scope


@router.get("/analysis", response_class=HTMLResponse)
def analysis(request: Request, viewer: Me) -> Response:
    app = application(request)
    scopes = _scopes(app, viewer)
    context: dict[str, Any] = {
        "section": "analysis",
        "title": "研判分析",
        "periods": PERIODS,
        "scopes": scopes,
        "scope_name": "",
        "report_html": None,
        "error": None,
        "period": "monthly",
        "label": "",
        "scope": "",
        "html_href": "",
        "xlsx_href": "",
    }
    if not scopes:
        context["error"] = "本单位不是市、区县或镇街，没有本级的研判分析。"
        return page(request, "console/analysis.html", context, me=viewer, csrf=viewer.csrf)
    period, label, scope = _analysis_args(request, app, viewer)
    args = urlencode({k: v for k, v in {"period": period, "label": label or "", "scope": scope}.items() if v})
    context.update(
        period=period,
        label=label or "",
        scope=scope,
        scope_name=dict(scopes)[scope],
        html_href=f"/analysis/report.html?{args}",
        xlsx_href=f"/analysis/report.xlsx?{args}",
    )
    try:
        html, _figures = _analysis(app, viewer, period, label, scope)
        body = _BODY.search(html)
        context["report_html"] = Markup(body.group(1) if body else html)  # our own template's output, escaped there
    except NotFound:
        raise PageNotFound() from None
    except InvalidInput as exc:
        context["error"] = "无法生成研判：" + "；".join(p.message for p in exc.problems)
    return page(request, "console/analysis.html", context, me=viewer, csrf=viewer.csrf)


@router.get("/analysis/report.html")
def analysis_html(request: Request, viewer: Me) -> Response:
    app = application(request)
    period, label, scope = _analysis_args(request, app, viewer)
    try:
        html, figures = _analysis(app, viewer, period, label, scope)
    except InvalidInput:
        raise PageNotFound() from None
    name = f"研判-{figures['scope']['name']}-{figures['period']['label']}.html"
    return Response(html, media_type="text/html; charset=utf-8", headers=_download(name))


@router.get("/analysis/report.xlsx")
def analysis_xlsx(request: Request, viewer: Me) -> Response:
    app = application(request)
    period, label, scope = _analysis_args(request, app, viewer)
    try:
        _html, figures = _analysis(app, viewer, period, label, scope)
    except InvalidInput:
        raise PageNotFound() from None
    name = f"研判-{figures['scope']['name']}-{figures['period']['label']}.xlsx"
    return Response(
        figures_workbook(figures),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=_download(name),
    )


def _download(name: str) -> dict[str, str]:
    from urllib.parse import quote

    return {"Content-Disposition": f"attachment; filename=\"report\"; filename*=UTF-8''{quote(name)}"}


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: numbers stay numbers; text that a spreadsheet would run as a formula is
    prefixed with an apostrophe (names come from org.yaml and reasons from people)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("是" if value else "否")
    if isinstance(value, int | float):
        return value
    text = str(value) if not isinstance(value, dict | list) else ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def figures_workbook(figures: dict[str, Any]) -> bytes:
    """The figures as a workbook: the plain values on one sheet, each table (a list of rows) on a sheet of its own."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    summary = book.create_sheet("概况")
    summary.append(["项目", "数值"])

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            title = re.sub(r"[\[\]:*?/\\]", "_", prefix)[:31] or "表"
            sheet = book.create_sheet(title)
            headers = list(dict.fromkeys(k for r in value for k, v in r.items() if not isinstance(v, dict | list)))
            sheet.append(headers)
            for r in value:
                sheet.append([_cell(r.get(h)) for h in headers])
        elif not isinstance(value, list):
            summary.append([prefix, _cell(value)])

    walk("", figures)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
