"""Commands of the indicator system: readings in, and the what-if replay of a past period."""

from __future__ import annotations

from typing import Annotated

import typer

from hazardloop.cli import app, err, handled, out, print_json, read_lines
from hazardloop.commands_core import _progress, ready
from models.errors import Rejections
from models.monitoring import ReadingsReport


@app.command("readings")
@handled
def readings_cmd(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV (point,instant,value) or JSON Lines of readings, or - for stdin")],
    partial: Annotated[bool, typer.Option("--partial", help="keep the good lines, list the rejected ones")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
) -> None:
    """Take in monitoring-point readings: a breach raises a hazard, a warning notifies (all-or-nothing unless
    --partial)."""
    from hazardloop.monitoring import ingest_readings

    application = ready(ctx)
    source, lines = read_lines(file)
    try:
        with _progress(len(lines), "reading in") as bar:
            task = bar.add_task("readings", total=len(lines)) if bar else None
            report = ingest_readings(
                application,
                lines,
                source=source,
                partial=partial,
                progress=(lambda n: bar.advance(task, n)) if bar else None,
            )
    except Rejections as exc:
        if as_json:
            print_json(ReadingsReport(lines=len(lines), rejected=exc.problems).as_json())
        raise
    if as_json:
        print_json(report.as_json())
    else:
        out.print(
            f"{report.readings} reading(s) stored, {report.duplicates} duplicate(s), {report.late} late; "
            f"{len(report.hazards)} hazard(s) raised, {report.continued} reading(s) added to open breaches, "
            f"{report.recovered} back within bounds, {report.warnings} warning(s); {report.notices} notice(s) queued",
            highlight=False,
        )
        for hazard_id in report.hazards[:20]:
            out.print(f"  raised {hazard_id}", highlight=False)
    if report.rejected:
        err.print(f"rejected {len(report.rejected)} line(s):", highlight=False)
        for p in report.rejected[:200]:
            err.print(f"  {p}", markup=False, highlight=False)
        if not (report.readings or report.duplicates):
            raise typer.Exit(Rejections(report.rejected).exit_code)
