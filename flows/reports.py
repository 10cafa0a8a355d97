"""The periodic analysis job (日、周、月、季研判): build a period's figures for the city and every county,
and queue one ``report`` notice per scope in the outbox, exactly once per scope and period (the notice's
idempotency key is ``report:{period_kind}:{period_label}:{scope_code}``). ``hazardloop dispatch`` renders
and mails them later, drawing the charts again from the figures stored in the notice.

The figures are built outside any write transaction (they only read); the notices are then written in one
short transaction that first locks the city's document-number counter, re-checks which keys exist and
numbers only the missing ones, so two runs at once queue each report once.

Run locally: ``python -m flows.reports monthly --db sqlite:///hazardloop.db [--period 2025-09]``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from hazardloop.flows.common import transient_db_error, wire
from hazardloop.flows.jobs import record_job
from hazardloop.models.core.hazard import NoticeIntent
from hazardloop.models.core.indicators import IndicatorSet
from hazardloop.models.core.notice_docs import KIND_TITLES, notice_row
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.analysis import Period, Scope, build_figures, report_scopes, resolve_period
from hazardloop.models.store.audit import seal_days, sealed_roots
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.indicator_analysis import indicator_figures
from hazardloop.models.store.repository import Counters, insert_notices
from hazardloop.models.store.tables import NoticeRow
from hazardloop.notifications.charts import CHART_TITLES, chart_names, render_charts
from hazardloop.notifications.rendering import NoticeRenderer, RenderedNotice

_N = NoticeRow.__table__
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
        f"【{KIND_TITLES['report']}】{row['number']} {scope.name}{period.title}风险隐患"
        f"{figures['period']['kind_cn']}研判报告"
    )[:300]
    return row


def preview_context(rules: Rules, period: Period, scope: Scope, figures: dict[str, Any], now: datetime) -> Any:
    """The context of a report that has not been queued (for ``--out``): the same document, unnumbered."""
    context = report_row(rules, period, scope, figures, 0, now)["context"]
    context["number"] = PREVIEW_NUMBER
    return context


def _existing(engine: Engine, keys: list[str]) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        return _existing_in(conn, keys)


def _existing_in(conn: Any, keys: list[str]) -> dict[str, Any]:
    rows = conn.execute(select(_N.c.key, _N.c.number, _N.c.id, _N.c.status).where(_N.c.key.in_(keys)))
    return {r.key: r for r in rows}


def build(
    engine: Engine, rules: Rules, period: Period, scopes: list[Scope], indicators: IndicatorSet | None = None
) -> dict[str, dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        figures = build_figures(conn, rules, period, scopes)
        if indicators is not None and indicators.points:  # the indicator section (一指标一举措), when configured
            for scope in scopes:
                section = indicator_figures(conn, rules, indicators, period, scope)
                if section is not None:
                    figures[scope.code]["indicators"] = section
        return figures


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
    found = _existing(engine, list(keys.values()))
    missing = [s for s in scopes if keys[s.code] not in found]
    if missing and figures is None:
        started = time.perf_counter()
        figures = build(engine, rules, period, missing, indicators)
        run.build_seconds = time.perf_counter() - started
    run.figures = dict(figures or {})
    for attempt in range(2):
        try:
            run.queued, run.already = _write(engine, rules, period, scopes, keys, run.figures, now)
            return run
        except IntegrityError:  # another run queued some of them between our check and our insert
            if attempt:
                raise
    return run


def _write(
    engine: Engine,
    rules: Rules,
    period: Period,
    scopes: list[Scope],
    keys: dict[str, str],
    figures: dict[str, dict[str, Any]],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    queued: list[dict[str, Any]] = []
    already: list[dict[str, Any]] = []
    with unit_of_work(engine) as conn:
        counters = Counters(conn)
        scope_name = "DOC:" + rules.tree.city.code
        year = now.astimezone(rules.policy.tz).year
        counters.peek(scope_name, year)  # takes the numbering row's lock first: a second run waits here
        found = _existing_in(conn, list(keys.values()))
        audit_root = _sealed_day(conn, rules, period, now)
        rows = []
        for scope in scopes:
            key = keys[scope.code]
            if key in found:
                already.append({"scope": scope.code, "key": key, "number": found[key].number, "notice": found[key].id})
                continue
            row = report_row(rules, period, scope, figures[scope.code], counters.next(scope_name, year), now)
            if audit_root is not None:
                row["context"]["audit_root"] = audit_root
            rows.append(row)
            queued.append({"scope": scope.code, "key": key, "number": row["number"], "to": row["to_addrs"]})
        insert_notices(conn, rows)
        counters.flush()
    return queued, already


def _sealed_day(conn: Any, rules: Rules, period: Period, now: datetime) -> dict[str, Any] | None:
    """A daily report carries its day's audit root (sealing the complete days first), so the mail anchors it."""
    if period.kind != "daily":
        return None
    seal_days(conn, rules.policy.tz, now)
    found = sealed_roots(conn, [period.first.isoformat()])
    return found[0].as_dict() if found else None


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
    """The scheduled job: the last complete period of ``kind`` before ``now`` (or ``label``), queued for
    ``scopes`` (default: the city and every county)."""
    period = resolve_period(kind, now, rules.policy.tz, label)
    return queue_reports(engine, rules, period, scopes or report_scopes(rules), now, indicators=indicators)


