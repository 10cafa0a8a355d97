"""The periodic analysis job (日、周、月、季研判) as a Prefect flow: build a period's figures for the city and every
county, and queue one ``report`` notice per scope in the outbox, exactly once per scope and period
(``hazardloop/services/reports.py``). ``hazardloop dispatch`` renders and mails them later.

Run locally: ``python -m hazardloop.flows.reports monthly --db sqlite:///hazardloop.db [--period 2025-09]``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task

from hazardloop.flows.common import run_service, transient_db_error
from hazardloop.services.report_documents import (  # noqa: F401  (the demo's imports, until it calls the services)
    ReportRun,
    build,
    preview_context,
    queue_reports,
    render_report_files,
    report_key,
    run_report,
    stored_context,
)
from hazardloop.services.reports import queue_period_reports


@task(name="build-and-queue-report", retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=transient_db_error)
def build_and_queue(
    period: str, label: str | None, now: datetime | None, db: str | None, config: str | None
) -> dict[str, Any]:
    return run_service(db, config, now, lambda app, who: queue_period_reports(app, who, period, label=label)).as_dict()


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
