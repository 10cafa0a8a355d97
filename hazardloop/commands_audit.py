"""``hazardloop verify-audit``: walk the audit chains and the sealed days, and name everything that does not fit.
Exit 0 when the record is intact, 5 when anything is not."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hazardloop.cli_app import app, handled, out, print_json
from hazardloop.commands_core import ready
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.services.audit import EXIT_NOT_INTACT, verify_audit
from hazardloop.terminal import styled


@app.command("verify-audit")
@handled
def verify_audit_command(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="check only what was recorded from this date on (YYYY-MM-DD)")
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option("--anchor", help="an anchor file (JSON lines, one day each) to check the days against"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Check that no audit row or archived notice was changed, removed or inserted out of order (exit 5 if any)."""
    since_day = None
    if since is not None:
        try:
            since_day = date.fromisoformat(since)
        except ValueError:
            raise InvalidInput([Problem(f"'{since}' is not a date (YYYY-MM-DD)", field="--since")]) from None
    report = verify_audit(ready(ctx), since=since_day, anchor=anchor)
    if as_json:
        print_json(report.as_dict())
    else:
        checked = (
            f"{report.transitions} audit row(s), {report.notices} archived notice(s) in {report.chains} chain(s), "
            f"{report.days} sealed day(s)" + (f", {report.anchors} anchored day(s)" if anchor is not None else "")
        )
        if report.intact:
            out.print(styled(("intact", "bold green"), f": {checked}; nothing was changed, removed or inserted."))
        else:
            out.print(styled(("NOT INTACT", "bold red"), f": {len(report.findings)} finding(s) over {checked}."))
            for finding in report.findings:
                out.print(f"  {finding.sentence()}")
    if not report.intact:
        raise typer.Exit(EXIT_NOT_INTACT)
