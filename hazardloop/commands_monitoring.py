"""Commands of the indicator system: readings in, and the what-if replay of a past period."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Annotated, Any

import typer

from hazardloop.cli_app import app, err, handled, out, print_json, progress_bar, read_lines, ready
from hazardloop.models.core.errors import InvalidInput, Problem, Rejections
from hazardloop.models.store.monitoring import ReadingsReport


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
    from hazardloop.services.identity import cli_principal
    from hazardloop.services.readings import ingest_readings

    application = ready(ctx)
    source, lines = read_lines(file)
    try:
        with progress_bar(len(lines), "reading in") as bar:
            task = bar.add_task("readings", total=len(lines)) if bar else None
            report = ingest_readings(
                application,
                cli_principal(application),
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


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput([Problem(f"'{text}' is not a date (e.g. 2025-10-01)", field=option)]) from None


def _times(values: list[str]) -> tuple[time, ...]:
    out = []
    for text in values:
        try:
            out.append(time.fromisoformat(text.strip()))
        except ValueError:
            raise InvalidInput([Problem(f"'{text}' is not a time of day (e.g. 08:00)", field="--sweep-at")]) from None
    return tuple(out)


@app.command("what-if")
@handled
def what_if_cmd(
    ctx: typer.Context,
    policy: Annotated[Path, typer.Option("--policy", help="the other policy.yaml to replay the period under")],
    first: Annotated[str, typer.Option("--from", help="first day of the period (YYYY-MM-DD, in the policy's zone)")],
    last: Annotated[str, typer.Option("--to", help="last day of the period, included")],
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="write an HTML page with charts to this folder")] = None,
    sweep_at: Annotated[
        list[str] | None, typer.Option("--sweep-at", help="time of day the sweep ran (repeatable; default 08:00)")
    ] = None,
) -> None:
    """Replay a past period's recorded events under another policy in a scratch database and compare what it
    decides with what really happened (the real database is only read)."""
    from hazardloop.services.identity import cli_principal
    from hazardloop.services.whatif import what_if

    application = ready(ctx)
    start, end = _day(first, "--from"), _day(last, "--to")
    times = _times(sweep_at or ["08:00"])
    result = what_if(application, cli_principal(application), policy, start, end, times)
    if out_dir is not None:
        from hazardloop.notifications.whatif_page import write_page

        write_page(result, out_dir)
    if as_json:
        print_json(result)
        return
    _print_what_if(result, out_dir)


def _print_what_if(result: dict[str, Any], out_dir: Path | None) -> None:
    from rich.table import Table

    replay_info = result["replay"]
    out.print(
        f"what-if {result['period']['from']} … {result['period']['to']} under {result['policy']}: "
        f"{replay_info['events']} recorded event(s) replayed from {replay_info['warmup_from']} (warm-up), "
        f"{replay_info['sweeps']} sweep(s) at {', '.join(replay_info['sweep_at'])}, {replay_info['seconds']} s",
        highlight=False,
        markup=False,
    )
    table = Table("measure", "real", "what-if", "difference", "from the policy", "from invalid events")
    for row in result["metrics"]:
        table.add_row(
            f"{row['name']} ({row['metric']})", str(row["real"]), str(row["what_if"]), f"{row['difference']:+d}",
            f"{row['from_policy']:+d}", f"{row['from_invalid_events']:+d}",
        )  # fmt: skip
    out.print(table)
    counties = Table("county", *[m for m in ("deadlines_missed", "reminders", "elevations", "townships_listed")])
    for row in result["by_county"]:
        counties.add_row(
            row["county"],
            *[f"{row[m]['real']} → {row[m]['what_if']}" for m in ("deadlines_missed", "reminders", "elevations",
                                                                    "townships_listed")],
        )  # fmt: skip
    out.print(counties)
    notices = Table("notice kind", "real", "what-if")
    for row in result["notices"]:
        notices.add_row(row["kind"], str(row["real"]), str(row["what_if"]))
    out.print(notices)
    listed = result["listed"]
    out.print(f"townships listed — real: {'、'.join(listed['real']) or 'none'}", highlight=False, markup=False)
    out.print(f"townships listed — what-if: {'、'.join(listed['what_if']) or 'none'}", highlight=False, markup=False)
    refused = result["refused"]
    if refused["count"]:
        kinds = ", ".join(f"{k}: {n}" for k, n in refused["by_type"].items())
        out.print(
            f"{refused['count']} recorded event(s) would be refused under this policy ({kinds}); the differences on "
            "their hazards are counted as 'from invalid events'",
            highlight=False,
            markup=False,
        )
        for r in refused["events"][:10]:
            out.print(f"  {r['at']} {r['type']} {r['hazard'] or ''}: {r['reason']}", highlight=False, markup=False)
    else:
        out.print("every recorded event is valid under this policy: the differences come from the policy alone")
    if out_dir is not None:
        out.print(f"wrote {out_dir / 'what-if.html'}", highlight=False, markup=False)
