"""Commands that drive hazards: init, apply, import, hazards, show, export, escalate, supervise, delist,
sweep, preview, listings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hazardloop.cli_app import app, err, handled, opts, out, print_json, progress_bar, read_lines, ready
from hazardloop.models.core.errors import InvalidInput, Problem, Rejections
from hazardloop.models.core.vocabulary import STATE_NAMES
from hazardloop.models.store.intake import ApplyReport
from hazardloop.services import admin, supervision
from hazardloop.services.hazards import apply_events
from hazardloop.services.identity import cli_principal
from hazardloop.services.ledger_import import import_ledger, open_ledger
from hazardloop.terminal import styled


@app.command()
@handled
def init(ctx: typer.Context) -> None:
    """Create or upgrade the schema and load the organisation from org.yaml (safe to run again)."""
    application = opts(ctx).app()
    done = admin.initialise(application, cli_principal(application))
    before, after, sync = done.before, done.after, done.units
    schema = f"schema upgraded {before or 'empty'} → {after}" if before != after else f"schema at {after}"
    out.print(
        f"{done.database}: {schema}; units: {sync.added} added, {sync.changed} changed, "
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


def _apply(
    ctx: typer.Context,
    lines: list[tuple[int, str]],
    as_json: bool,
    apply: Callable[[Any, Any, Callable[[int], None] | None], ApplyReport],
) -> None:
    """Apply with a progress bar for a long input, and report; ``apply(app, principal, progress)`` calls the
    service."""
    application = ready(ctx)
    try:
        with progress_bar(len(lines), "applying") as bar:
            task = bar.add_task("apply", total=len(lines)) if bar else None
            report = apply(application, cli_principal(application), (lambda n: bar.advance(task, n)) if bar else None)
    except Rejections as exc:
        if as_json:  # a script asked for JSON: it gets the rejected lines there too, with nothing applied
            _json_report(ApplyReport(lines=len(lines), rejected=exc.problems))
        raise
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
    _apply(
        ctx,
        lines,
        as_json,
        lambda application, who, progress: apply_events(
            application, who, lines, source=source, partial=partial, progress=progress
        ),
    )


@app.command("import")
@handled
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="hazard ledger (台账), .csv or .xlsx")],
    partial: Annotated[bool, typer.Option("--partial")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a hazard ledger as detection events (same all-or-nothing rule as apply)."""
    ledger = open_ledger(opts(ctx).app(), file)
    _apply(
        ctx,
        ledger.lines,
        as_json,
        lambda application, who, progress: import_ledger(application, who, ledger, partial=partial, progress=progress),
    )


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
    application = ready(ctx)
    state = admin.export_everything(application, cli_principal(application))
    if output:
        output.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        out.print(f"wrote {output}", highlight=False)
    else:
        print_json(state)


# What a manual command calls the event fields its problems are about; "type" (the action itself) needs no name.
_OPTION_OF = {"actor": "--by", "to": "--to", "reason": "--reason", "type": None}


def _manual(ctx: typer.Context, by: str, action: Callable[[Any, Any], supervision.ManualResult]) -> None:
    """One event of a manual command, recorded as the operator declares it (``--by``): a ``cli`` principal."""
    application = ready(ctx)
    try:
        done = action(application, cli_principal(application, by))
    except InvalidInput as exc:
        raise InvalidInput([_in_option_terms(p) for p in exc.problems]) from None
    except Rejections as exc:
        # One command, one event: report the problem without the synthetic "line 1", naming the command's own
        # option rather than the event's field.
        raise Rejections([_in_option_terms(p) for p in exc.problems]) from None
    out.print(f"{done.type} recorded for {done.target}", highlight=False)


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
    if to not in supervision.LEVELS:
        raise InvalidInput([Problem(f"'{to}' is not a level; use township, county or city", field="--to")])
    _manual(ctx, by, lambda application, who: supervision.escalate(application, who, hazard, to, reason))


@app.command()
@handled
def supervise(
    ctx: typer.Context,
    township: Annotated[str, typer.Argument(help="township name or code")],
    reason: Annotated[str, typer.Option("--reason")],
    by: Annotated[str, typer.Option("--by")],
) -> None:
    """List a township for elevated supervision (提级挂牌督办)."""
    _manual(ctx, by, lambda application, who: supervision.list_township(application, who, township, reason))


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
    _manual(
        ctx,
        by,
        lambda application, who: supervision.delist_township(application, who, township, reason, force=force),
    )


@app.command()
@handled
def sweep(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
) -> None:
    """Run the escalation sweep once, as of --now."""
    from hazardloop.services.sweep import run_sweep

    application = ready(ctx)
    done = run_sweep(application, cli_principal(application), batch_size=batch_size)
    report, now = done.report, done.as_of
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
    from hazardloop.services.sweep import preview_sweep

    application = ready(ctx)
    rows = preview_sweep(application, cli_principal(application), days)
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
    from hazardloop.services.townships import listings as township_listings

    application = ready(ctx)
    rows = township_listings(application, cli_principal(application), active_only=active)
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
