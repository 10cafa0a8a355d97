"""Commands that drive hazards: init, apply, import, hazards, show, export, escalate, supervise, delist,
sweep, preview, listings."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hazardloop.cli import app, err, handled, opts, out, print_json, read_lines
from hazardloop.models.core.errors import ConfigError, InvalidInput, Problem, Rejections
from hazardloop.models.core.vocabulary import STATE_NAMES, SUPERVISION_LEVELS
from hazardloop.models.store.db import schema_is_current, unit_of_work, upgrade
from hazardloop.models.store.intake import ApplyReport
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.url_text import shown_url
from hazardloop.services.hazards import apply_events, record_manual
from hazardloop.services.identity import cli_principal
from hazardloop.terminal import styled

PROGRESS_FROM = 2000


def ready(ctx: typer.Context) -> Any:
    """The wired app, refusing to work on a database that `init` has not prepared."""
    application = opts(ctx).app()
    url = application.engine.url
    sqlite_file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
    if sqlite_file and not Path(sqlite_file).exists():  # said before connecting, which would leave an empty file
        raise ConfigError(f"there is no database at {sqlite_file}; run `hazardloop init` to create it")
    if not schema_is_current(application.engine):
        raise ConfigError(
            f"the database {shown_url(application.engine.url)} is not "
            "initialised or is out of date; run `hazardloop init` first"
        )
    return application


def _progress(total: int, label: str) -> Any:
    if total < PROGRESS_FROM:
        return nullcontext(None)
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
    )


@app.command()
@handled
def init(ctx: typer.Context) -> None:
    """Create or upgrade the schema and load the organisation from org.yaml (safe to run again)."""
    application = opts(ctx).app()
    application.indicators  # noqa: B018  (a bad indicators.yaml fails here, before anything is written)
    before, after = upgrade(application.engine)
    sync = sync_units(application.engine, application.org)
    url = shown_url(application.engine.url)
    schema = f"schema upgraded {before or 'empty'} → {after}" if before != after else f"schema at {after}"
    out.print(
        f"{url}: {schema}; units: {sync.added} added, {sync.changed} changed, "
        f"{sync.deactivated} deactivated, {sync.unchanged} unchanged",
        highlight=False,
    )


def _json_report(report: ApplyReport) -> None:
    print_json(
        {
            "lines": report.lines,
            "applied": report.applied,
            "duplicates": report.duplicates,
            "created": len(report.created),
            "notices": report.notices,
            "rejected": [
                {"line": p.line, "field": p.field, "message": p.message, "refused": p.refused} for p in report.rejected
            ],
        }
    )


def _report_apply(report: ApplyReport, as_json: bool) -> None:
    if as_json:
        _json_report(report)
    else:
        out.print(
            f"applied {report.applied} event(s), {report.duplicates} duplicate(s) skipped, "
            f"{len(report.created)} hazard(s) created, {report.notices} notice(s) queued",
            highlight=False,
        )
        for note in report.duplicate_notes[:20]:
            out.print(f"  duplicate: {note}", highlight=False)
    if report.rejected:
        err.print(f"rejected {len(report.rejected)} line(s):", highlight=False)
        for p in report.rejected[:200]:
            err.print(f"  {p}", markup=False, highlight=False)


def _as_is(problem: Problem) -> Problem:
    return problem


def _apply(
    ctx: typer.Context,
    source: str,
    lines: list[tuple[int, str]],
    partial: bool,
    as_json: bool,
    speak: Callable[[Problem], Problem] = _as_is,
) -> None:
    """Apply and report; ``speak`` rewords each problem for the input's own terms (a ledger's columns)."""
    application = ready(ctx)
    try:
        with _progress(len(lines), "applying") as bar:
            task = bar.add_task("apply", total=len(lines)) if bar else None
            report = apply_events(
                application,
                cli_principal(application),
                lines,
                source=source,
                partial=partial,
                progress=(lambda n: bar.advance(task, n)) if bar else None,
            )
    except Rejections as exc:
        problems = [speak(p) for p in exc.problems]
        if as_json:  # a script asked for JSON: it gets the rejected lines there too, with nothing applied
            _json_report(ApplyReport(lines=len(lines), rejected=problems))
        raise Rejections(problems) from None
    report.rejected = [speak(p) for p in report.rejected]
    _report_apply(report, as_json)
    if report.rejected and not (report.applied or report.duplicates):
        # --partial wrote nothing at all: the file is as bad as an all-or-nothing rejection
        raise typer.Exit(Rejections(report.rejected).exit_code)


@app.command("apply")
@handled
def apply_cmd(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="JSON Lines file of events, or - for standard input")],
    partial: Annotated[bool, typer.Option("--partial", help="apply the good lines, list the rejected ones")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
) -> None:
    """Apply a file of events (all-or-nothing unless --partial)."""
    source, lines = read_lines(file)
    _apply(ctx, source, lines, partial, as_json)


@app.command("import")
@handled
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="hazard ledger (台账), .csv or .xlsx")],
    partial: Annotated[bool, typer.Option("--partial")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a hazard ledger as detection events (same all-or-nothing rule as apply)."""
    import zipfile

    from hazardloop.importer import read_ledger

    if not file.is_file():
        raise InvalidInput([Problem("file not found" if not file.exists() else "not a file", source=str(file))])
    application = opts(ctx).app()
    try:
        ledger = read_ledger(file, application.policy.tz, application.policy.fields)
        lines, columns = ledger.lines, ledger.columns
    except InvalidInput:
        raise  # the ledger's own problems (no header, a missing column, not .csv/.xlsx) are already worded
    except UnicodeDecodeError:
        raise InvalidInput(
            [
                Problem(
                    "the CSV file is not UTF-8 text; in Excel use “Save As → CSV UTF-8”, or "
                    "import the .xlsx file directly",
                    source=str(file),
                )
            ]
        ) from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InvalidInput([Problem(f"cannot be read as a ledger ({exc})", source=str(file))]) from None
    except Exception as exc:  # openpyxl's InvalidFileException and friends: a damaged or foreign spreadsheet
        raise InvalidInput(
            [Problem(f"cannot be read as a spreadsheet ({type(exc).__name__}: {exc})", source=str(file))]
        ) from None
    _apply(ctx, str(file), lines, partial, as_json, speak=functools.partial(_in_ledger_terms, columns))


