"""``hazardloop demo``: a simulated year of Shaoxing's hazard work through the real flows, with a summary set
beside the figures of the 2025 report it is modelled on."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from hazardloop.cli_app import app, err, handled, opts, out
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.tables import HazardRow, ListingRow, NoticeRow, TransitionRow
from hazardloop.models.store.url_text import shown_url

SEED_FIGURES = {  # from the Shaoxing 2025 report (shared/reference)
    "cleared": "35,000+ (3.5万余个)",
    "listed": "21",
    "problems": "248",
    "campaigns": "25",
}


def demo_figures(conn: Any) -> dict[str, Any]:
    """The summary, counted straight from the tables."""
    h, lst, t, n = HazardRow.__table__, ListingRow.__table__, TransitionRow.__table__, NoticeRow.__table__
    by_state = dict(conn.execute(select(h.c.state, func.count()).group_by(h.c.state)).all())
    total = sum(by_state.values())
    cleared = by_state.get("cleared", 0)
    valid = total - by_state.get("invalid", 0)
    on_time = conn.execute(select(func.count()).where(h.c.state == "cleared", h.c.cleared_at <= h.c.due_at)).scalar()
    listings = list(conn.execute(select(lst.c.township_code, lst.c.problem_hazards, lst.c.delisted_at)))
    problems = {hid for row in listings for hid in (row.problem_hazards or [])}
    campaigns = conn.execute(select(func.count(func.distinct(h.c.campaign))).where(h.c.campaign.is_not(None))).scalar()
    escalated = conn.execute(
        select(func.count(func.distinct(t.c.hazard_id))).where(t.c.action.in_(["elevated", "hazard.escalated"]))
    ).scalar()
    return {
        "detected": total,
        "cleared": cleared,
        "invalid": by_state.get("invalid", 0),
        "open": total - cleared - by_state.get("invalid", 0),
        "clearance_rate": cleared / valid if valid else 0.0,
        "on_time_rate": (on_time or 0) / cleared if cleared else 0.0,
        "listed_townships": len({row.township_code for row in listings}),
        "listed_now": sum(1 for row in listings if row.delisted_at is None),
        "problems_handed_down": len(problems),
        "hazards_escalated": escalated or 0,
        "campaigns": campaigns or 0,
        "from_monitoring_points": conn.execute(select(func.count()).where(h.c.source == "monitoring")).scalar() or 0,
        "reminders": conn.execute(select(func.count()).where(t.c.action == "reminded")).scalar() or 0,
        "supervisions": conn.execute(select(func.count()).where(t.c.action == "supervised")).scalar() or 0,
        "notices": conn.execute(select(func.count()).select_from(n)).scalar() or 0,
    }


@app.command()
@handled
def demo(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="how many days of the year to simulate")] = 365,
    seed: Annotated[int, typer.Option("--seed", help="a different, reproducible year")] = 2025,
    year: Annotated[int, typer.Option("--year")] = 2025,
    hazards: Annotated[int, typer.Option("--hazards", min=100, help="detections in a full year")] = 36_500,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary figures as JSON")] = False,
) -> None:
    """Simulate a year of a city's hazard work through the real code paths and summarise it."""
    from hazardloop.demo.simulation import DemoSettings, simulate

    application = opts(ctx).app()
    upgrade(application.engine)
    sync_units(application.engine, application.org)
    with unit_of_work(application.engine, write=False) as conn:
        if conn.execute(select(func.count()).select_from(HazardRow.__table__)).scalar():
            raise InvalidInput(
                [
                    Problem(
                        "the demo needs an empty database; give it a new file, e.g. --db sqlite:///demo.db",
                        field="--db",
                    )
                ]
            )
    settings = DemoSettings(
        year=year, days=days, seed=seed, hazards_per_year=hazards, report_dir=application.settings.report_dir
    )
    began = time.monotonic()
    with Progress(
        TextColumn("simulating {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task(f"{year}", total=days)

        def step(day: date) -> None:
            bar.update(task, advance=1, description=f"{day:%Y-%m}")

        result = simulate(
            application,
            settings,
            mail_dir=application.settings.mail_dir,
            progress=step,
        )
    elapsed = time.monotonic() - began
    with unit_of_work(application.engine, write=False) as conn:
        figures = demo_figures(conn)
    if as_json:
        from hazardloop.cli_app import print_json
        from hazardloop.demo.accounts import create_demo_accounts

        made = create_demo_accounts(application)
        print_json(
            {
                **figures,
                "events": result.events,
                "rejected": result.rejected,
                "sweeps": result.sweeps,
                "mailed": result.mailed,
                "reports": result.reports,
                "seconds": round(elapsed, 1),
                "accounts": [
                    {"login": a.login, "password": a.password, "unit": a.unit_code, "roles": a.roles} for a in made
                ],
            }
        )
        return
    _print_summary(figures, result, elapsed, application, days)


def _print_summary(f: dict[str, Any], result: Any, elapsed: float, application: Any, days: int) -> None:
    table = Table(title=f"hazardloop demo: {days} simulated day(s) in {elapsed:.0f} s", header_style="bold")
    table.add_column("figure")
    table.add_column("this run (from the database)", justify="right")
    table.add_column("Shaoxing 2025 (quoted)", justify="right")
    rows = [
        ("hazards detected", f"{f['detected']:,}", ""),
        ("hazards rectified and cleared (整改销号)", f"{f['cleared']:,}", SEED_FIGURES["cleared"]),
        (
            "townships under elevated listed supervision (提级挂牌督办)",
            str(f["listed_townships"]),
            SEED_FIGURES["listed"],
        ),
        ("problems handed down with listings (交办督办)", str(f["problems_handed_down"]), SEED_FIGURES["problems"]),
        ("special-campaign batches (专项整治)", str(f["campaigns"]), SEED_FIGURES["campaigns"]),
        ("clearance rate (cleared / valid)", f"{f['clearance_rate']:.1%}", ""),
        ("on-time rate (cleared by the deadline / cleared)", f"{f['on_time_rate']:.1%}", ""),
        ("hazards escalated to county or city supervision", f"{f['hazards_escalated']:,}", ""),
        ("reminders / supervision notices", f"{f['reminders']:,} / {f['supervisions']:,}", ""),
        ("notices issued / written to the mail folder", f"{f['notices']:,} / {result.mailed:,}", ""),
        ("still open at the end (in progress)", f"{f['open']:,}", ""),
    ]
    for row in rows:
        table.add_row(*row)
    out.print(table)
    mail = application.settings.mail_dir
    out.print(
        f"events applied: {result.events:,} ({result.rejected} rejected); sweeps: {result.sweeps}; "
        f"slow townships: {', '.join(application.tree.units[c].name for c in result.slow_townships)}",
        highlight=False,
    )
    out.print("Where to look next:", highlight=False)
    out.print(f"  mail folder (last {min(days, 31)} days of notices): {Path(mail).resolve()}", highlight=False)
    folders = sorted({str(p.parent.resolve()) for p in result.report_files})
    for folder in folders:
        out.print(f"  analysis with charts: {folder}/report.html", highlight=False)
    if result.reports:
        out.print(
            f"  analyses queued on schedule: {len(result.reports)} (latest: {', '.join(result.reports[-2:])})",
            highlight=False,
        )
    db = shown_url(application.settings.database_url)
    for cmd in ("hazards --overdue", "listings", "notices --status sent --limit 20", "preview --days 7"):
        out.print(f"  hazardloop --db {db} {cmd}", highlight=False)
    out.print("  the Prefect UI, if a server runs: prefect server start, then http://127.0.0.1:4200", highlight=False)
    _print_console(application)


def _print_console(application: Any) -> None:
    """How to open the web console on this database, with a ready account per role (passwords shown once)."""
    from hazardloop.demo.accounts import create_demo_accounts

    made = create_demo_accounts(application)
    db = application.settings.database_url
    out.print("The web console on this database (Ctrl+C stops it):", highlight=False)
    out.print(f"  hazardloop --db {db} web    then open http://127.0.0.1:8000/", highlight=False)
    table = Table(title="demo accounts (the passwords are shown only now)", header_style="bold")
    for column in ("login", "password", "unit", "role", "what it shows"):
        table.add_column(column, overflow="fold")
    for a in made:
        table.add_row(a.login, a.password, a.unit_name, a.roles, a.seat)
    out.print(table)
