"""Supervisors' actions as Prefect flows with typed parameters, so the Prefect UI shows a validated form and
``prefect deployment run 'escalate/escalate' -p hazard=HZ-2025-000123 -p to=county ...`` works. The same
authorisation as the command line; a refused request fails the run with the reason.

The forms carry only the action's own fields: no database, configuration folder or instant (a form must not be able
to point at another database or backdate an action). The run acts on the database and configuration of the worker's
environment (``HAZARDLOOP_DATABASE_URL``, ``HAZARDLOOP_CONFIG``) at the real time, and is recorded with the flow run
as its principal (``principal_via = flow``, the flow run's id as the client); the actor it declares is judged by the
lifecycle rules as the command line's ``--by`` is."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow

from hazardloop.flows.common import wire


def _flow_run() -> str:
    try:
        from prefect.runtime import flow_run

        return f"flow-run:{flow_run.id}" if flow_run.id else "flow-run:local"
    except Exception:  # outside a run (a plain call of .fn): still say where it came from
        return "flow-run:local"


def _apply(payload: dict[str, Any]) -> dict[str, Any]:
    from hazardloop.models.core.authz import declared_principal
    from hazardloop.services.hazards import record_manual

    app = wire()
    try:
        principal = declared_principal(app.tree, "flow", _flow_run(), payload.get("actor"))
        report = record_manual(app, principal, payload)
        return {"applied": report.applied, "notices": report.notices, "hazard": report.last_hazard}
    finally:
        app.close()


@flow(name="escalate", flow_run_name="escalate-{hazard}-to-{to}")
async def escalate(hazard: str, to: Literal["township", "county", "city"], reason: str, actor: str) -> dict[str, Any]:
    """A supervisor escalates one hazard (id or source reference) to a supervision level."""
    return _apply({"type": "hazard.escalated", "hazard": hazard, "to": to, "reason": reason, "actor": actor})


@flow(name="supervise", flow_run_name="supervise-{township}")
async def supervise(township: str, reason: str, actor: str) -> dict[str, Any]:
    """List a township for elevated supervision (提级挂牌督办)."""
    return _apply({"type": "township.listed", "township": township, "reason": reason, "actor": actor})


@flow(name="delist", flow_run_name="delist-{township}")
async def delist(township: str, reason: str, actor: str, force: bool = False) -> dict[str, Any]:
    """Delist a township (摘牌), once its listed problems are closed and its figures are within bounds (``force``:
    regardless, for a listing made in error)."""
    payload = {"type": "township.delisted", "township": township, "reason": reason, "actor": actor}
    return _apply({**payload, "force": True} if force else payload)
