"""The deployments of the distributed mode, built from the policy: one per scheduled job (the policy's
``schedules:`` in its timezone), the supervisors' actions with validated parameter forms, file intake, and
event-driven intake with its trigger. ``hazardloop serve`` serves them from one process; ``prefect.yaml``
declares the same set for ``prefect deploy --all`` and a process work pool."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hazardloop.flows.audit import verify_audit
from hazardloop.flows.escalation import escalation_sweep
from hazardloop.flows.event_intake import (
    EVENT_NAME_PATTERNS,
    EVENT_RESOURCE_PREFIX,
    SETTLE_SECONDS,
    WINDOW_SECONDS,
    intake_events,
)
from hazardloop.flows.intake import intake
from hazardloop.flows.notices import dispatch_notices
from hazardloop.flows.reports import periodic_report
from hazardloop.flows.scheduler import REPORT_JOBS
from hazardloop.flows.supervision import delist, escalate, supervise
from hazardloop.models.core.policy import Policy

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

log = logging.getLogger("hazardloop.serve")


def deployment_cron(expr: str) -> str:
    """Prefect schedules have minute resolution: a six-field policy expression (seconds first, for tests and
    demos) keeps its five minute-and-coarser fields."""
    fields = expr.split()
    if len(fields) == 6:
        log.warning("schedule %r: Prefect deployments run at most once a minute; using %r", expr, " ".join(fields[1:]))
        return " ".join(fields[1:])
    return expr


def intake_trigger(window_seconds: float, settle_seconds: float) -> Any:
    """Fire on the first hazardloop event, then stay quiet for the window: one run collects the window."""
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name="hazardloop-events",
        expect=set(EVENT_NAME_PATTERNS),
        match={"prefect.resource.id": f"{EVENT_RESOURCE_PREFIX}*"},
        posture="Reactive",  # type: ignore[arg-type]  # pydantic coerces the literal to the enum
        threshold=1,
        within=timedelta(seconds=window_seconds),
        parameters={
            # a lone placeholder renders to the native value, and a DateTime does not serialise: pass text
            "first_event_at": "{{ event.occurred.isoformat() }}",
            "window_seconds": window_seconds,
            "settle_seconds": settle_seconds,
        },
    )


def build_deployments(
    policy: Policy, *, window_seconds: float = WINDOW_SECONDS, settle_seconds: float = SETTLE_SECONDS
) -> list[RunnerDeployment]:
    from prefect.schedules import Cron

    def schedule(name: str) -> dict[str, Any]:
        expr = policy.schedules.get(name)
        return {"schedules": [Cron(deployment_cron(expr), timezone=policy.timezone)]} if expr else {}

    deployments = [
        escalation_sweep.to_deployment(
            name="escalation-sweep",
            description="Reminders, supervision and elevation for due hazards; township listing.",
            concurrency_limit=1,
            **schedule("sweep"),
        ),
        dispatch_notices.to_deployment(
            name="dispatch-notices", description="Render and send pending notices.", **schedule("dispatch")
        ),
    ]
    for job, period in REPORT_JOBS.items():
        deployments.append(
            periodic_report.to_deployment(
                name=f"{period}-report",
                description=f"The {period} analysis (研判) and its report notices.",
                parameters={"period": period},
                **schedule(job),
            )
        )
    deployments.append(
        verify_audit.to_deployment(
            name="verify-audit",
            description="Verify the audit chains, sealed days and anchors; mail the operator when not intact.",
            concurrency_limit=1,
            **schedule("verify_audit"),
        )
    )
    deployments += [
        intake.to_deployment(name="intake", description="Apply a batch of contract events (JSON, or a JSONL file)."),
        intake_events.to_deployment(
            name="intake-events",
            description="Apply the hazardloop events emitted to Prefect, a window at a time.",
            triggers=[intake_trigger(window_seconds, settle_seconds)],
        ),
        escalate.to_deployment(
            name="escalate", description="A supervisor escalates a hazard.", enforce_parameter_schema=True
        ),
        supervise.to_deployment(
            name="supervise", description="List a township (提级挂牌督办).", enforce_parameter_schema=True
        ),
        delist.to_deployment(name="delist", description="Delist a township (摘牌).", enforce_parameter_schema=True),
    ]
    return deployments
