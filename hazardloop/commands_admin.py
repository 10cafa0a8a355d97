"""Commands around the loop: notices, dispatch, report, run, status, demo, recompute-deadlines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from hazardloop.cli_app import app, err, handled, out, print_json, ready
from hazardloop.services.identity import cli_principal

notices_app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    help="List notices (--status, --kind, --hazard, --json); `notices requeue` sends failed or dead ones again.",
)
app.add_typer(notices_app, name="notices")


@notices_app.callback(invoke_without_command=True)
@handled
def notices(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, sent, failed, dead (comma-separated)")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind")] = None,
    hazard: Annotated[str | None, typer.Option("--hazard")] = None,
    limit: Annotated[int | None, typer.Option("--limit")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List notices; `notices requeue` sends failed or dead ones again."""
    if ctx.invoked_subcommand is not None:
        return
    from hazardloop.services.notices import check_filters, list_page

    check_filters(status, kind)
    application = ready(ctx)
    rows = list_page(
        application, cli_principal(application), status=status, kind=kind, hazard=hazard, limit=limit
    ).items
    if as_json:
        print_json(rows)
        return
    table = Table(header_style="bold")
    for col in ("id", "kind", "number", "status", "hazard / township", "to", "subject"):
        table.add_column(col, overflow="fold")
    for n in rows:
        table.add_row(
            str(n["id"]),
            n["kind"],
            n["number"],
            n["status"],
            n["hazard"] or n["township"] or "",
            ", ".join(n["to"]),
            n["subject"],
        )
    out.print(table)
    out.print(f"{len(rows)} notice(s)", highlight=False)


@notices_app.command("requeue")
@handled
def requeue(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="notice ids (see `hazardloop notices`)")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="only notices of these kinds (comma-separated)")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="failed, dead or failed,dead (the default with --kind)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be sent again; change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Send failed or dead notices again: they become pending, due at once, with a fresh count of attempts (the
    next `dispatch` sends them; recipients that had one already do not get it again)."""
    from hazardloop.services.notices import requeue_many

    application = ready(ctx)
    picked = requeue_many(
        application, cli_principal(application), ids=ids, kind=kind, status=status, dry_run=dry_run
    ).ids
    if as_json:
        print_json({"requeued": [] if dry_run else picked, "would_requeue": picked if dry_run else []})
        return
    listed = ", ".join(map(str, picked[:50])) + (f" … and {len(picked) - 50} more" if len(picked) > 50 else "")
    if dry_run:
        out.print(f"would send {len(picked)} notice(s) again: {listed or 'none'}; nothing was changed", highlight=False)
    elif picked:
        out.print(f"{len(picked)} notice(s) will be sent again by the next dispatch: {listed}", highlight=False)
    else:
        out.print("no failed or dead notice matches; nothing was changed", highlight=False)


@app.command()
@handled
def dispatch(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="send at most this many")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Render and send the pending notices once (SMTP with $HAZARDLOOP_SMTP_URL, else .eml files)."""
    from hazardloop.services.dispatch import send_pending

    application = ready(ctx)
    done = send_pending(application, cli_principal(application), limit=limit)
    report = done.report
    if as_json:
        print_json(report.as_dict())
    else:
        out.print(
            f"dispatch: {report.sent} sent via {done.via}, {report.retrying} to retry, {report.failed} failed, "
            f"{report.dead} given up",
            highlight=False,
        )
    for line in report.errors[:50]:
        err.print(f"  {line}", markup=False, highlight=False)


@app.command()
@handled
def run(
    ctx: typer.Context,
    prefect: Annotated[
        bool | None,
        typer.Option("--prefect/--no-prefect", help="run jobs as Prefect flows (default: when PREFECT_API_URL is set)"),
    ] = None,
) -> None:
    """Run unattended: the embedded scheduler starts every scheduled job of the policy until SIGINT/SIGTERM."""
    import logging
    import os

    from hazardloop.flows.scheduler import serve
    from hazardloop.terminal import SafeFormatter

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(SafeFormatter(handler.formatter._fmt if handler.formatter else None))
    # one readable line per job run comes from hazardloop.run; the libraries speak up only when something is wrong
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    application = ready(ctx)
    use_prefect = bool(os.environ.get("PREFECT_API_URL")) if prefect is None else prefect
    raise typer.Exit(serve(application, start=application.clock.fixed, use_prefect=use_prefect))


@app.command()
@handled
def status(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each scheduled job's last and next run and outcome, the scheduler lease holder, and the outbox."""
    from hazardloop.services.jobs import scheduler_status

    application = ready(ctx)
    tz = application.policy.tz

    def local(instant: datetime | None) -> str | None:
        # every instant is shown in the policy's zone, with its offset
        return instant.astimezone(tz).isoformat(timespec="seconds") if instant is not None else None

    found = scheduler_status(application, cli_principal(application))
    rows: list[dict[str, object]] = []
    for job in found.jobs:
        last, took = job.last, job.last_seconds
        rows.append(
            {
                "job": job.job,
                "cron": job.cron,
                "next_run": local(job.next_run),
                "last_run": local(last.started_at) if last else None,
                "last_as_of": local(last.as_of) if last else None,
                "last_seconds": round(took, 2) if took is not None else None,
                "last_outcome": last.outcome if last else None,
                "last_summary": last.summary if last else None,
            }
        )
    counts, lease = found.notices, found.lease
    state = {
        "jobs": rows,
        "notices": counts,
        "lease": {"holder": lease.holder, "expires_at": local(lease.expires_at)} if lease else None,
    }
    if as_json:
        print_json(state)
        return
    table = Table(header_style="bold")
    for col in ("job", "cron", "next run", "last run (as of)", "took", "outcome", "result"):
        table.add_column(col)
    for r in rows:
        summary = r["last_summary"] if isinstance(r["last_summary"], dict) else {}
        table.add_row(
            str(r["job"]),
            str(r["cron"]),
            str(r["next_run"] or "-"),
            str(r["last_as_of"] or "-"),
            f"{r['last_seconds']:.1f}s" if r["last_seconds"] is not None else "-",
            str(r["last_outcome"] or "-"),
            ", ".join(f"{k} {v}" for k, v in summary.items() if k in _BRIEF and v) or "-",
        )
    out.print(table)
    outbox = ", ".join(f"{count} {name}" for name, count in sorted(counts.items())) or "empty"
    holder = f"{lease.holder} until {local(lease.expires_at)}" if lease else "free"
    out.print(f"outbox: {outbox}; scheduler lease: {holder}", highlight=False)


# the figures of a job run worth a glance in `status` (the whole summary is in --json)
_BRIEF = ("examined", "reminders", "supervisions", "elevations", "sent", "retrying", "failed", "dead", "queued")


@app.command("recompute-deadlines")
@handled
def recompute_deadlines(ctx: typer.Context) -> None:
    """Recompute provisional deadlines (years whose holiday schedule was not published) with the calendar now
    installed; deadlines that are no longer provisional stop being marked so."""
    from hazardloop.services.admin import recompute_deadlines

    application = ready(ctx)
    result = recompute_deadlines(application, cli_principal(application))
    out.print(
        f"{result.examined} provisional deadline(s) examined, {result.changed} moved, "
        f"{result.still_provisional} still provisional",
        highlight=False,
    )
