"""Commands around the loop: notices, dispatch, report, run, status, demo, recompute-deadlines."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hazardloop.cli import app, err, handled, out, print_json
from hazardloop.commands_core import ready
from models.db import unit_of_work


@app.command()
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
    """List notices."""
    from models.queries import list_notices

    application = ready(ctx)
    with unit_of_work(application.engine, write=False) as conn:
        rows = list_notices(conn, application.rules, status=status, kind=kind, hazard=hazard, limit=limit)
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


@app.command()
@handled
def dispatch(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="send at most this many")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Render and send the pending notices once (SMTP with $HAZARDLOOP_SMTP_URL, else .eml files)."""
    from flows.jobs import record_job
    from notifications.dispatch import dispatch as run_dispatch

    application = ready(ctx)
    now = application.clock.now()
    backend = application.mail_backend()
    with record_job(application.engine, "dispatch", now) as summary:
        report = run_dispatch(application.engine, application.rules, backend, application.renderer, now, limit=limit)
        summary.update(report.as_dict())
    if as_json:
        print_json(report.as_dict())
    else:
        where = "SMTP" if application.settings.smtp_url else f"{application.settings.mail_dir}/"
        out.print(
            f"dispatch: {report.sent} sent via {where}, {report.retrying} to retry, {report.failed} failed, "
            f"{report.dead} given up",
            highlight=False,
        )
    for line in report.errors[:50]:
        err.print(f"  {line}", markup=False, highlight=False)
