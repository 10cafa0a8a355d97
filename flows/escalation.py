"""The escalation sweep as a Prefect flow: reminders (催办), supervision (督办), elevation (提级) for the
hazards that are due, then township listing (挂牌督办). One flow run per sweep; the service
(``hazardloop/services/sweep.py``) works in batches claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers may sweep at once.

Run locally: ``python -m hazardloop.flows.escalation --db sqlite:///hazardloop.db``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task

from hazardloop.flows.common import run_service, transient_db_error
from hazardloop.services.sweep import run_sweep


@task(name="sweep-due-hazards", retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=transient_db_error)
def sweep_due_hazards(
    db: str | None, config: str | None, now: datetime | None, batch_size: int | None
) -> dict[str, Any]:
    return run_service(db, config, now, lambda app, who: run_sweep(app, who, batch_size=batch_size)).as_dict()


@flow(name="escalation-sweep", flow_run_name="sweep-{now}")
async def escalation_sweep(
    now: datetime | None = None, db: str | None = None, config: str | None = None, batch_size: int | None = None
) -> dict[str, Any]:
    """Run the escalation sweep once, as of ``now`` (default: the real time)."""
    result = sweep_due_hazards(db, config, now, batch_size)
    get_run_logger().info(
        "sweep as of %s: %s due, %s reminder(s), %s supervision(s), %s elevation(s), %s township(s) listed",
        result["as_of"],
        result["examined"],
        result["reminders"],
        result["supervisions"],
        result["elevations"],
        len(result["listed"]),
    )
    return result


if __name__ == "__main__":
    import asyncio

    db_url = sys.argv[sys.argv.index("--db") + 1] if "--db" in sys.argv else None
    print(asyncio.run(escalation_sweep(db=db_url)))
