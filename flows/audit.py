"""The weekly audit check as a Prefect flow: seal and anchor the complete days, verify the chains, the sealed
days and the anchor file, and mail the operator when anything is not intact (``hazardloop verify-audit``
prints the same findings).

Run locally: ``python -m hazardloop.flows.audit --db sqlite:///hazardloop.db``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task

from hazardloop.flows.common import run_service, transient_db_error
from hazardloop.services.audit import run_scheduled_verification


@task(name="verify-audit", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=transient_db_error)
def verify_audit_task(db: str | None, config: str | None, now: datetime | None) -> dict[str, Any]:
    return run_service(db, config, now, run_scheduled_verification)


@flow(name="verify-audit", flow_run_name="verify-audit-{now}")
async def verify_audit(now: datetime | None = None, db: str | None = None, config: str | None = None) -> dict[str, Any]:
    """Verify the audit record; the operator is mailed the findings when it is not intact."""
    result = verify_audit_task(db, config, now)
    logger = get_run_logger()
    if result["intact"]:
        logger.info("audit intact: %s audit rows, %s archived notices", result["transitions"], result["notices"])
    else:
        logger.error("audit NOT intact: %s", "; ".join(result["findings"]))
    return result


if __name__ == "__main__":
    import asyncio

    db_url = sys.argv[sys.argv.index("--db") + 1] if "--db" in sys.argv else None
    print(asyncio.run(verify_audit(db=db_url)))
