"""Notice dispatch as a Prefect flow: claim pending notices, render, send (SMTP or .eml files), mark
(``hazardloop/services/dispatch.py``). Retries of individual notices live in the outbox (attempts, next try);
the task retries only on database trouble.

Run locally: ``python -m hazardloop.flows.notices --db sqlite:///hazardloop.db``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task

from hazardloop.flows.common import run_service, transient_db_error
from hazardloop.services.dispatch import send_pending


@task(name="send-pending-notices", retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=transient_db_error)
def send_pending_notices(
    db: str | None, config: str | None, now: datetime | None, batch_size: int | None
) -> dict[str, Any]:
    return run_service(db, config, now, lambda app, who: send_pending(app, who, batch_size=batch_size)).as_dict()


@flow(name="dispatch-notices", flow_run_name="dispatch-{now}")
async def dispatch_notices(
    now: datetime | None = None, db: str | None = None, config: str | None = None, batch_size: int | None = None
) -> dict[str, Any]:
    """Send the pending notices once."""
    result = send_pending_notices(db, config, now, batch_size)
    get_run_logger().info(
        "dispatch: %s sent, %s to retry, %s failed, %s given up",
        result["sent"],
        result["retrying"],
        result["failed"],
        result["dead"],
    )
    return result


if __name__ == "__main__":
    import asyncio

    db_url = sys.argv[sys.argv.index("--db") + 1] if "--db" in sys.argv else None
    print(asyncio.run(dispatch_notices(db=db_url)))
