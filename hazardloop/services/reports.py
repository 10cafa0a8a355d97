"""The periodic analysis (日、周、月、季研判) and the ledger: build a period's figures, queue its report notices once
per scope and period and mail them, cut to a principal's jurisdiction for the HTTP API. ``hazardloop report``, the
``periodic-report`` flow and the embedded scheduler's report jobs call these."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import NotFound, Problem
from hazardloop.models.core.figures import Scope, report_scopes, resolve_scope
from hazardloop.models.core.periods import Period, resolve_period
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.ledger import ledger_rows
from hazardloop.models.store.queries import hazard_filters, hazards_within
from hazardloop.services.dispatch import send_pending
from hazardloop.services.hazards import HazardFilter, check_levels, check_states, township_filter
from hazardloop.services.jobs import job_record
from hazardloop.services.report_documents import (
    ReportRun,
    preview_context,
    queue_reports,
    render_report_files,
    report_figures,
    report_key,
    run_report,
    stored_context,
)

PERIOD_KINDS = ("daily", "weekly", "monthly", "quarterly")


def figures(
    app: App, principal: Principal, kind: str, period: str | None = None, scope: str | None = None
) -> dict[str, Any]:
    """The figures of ``report --json`` for ``scope`` (default: the account's own unit), which must be the city, a
    county or a township within the jurisdiction (else it does not exist for the account)."""
    rules = app.rules
    own = app.tree.units[principal.unit_code]
    if scope is None:
        if own.level not in ("city", "county", "township", "area"):
            raise NotFound(
                [
                    Problem(
                        f"{own.name} is not the city, a county or a township, so this account has no analysis: "
                        "an analysis covers the whole of a city, county or township, and none is within its "
                        "jurisdiction",
                        field="scope",
                    )
                ]
            )
        scope = own.code
    unit = app.tree.find(scope, "scope", where=lambda u: principal.jurisdiction.sees_unit(u.code))
    if unit is None or not principal.jurisdiction.sees_unit(unit.code):
        raise NotFound([Problem(f"'{scope}' is not a unit in this account's jurisdiction", field="scope")])
    chosen = resolve_scope(rules, unit.code)
    chosen_period = resolve_period(kind, app.clock.now(), rules.policy.tz, period, field="period")
    return report_figures(app.engine, rules, chosen_period, [chosen])[chosen.code]


@dataclass
class LedgerWorkbook:
    content: bytes  # the .xlsx file
    sheets: dict[str, int]  # sheet title -> hazards on it

    @property
    def rows(self) -> int:
        return sum(self.sheets.values())


def ledger_workbook(
    app: App,
    principal: Principal,
    *,
    township: str | None = None,
    county: str | None = None,
    state: str | None = None,
    target: Path | None = None,
) -> LedgerWorkbook:
    """The hazard ledger (隐患台账) as an Excel workbook, built in full in memory: one sheet per county for the whole
    city, or only ``township`` / ``county`` / ``state`` (names or codes, as the command line gives them). With
    ``target``, the file is checked writable before the ledger is built and written only once it is whole."""
    import io

    from hazardloop.models.core.ledger_filter import resolve_filter
    from hazardloop.notifications.ledger import write_ledger
    from hazardloop.notifications.output_files import check_target, prepare_folder, write_file

    del principal  # the whole organisation: the operator at the server's shell (the API's ledger is `ledger`)
    flt = resolve_filter(app.rules, township=township, county=county, state=state)
    if target is not None:
        check_target(target)
        prepare_folder(target.parent)
    content = io.BytesIO()
    with unit_of_work(app.engine, write=False) as conn:
        summary = write_ledger(ledger_rows(conn, flt), app.rules, app.clock.now(), content, flt)
    if target is not None:
        write_file(target, content.getvalue())
    return LedgerWorkbook(content.getvalue(), dict(summary.sheets))


def ledger(app: App, principal: Principal, flt: HazardFilter) -> bytes:
    """The hazard ledger (.xlsx) of the principal's jurisdiction with the ``hazards`` filters, one sheet per
    county (the account's own county or township only, when it is one)."""
    from hazardloop.models.core.ledger_filter import LedgerFilter
    from hazardloop.notifications.ledger import ledger_bytes

    check_states(flt.state, "state")
    check_levels(flt.level, "level")
    flt = township_filter(app, principal, flt)
    now = app.clock.now()
    where = hazard_filters(
        app.rules,
        now,
        state=flt.state,
        township=flt.township,
        unit=flt.unit,
        field=flt.field,
        overdue=flt.overdue,
        level=flt.level,
        q=flt.q,
        option=lambda name: name,
    )
    scope = hazards_within(principal.jurisdiction)
    if scope is not None:
        where.append(scope)
    own = app.tree.units[principal.unit_code]
    ledger_filter = LedgerFilter(
        township=own.code if own.level in ("township", "area") else None,
        county=own.code if own.level == "county" else None,
        where=tuple(where),
    )
    with unit_of_work(app.engine, write=False) as conn:
        return ledger_bytes(ledger_rows(conn, ledger_filter), app.rules, now, ledger_filter)


# --- the scheduled job and the command line's report ------------------------------------------------------------


@dataclass
class QueuedReports:
    """One run of a report job: the period it queued, the notices it queued and found queued before."""

    as_of: datetime
    run: ReportRun

    def as_dict(self) -> dict[str, Any]:
        """The flow's result: the instant, then the run's figures."""
        return {"as_of": self.as_of.isoformat(), **self.run.as_dict()}


def queue_period_reports(app: App, principal: Principal, kind: str, *, label: str | None = None) -> QueuedReports:
    """The scheduled report job: the last complete period of ``kind`` before the app's clock (or the one named by
    ``label``: 2025-09-14, 2025-W38, 2025-09, 2025-Q3), built and queued once for the city and every county, recorded
    as the ``{kind}_report`` job. The notices are mailed by the next dispatch."""
    with job_record(app, principal, f"{kind}_report") as job:
        run = run_report(app.engine, app.rules, kind, job.as_of, label=label, indicators=app.indicators)
        job.summary.update(run.as_dict())
        if kind == "daily":  # the day's root went into the mail; the anchor file gets it too
            from hazardloop.services.audit import seal_and_anchor

            job.summary["anchored"] = [day.day for day in seal_and_anchor(app, job.as_of)]
    return QueuedReports(job.as_of, run)


@dataclass
class ReportOutcome:
    """What ``report PERIOD`` built: the figures of one scope; with ``send`` the notices queued (or queued before)
    and what mailing them did; with ``out_dir`` the files written."""

    period: Period
    scope: Scope
    figures: dict[str, Any]
    notices: dict[str, Any] | None = None
    mail_errors: list[str] | None = None
    written: list[Path] | None = None


# the keys of a stored report context that are its figures
FIGURE_KEYS = (
    "scope",
    "period",
    "data_since",
    "totals",
    "by_field",
    "by_county",
    "by_township",
    "rankings",
    "county_rank",
    "listings",
    "oldest_open",
    "comparisons",
    "trend",
    "indicators",  # only when indicators.yaml has monitoring points in the scope
)


def build_report(
    app: App,
    principal: Principal,
    kind: str,
    *,
    period: str | None = None,
    scope: str | None = None,
    out_dir: Path | None = None,
    send: bool = False,
) -> ReportOutcome:
    """The analysis of ``kind`` as of the app's clock (the last complete period, or ``period``) for ``scope`` (the
    city by default). ``send`` queues the report (for the city and every county, or only ``scope``) once per period
    and mails those reports now through the outbox, each at most once (one still pending from an earlier run goes
    now too), recorded as the ``{kind}_report`` and ``dispatch`` jobs. ``out_dir`` gets report.html, report.txt,
    figures.json and the charts: the folder is checked before anything is built or mailed."""
    from hazardloop.notifications.output_files import check_target, prepare_folder

    rules, engine = app.rules, app.engine
    now = app.clock.now()
    chosen_period = resolve_period(kind, now, rules.policy.tz, period)
    chosen = resolve_scope(rules, scope)
    if out_dir is not None:  # before anything is built or mailed: a folder that cannot hold the files is said now
        from hazardloop.notifications.charts import CHART_TITLES

        prepare_folder(out_dir)
        for name in ("report.html", "report.txt", "figures.json", *(f"{chart}.png" for chart in CHART_TITLES)):
            check_target(out_dir / name)
    outcome = ReportOutcome(chosen_period, chosen, {})
    figures: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    if send:
        scopes = [chosen] if scope else report_scopes(rules)
        if chosen.code not in {s.code for s in scopes}:
            scopes.append(chosen)
        with job_record(app, principal, f"{chosen_period.kind}_report") as job:
            run = queue_reports(engine, rules, chosen_period, scopes, now, indicators=app.indicators)
            job.summary.update(run.as_dict())
            if chosen_period.kind == "daily":  # as the scheduled job: the root that goes into the mail is anchored
                from hazardloop.services.audit import seal_and_anchor

                job.summary["anchored"] = [day.day for day in seal_and_anchor(app, now)]
        keys = [n["key"] for n in (*run.queued, *run.already)]
        mailed = send_pending(app, principal, keys=keys)
        outcome.notices = {"queued": run.queued, "already_queued": run.already, "dispatch": mailed.report.as_dict()}
        outcome.mail_errors = mailed.report.errors
        figures = run.figures.get(chosen.code)
        context = stored_context(engine, report_key(chosen_period, chosen.code))
    if figures is None:
        if context is not None:  # queued earlier: show what was sent
            figures = {k: context[k] for k in FIGURE_KEYS if k in context}
        else:
            figures = report_figures(engine, rules, chosen_period, [chosen], app.indicators)[chosen.code]
    outcome.figures = figures
    if out_dir is not None:
        if context is None:
            context = preview_context(rules, chosen_period, chosen, figures, now)
        figures_json = json.dumps(figures, ensure_ascii=False, indent=1).encode("utf-8")
        outcome.written = render_report_files(app.renderer, context, out_dir, {"figures.json": figures_json})
    return outcome
