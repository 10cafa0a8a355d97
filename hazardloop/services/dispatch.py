"""Dispatching the outbox as one use case: claim the pending notices, render, send (SMTP, or ``.eml`` files) and
mark them, recorded as the ``dispatch`` job. ``hazardloop dispatch``, ``report --send``, the ``dispatch-notices``
flow and the embedded scheduler's dispatch job all call `send_pending`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.store.outbox import SqlOutbox
from hazardloop.notifications.dispatch import DispatchReport, dispatch
from hazardloop.services.jobs import job_record


@dataclass
class DispatchResult:
    as_of: datetime
    report: DispatchReport
    via: str  # where the mail went: "SMTP", or the folder of .eml files

    def as_dict(self) -> dict[str, Any]:
        """The flow's result: the instant, then the report's figures."""
        return {"as_of": self.as_of.isoformat(), **self.report.as_dict()}


def send_pending(
    app: App,
    principal: Principal,
    *,
    limit: int | None = None,
    batch_size: int | None = None,
    keys: Sequence[str] | None = None,
) -> DispatchResult:
    """Send what is pending as of the app's clock (at most ``limit``; only the notices with these idempotency
    ``keys`` when given; ``batch_size`` overrides ``HAZARDLOOP_NOTICE_BATCH_SIZE``) and record the run as the
    ``dispatch`` job. A mail configuration that cannot work is
    said before anything is recorded."""
    backend = app.mail_backend()
    renderer = app.renderer
    with job_record(app, principal, "dispatch") as run:
        report = dispatch(
            SqlOutbox(app.engine),
            app.rules,
            backend,
            renderer,
            run.as_of,
            delivery=app.delivery,
            clock=app.clock,
            batch_size=batch_size,
            limit=limit,
            keys=keys,
        )
        run.summary.update(report.as_dict())
    via = "SMTP" if app.settings.smtp_url else f"{app.settings.mail_dir}/"
    return DispatchResult(run.as_of, report, via)