# The validation words a few values in the event's terms; a ledger writes them its own way.
_LEDGER_WORDING = (
    ("hazard.severity", re.compile(r"expected 'general' or 'major'$"), "use 一般 or 重大 (or general / major)"),
    ("at", re.compile(r"\(use ISO 8601 like [^)]*\)$"), "(e.g. 2025-10-13 09:30, or 2025-10-13T09:30:00+08:00)"),
)


def _in_ledger_terms(columns: dict[str, str], problem: Problem) -> Problem:
    """A problem of an imported row, told with the ledger's column header and its way of writing values."""
    message = problem.message
    for field, wording, ledger_wording in _LEDGER_WORDING:
        if problem.field == field:
            message = wording.sub(ledger_wording, message)
    field = columns.get(problem.field or "", problem.field)
    return Problem(message, problem.source, problem.line, field, problem.refused)


def _hazard_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    for col in ("id", "state", "level", "field", "sev", "township", "unit", "due", "title"):
        table.add_column(col, overflow="fold")
    for h in rows:
        due = (h["due_at"] or "")[:10]
        if h["overdue"]:
            due = styled((f"{due} (+{h['overdue_days']})", "red"))
        table.add_row(
            h["id"],
            STATE_NAMES.get(h["state"], h["state"]),
            h["level"],
            h["field_name"],
            "重大" if h["severity"] == "major" else "一般",
            h["township"],
            h["unit_name"] or "",
            due,
            h["title"],
        )
    return table


