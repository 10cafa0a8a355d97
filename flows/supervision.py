"""Supervisors' actions as Prefect flows with typed parameters, so the Prefect UI shows a validated form and
``prefect deployment run 'escalate/escalate' -p hazard=HZ-2025-000123 -p to=county ...`` works. The same
authorisation as the command line; a refused request fails the run with the reason."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from prefect import flow

from flows.common import wire
from models.events import EVENT_ADAPTER
from models.intake import apply_event


def _apply(payload: dict[str, Any], db: str | None, config: str | None, now: datetime | None) -> dict[str, Any]:
    app = wire(db, config, now)
    try:
        at = app.clock.now()
        event = EVENT_ADAPTER.validate_python({"event_id": f"prefect:{uuid.uuid4()}", "at": at.isoformat(), **payload})
        report = apply_event(app.engine, app.rules, event, now=at, source="prefect")
        return {"applied": report.applied, "notices": report.notices, "hazard": report.last_hazard}
    finally:
        app.close()


@flow(name="escalate", flow_run_name="escalate-{hazard}-to-{to}")
async def escalate(
    hazard: str,
    to: Literal["township", "county", "city"],
    reason: str,
    actor: str,
    db: str | None = None,
    config: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A supervisor escalates one hazard (id or source reference) to a supervision level."""
    return _apply(
        {"type": "hazard.escalated", "hazard": hazard, "to": to, "reason": reason, "actor": actor}, db, config, now
    )


@flow(name="supervise", flow_run_name="supervise-{township}")
async def supervise(
    township: str,
    reason: str,
    actor: str,
    db: str | None = None,
    config: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """List a township for elevated supervision (提级挂牌督办)."""
    return _apply({"type": "township.listed", "township": township, "reason": reason, "actor": actor}, db, config, now)


@flow(name="delist", flow_run_name="delist-{township}")
async def delist(
    township: str,
    reason: str,
    actor: str,
    db: str | None = None,
    config: str | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Delist a township (摘牌), once its listed problems are closed and its figures are within bounds (``force``:
    regardless, for a listing made in error)."""
    payload = {"type": "township.delisted", "township": township, "reason": reason, "actor": actor}
    return _apply({**payload, "force": True} if force else payload, db, config, now)
