"""Supervisors' actions as Prefect flows with typed parameters, so the Prefect UI shows a validated form and
``prefect deployment run 'escalate/escalate' -p hazard=HZ-2025-000123 -p to=county ...`` works. The same
authorisation as the command line; a refused request fails the run with the reason.

The forms carry only the action's own fields: no database, configuration folder or instant (a form must not be able
to point at another database or backdate an action). The run acts on the database and configuration of the worker's
environment (``HAZARDLOOP_DATABASE_URL``, ``HAZARDLOOP_CONFIG``) at the real time, and is recorded with the flow run
as its principal (``principal_via = flow``, the flow run's id as the client); the actor it declares is judged by the
lifecycle rules as the command line's ``--by`` is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from prefect import flow

from hazardloop.config.bootstrap import App
from hazardloop.flows.common import flow_principal, wired
from hazardloop.models.core.authz import Principal
from hazardloop.services import supervision
from hazardloop.services.supervision import ManualResult


def _act(actor: str, action: Callable[[App, Principal], ManualResult]) -> dict[str, Any]:
    """One supervisor's action on the worker's database and configuration, at the real time, as this flow run
    declaring ``actor``."""
    with wired() as app:
        return action(app, flow_principal(app, actor)).as_dict()


@flow(name="escalate", flow_run_name="escalate-{hazard}-to-{to}")
async def escalate(hazard: str, to: Literal["township", "county", "city"], reason: str, actor: str) -> dict[str, Any]:
    """A supervisor escalates one hazard (id or source reference) to a supervision level."""
    return _act(actor, lambda app, who: supervision.escalate(app, who, hazard, to, reason))


@flow(name="supervise", flow_run_name="supervise-{township}")
async def supervise(township: str, reason: str, actor: str) -> dict[str, Any]:
    """List a township for elevated supervision (提级挂牌督办)."""
    return _act(actor, lambda app, who: supervision.list_township(app, who, township, reason))


@flow(name="delist", flow_run_name="delist-{township}")
async def delist(township: str, reason: str, actor: str, force: bool = False) -> dict[str, Any]:
    """Delist a township (摘牌), once its listed problems are closed and its figures are within bounds (``force``:
    regardless, for a listing made in error)."""
    return _act(actor, lambda app, who: supervision.delist_township(app, who, township, reason, force=force))
