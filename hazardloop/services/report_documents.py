"""A period's report as a notice: its idempotency key (``report:{period_kind}:{period_label}:{scope_code}``), the
context it stores (the figures, the period, the charts), its outbox row, and the files ``--out`` writes. Queueing
builds the figures of the scopes not queued yet and writes their notices once (``models/store/report_notices.py``
holds the SQL). ``hazardloop dispatch`` renders and mails them later, drawing the charts again from the figures
stored in the notice."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from hazardloop.models.core.figures import Scope, report_scopes
from hazardloop.models.core.hazard import NoticeIntent
from hazardloop.models.core.indicators import IndicatorSet
from hazardloop.models.core.notice_docs import notice_row
from hazardloop.models.core.notice_kinds import NOTICE_KINDS
from hazardloop.models.core.periods import Period, resolve_period
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.report_notices import (
    queue_missing_reports,
    queued_reports,
    report_figures,
    stored_report_context,
)
from hazardloop.notifications.charts import CHART_TITLES, chart_names, render_charts
from hazardloop.notifications.rendering import NoticeRenderer, RenderedNotice

PREVIEW_NUMBER = "（预览稿，未编号）"


def report_key(period: Period, scope_code: str) -> str:
    return f"report:{period.kind}:{period.label}:{scope_code}"


@dataclass
class ReportRun:
    period: Period
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # scope code -> figures built this run
    queued: list[dict[str, Any]] = field(default_factory=list)
    already: list[dict[str, Any]] = field(default_factory=list)
    build_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "kind": self.period.kind,
            "queued": self.queued,
            "already_queued": self.already,
            "build_seconds": round(self.build_seconds, 3),
        }


def _intent(rules: Rules, period: Period, scope: Scope, now: datetime) -> NoticeIntent:
    return NoticeIntent(
        kind="report",
        key=report_key(period, scope.code),
        hazard_id=None,
        township_code=scope.code if scope.level == "township" else None,
        recipient_code=scope.code,
        cc_codes=(),
        issuer_code=rules.tree.city.code,
        at=now,
    )


def report_context(figures: dict[str, Any]) -> dict[str, Any]:
    """What a report notice stores beyond the common document keys: the figures themselves, the period
    bounds as ISO dates (the dispatcher turns ``period_start``/``period_end`` into dates) and the charts."""
    period = figures["period"]
    return {
        **figures,
        "period_kind": period["kind"],
        "period_label": period["label"],
        "period_start": period["start"],
        "period_end": period["end"],
        "charts": chart_names(figures),
        "chart_titles": dict(CHART_TITLES),
        "image_prefix": "cid:",
        "image_suffix": "",
        "feedback_days": None,
    }


def report_row(
    rules: Rules, period: Period, scope: Scope, figures: dict[str, Any], seq: int, now: datetime
) -> dict[str, Any]:
    """The outbox row of one scope's report, shaped like every other notice."""
    row = notice_row(rules, _intent(rules, period, scope, now), None, seq, now, report_context(figures))
    row["subject"] = (
        f"【{NOTICE_KINDS['report'].title}】{row['number']} {scope.name}{period.title}风险隐患"
        f"{figures['period']['kind_cn']}研判报告"
    )[:300]
    return row


def preview_context(rules: Rules, period: Period, scope: Scope, figures: dict[str, Any], now: datetime) -> Any:
    """The context of a report that has not been queued (for ``--out``): the same document, unnumbered."""
    context = report_row(rules, period, scope, figures, 0, now)["context"]
    context["number"] = PREVIEW_NUMBER
    return context


build = report_figures  # the figures of a period for some scopes (reads only)
stored_context = stored_report_context


def queue_reports(
    engine: Engine,
    rules: Rules,
    period: Period,
    scopes: list[Scope],
    now: datetime,
    figures: dict[str, dict[str, Any]] | None = None,
    indicators: IndicatorSet | None = None,
) -> ReportRun:
    """Build (unless ``figures`` are given) and queue the report of every scope not queued yet."""
    run = ReportRun(period)
    keys = {s.code: report_key(period, s.code) for s in scopes}
    found = queued_reports(engine, list(keys.values()))
    missing = [s for s in scopes if keys[s.code] not in found]
    if missing and figures is None:
        started = time.perf_counter()  # how long the figures took, for the job's record: no rule reads it
        figures = report_figures(engine, rules, period, missing, indicators)
        run.build_seconds = time.perf_counter() - started
    run.figures = dict(figures or {})

    def make_row(scope: Scope, seq: int) -> dict[str, Any]:
        return report_row(rules, period, scope, run.figures[scope.code], seq, now)

    for attempt in range(2):
        try:
            audit_day = period.first if period.kind == "daily" else None
            run.queued, run.already = queue_missing_reports(engine, rules, scopes, keys, make_row, now, audit_day)
            return run
        except IntegrityError:  # another run queued some of them between our check and our insert
            if attempt:
                raise
    return run


def run_report(
    engine: Engine,
    rules: Rules,
    kind: str,
    now: datetime,
    *,
    label: str | None = None,
    scopes: list[Scope] | None = None,
    indicators: IndicatorSet | None = None,
) -> ReportRun:
    """The last complete period of ``kind`` before ``now`` (or ``label``), queued for ``scopes`` (default: the city
    and every county)."""
    period = resolve_period(kind, now, rules.policy.tz, label)
    return queue_reports(engine, rules, period, scopes or report_scopes(rules), now, indicators=indicators)


def render_report_files(
    renderer: NoticeRenderer, context: dict[str, Any], out_dir: Path, extra: dict[str, bytes] | None = None
) -> list[Path]:
    """Write ``report.html`` (images as files next to it), ``report.txt``, the chart PNGs and any ``extra`` files,
    all or none (see ``notifications.output_files``)."""
    from hazardloop.notifications.output_files import write_files

    ctx = {**as_document(context), "image_prefix": "", "image_suffix": ".png"}
    rendered: RenderedNotice = renderer.render("report", ctx)
    files: dict[str, bytes] = {f"{name}.png": png for name, png in render_charts(ctx).items()}
    files["report.html"] = rendered.html.encode("utf-8")
    files["report.txt"] = rendered.text.encode("utf-8")
    files.update(extra or {})
    return write_files(out_dir, files)


def as_document(context: dict[str, Any]) -> dict[str, Any]:
    """A stored context's dates as dates, as the templates expect them."""
    out = dict(context)
    for key in ("date", "period_start", "period_end"):
        if isinstance(out.get(key), str):
            out[key] = date.fromisoformat(out[key])
    return out