@app.command()
@handled
def hazards(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option("--state", help="state(s), comma-separated")] = None,
    township: Annotated[str | None, typer.Option("--township", help="township name or code")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="responsible unit name or code")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only hazards past their deadline")] = False,
    level: Annotated[str | None, typer.Option("--level", help="supervision level")] = None,
    limit: Annotated[int | None, typer.Option("--limit")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List hazards."""
    from hazardloop.services.hazards import HazardFilter, check_states, list_rows

    check_states(state, "--state")
    application = ready(ctx)
    flt = HazardFilter(state=state, township=township, unit=unit, overdue=overdue, level=level)
    rows = list_rows(application, cli_principal(application), flt, limit=limit, option=lambda name: f"--{name}")
    if as_json:
        print_json(rows)
        return
    out.print(_hazard_table(rows))
    out.print(f"{len(rows)} hazard(s)", highlight=False)


@app.command()
@handled
def show(
    ctx: typer.Context,
    hazard: Annotated[str, typer.Argument(help="hazard id (HZ-2025-000123) or source reference")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One hazard with its whole history."""
    from hazardloop.services.hazards import show as show_one

    application = ready(ctx)
    view = show_one(application, cli_principal(application), hazard, field_name="HAZARD")
    if as_json:
        print_json(view)
        return
    out.print(styled((view["id"], "bold"), f" {view['title']}  ({view['ref']})"))
    due = view["due_at"] or "-"
    if view["deadline_provisional"]:
        due += " (provisional: holiday schedule not yet published)"
    for label, value in (
        ("state", f"{view['state']} / {STATE_NAMES.get(view['state'], '')}"),
        ("field", f"{view['field_name']} ({view['field']}), {view['severity']}"),
        (
            "where",
            " ".join(x for x in (view["county"], view["township"], view["village"], view["address"]) if x),
        ),
        ("unit", f"{view['unit_name'] or '-'} ({view['unit'] or '-'})"),
        ("level", view["level"]),
        ("due", due),
        ("overdue", f"yes, {view['overdue_days']} working day(s)" if view["overdue"] else "no"),
        ("rework", str(view["rework_count"])),
        ("description", view["description"]),
    ):
        out.print(f"  {label:<12}{value}", markup=False, highlight=False)
    table = Table(title="history", header_style="bold")
    for col in ("at", "action", "from → to", "level", "actor", "reason"):
        table.add_column(col, overflow="fold")
    for t in view["history"]:
        table.add_row(
            t["at"][:19],
            t["action"],
            f"{t['from'] or ''} → {t['to'] or ''}",
            t["level"] or "",
            t["actor"],
            t["reason"] or "",
        )
    out.print(table)
    for n in view["notices"]:
        out.print(
            f"  notice {n['id']} {n['kind']} {n['number']} [{n['status']}] → {', '.join(n['to'])}",
            markup=False,
            highlight=False,
        )


@app.command()
@handled
def export(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="the whole state as one JSON document")] = True,
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
) -> None:
    """The whole state (units, hazards, transitions, notices, listings, events) as one JSON document."""
    from hazardloop.models.store.queries import export_state

    application = ready(ctx)
    with unit_of_work(application.engine, write=False) as conn:
        state = export_state(conn, application.rules, application.clock.now())
    if output:
        output.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        out.print(f"wrote {output}", highlight=False)
    else:
        print_json(state)


# What a manual command calls the event fields its problems are about; "type" (the action itself) needs no name.
_OPTION_OF = {"actor": "--by", "to": "--to", "reason": "--reason", "type": None}


def _manual(ctx: typer.Context, payload: dict[str, Any]) -> None:
    """One event of a manual command, recorded as the operator declares it (``--by``): a ``cli`` principal."""
    application = ready(ctx)
    try:
        record_manual(application, cli_principal(application, payload.get("actor")), payload)
    except InvalidInput as exc:
        raise InvalidInput([_in_option_terms(p) for p in exc.problems]) from None
    except Rejections as exc:
        # One command, one event: report the problem without the synthetic "line 1", naming the command's own
        # option rather than the event's field.
        raise Rejections([_in_option_terms(p) for p in exc.problems]) from None
    out.print(f"{payload['type']} recorded for {payload.get('hazard') or payload.get('township')}", highlight=False)


def _in_option_terms(problem: Problem) -> Problem:
    return Problem(problem.message, field=_OPTION_OF.get(problem.field or "", problem.field), refused=problem.refused)


@app.command()
@handled
def escalate(
    ctx: typer.Context,
    hazard: Annotated[str, typer.Argument(help="hazard id or source reference")],
    to: Annotated[str, typer.Option("--to", help="township, county or city")],
    reason: Annotated[str, typer.Option("--reason")],
    by: Annotated[str, typer.Option("--by", help="unit code, optionally /person")],
) -> None:
    """A supervisor escalates a hazard by hand."""
    if to not in SUPERVISION_LEVELS:
        raise InvalidInput([Problem(f"'{to}' is not a level; use township, county or city", field="--to")])
    _manual(ctx, {"type": "hazard.escalated", "hazard": hazard, "to": to, "reason": reason, "actor": by})