def stored_context(engine: Engine, key: str) -> dict[str, Any] | None:
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(select(_N.c.context).where(_N.c.key == key)).first()
    return dict(row.context) if row else None


def render_report_files(
    renderer: NoticeRenderer, context: dict[str, Any], out_dir: Path, extra: dict[str, bytes] | None = None
) -> list[Path]:
    """Write ``report.html`` (images as files next to it), ``report.txt``, the chart PNGs and any ``extra`` files,
    all or none (see ``notifications.output_files``)."""
    from hazardloop.notifications.output_files import write_files

    ctx = {**_as_document(context), "image_prefix": "", "image_suffix": ".png"}
    rendered: RenderedNotice = renderer.render("report", ctx)
    files: dict[str, bytes] = {f"{name}.png": png for name, png in render_charts(ctx).items()}
    files["report.html"] = rendered.html.encode("utf-8")
    files["report.txt"] = rendered.text.encode("utf-8")
    files.update(extra or {})
    return write_files(out_dir, files)


def _as_document(context: dict[str, Any]) -> dict[str, Any]:
    out = dict(context)
    for key in ("date", "period_start", "period_end"):
        if isinstance(out.get(key), str):
            out[key] = date.fromisoformat(out[key])
    return out


@task(name="build-and-queue-report", retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=transient_db_error)
def build_and_queue(
    period: str, label: str | None, now: datetime | None, db: str | None, config: str | None
) -> dict[str, Any]:
    app = wire(db, config, now)
    try:
        as_of = app.clock.now()
        with record_job(app.engine, f"{period}_report", as_of) as summary:
            result = run_report(app.engine, app.rules, period, as_of, label=label, indicators=app.indicators).as_dict()
            if period == "daily":  # the day's root went into the mail; the anchor file gets it too
                from hazardloop.services.audit import seal_and_anchor

                result["anchored"] = [day.day for day in seal_and_anchor(app, as_of)]
            summary.update(result)
        return {"as_of": as_of.isoformat(), **result}
    finally:
        app.close()


@flow(name="periodic-report", flow_run_name="report-{period}-{now}")
async def periodic_report(
    period: str,
    label: str | None = None,
    now: datetime | None = None,
    db: str | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """Build the last complete ``period`` (daily, weekly, monthly, quarterly) before ``now`` — or the one
    named by ``label`` (2025-09-14, 2025-W38, 2025-09, 2025-Q3) — and queue its report notices once."""
    result = build_and_queue(period, label, now, db, config)
    get_run_logger().info(
        "%s report %s: %s queued, %s already queued (built in %ss)",
        result["kind"],
        result["period"],
        len(result["queued"]),
        len(result["already_queued"]),
        result["build_seconds"],
    )
    return result


if __name__ == "__main__":
    import asyncio

    args = sys.argv[1:]
    kind = args[0] if args and not args[0].startswith("--") else "daily"
    db_url = args[args.index("--db") + 1] if "--db" in args else None
    chosen = args[args.index("--period") + 1] if "--period" in args else None
    print(asyncio.run(periodic_report(kind, label=chosen, db=db_url)))