@app.command()
@handled
def supervise(
    ctx: typer.Context,
    township: Annotated[str, typer.Argument(help="township name or code")],
    reason: Annotated[str, typer.Option("--reason")],
    by: Annotated[str, typer.Option("--by")],
) -> None:
    """List a township for elevated supervision (提级挂牌督办)."""
    _manual(ctx, {"type": "township.listed", "township": township, "reason": reason, "actor": by})


@app.command()
@handled
def delist(
    ctx: typer.Context,
    township: Annotated[str, typer.Argument(help="township name or code")],
    reason: Annotated[str, typer.Option("--reason")],
    by: Annotated[str, typer.Option("--by")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="delist although listed problems are open or the figures break the policy (an error)"
        ),
    ] = False,
) -> None:
    """Delist a township (摘牌): once its listed problems are closed and its figures are within bounds."""
    payload = {"type": "township.delisted", "township": township, "reason": reason, "actor": by}
    _manual(ctx, {**payload, "force": True} if force else payload)


@app.command()
@handled
def sweep(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
) -> None:
    """Run the escalation sweep once, as of --now."""
    from hazardloop.flows.jobs import record_job
    from hazardloop.models.store.sweep import sweep as run_sweep

    application = ready(ctx)
    now = application.clock.now()
    with record_job(application.engine, "sweep", now) as summary:
        report = run_sweep(
            application.engine, application.rules, now, batch_size=batch_size or application.settings.sweep_batch_size
        )
        summary.update(report.as_dict())
    if as_json:
        print_json(report.as_dict())
    else:
        out.print(
            f"sweep as of {now.isoformat()}: {report.examined} due hazard(s); "
            f"{report.reminders} reminder(s), "
            f"{report.supervisions} supervision(s), {report.elevations} elevation(s); "
            f"{len(report.listed)} township(s) listed, {len(report.delist_proposed)} proposed for delisting; "
            f"{report.notices} notice(s) queued",
            highlight=False,
        )


@app.command()
@handled
def preview(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, max=366)] = 7,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the sweep would do over the next N days if nothing changed (writes nothing)."""
    from hazardloop.models.store.sweep import preview as run_preview

    application = ready(ctx)
    rows = run_preview(application.engine, application.rules, application.clock.now(), days)
    if as_json:
        print_json(rows)
        return
    table = Table(header_style="bold")
    for col in ("day", "action", "level", "hazard", "township", "unit", "title"):
        table.add_column(col, overflow="fold")
    names = application.tree.units
    for r in rows:
        table.add_row(
            str(r["day"]),
            str(r["action"]) + ("" if r["duty"] == "rectification" else f" ({r['duty']})"),
            str(r["level"] or ""),
            str(r["hazard"]),
            names[str(r["township"])].name,
            names[str(r["unit"])].name if r["unit"] else "",
            str(r["title"]),
        )
    out.print(table)
    out.print(f"{len(rows)} action(s) in the next {days} day(s)", highlight=False)


@app.command()
@handled
def listings(
    ctx: typer.Context,
    active: Annotated[bool, typer.Option("--active", help="only townships listed now")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Townships under elevated listed supervision, with history and delisting proposals."""
    from hazardloop.models.store.queries import list_listings

    application = ready(ctx)
    with unit_of_work(application.engine, write=False) as conn:
        rows = list_listings(conn, application.rules, active_only=active)
    if as_json:
        print_json(rows)
        return
    table = Table(header_style="bold")
    for col in ("township", "level", "listed", "by", "deadline", "status", "problems"):
        table.add_column(col, overflow="fold")
    for r in rows:
        status = (
            "delisted " + (r["delisted_at"] or "")[:10]
            if not r["active"]
            else styled(("delisting proposed", "green") if r["delist_proposed_at"] else ("listed", "red"))
        )
        table.add_row(
            r["township"],
            r["level"],
            (r["listed_at"] or "")[:10],
            r["listed_by"],
            (r["deadline"] or "")[:10] + ("（暂定）" if r["deadline_provisional"] else ""),
            status,
            "；".join(r["problems"]),
        )
    out.print(table)
