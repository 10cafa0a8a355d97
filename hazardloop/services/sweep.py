"""The escalation sweep as one use case: reminders (催办), supervision (督办) and elevation (提级) of the hazards due
as of the app's clock, then township listing (挂牌督办), recorded as the ``sweep`` job. ``hazardloop sweep``, the
``escalation-sweep`` flow and the embedded scheduler's sweep job all call `run_sweep`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.store.sweep import SweepReport, preview, sweep
from hazardloop.services.jobs import job_record


@dataclass
class SweepResult:
    as_of: datetime
    report: SweepReport

    def as_dict(self) -> dict[str, Any]:
        """The flow's result: the instant, then the report's figures."""
        return {"as_of": self.as_of.isoformat(), **self.report.as_dict()}


def run_sweep(app: App, principal: Principal, *, batch_size: int | None = None) -> SweepResult:
    """Sweep every hazard due as of the app's clock, batch by batch (``batch_size`` overrides
    ``HAZARDLOOP_SWEEP_BATCH_SIZE``), and record the run as the ``sweep`` job."""
    with job_record(app, principal, "sweep") as run:
        report = sweep(app.engine, app.rules, run.as_of, batch_size=batch_size or app.settings.sweep_batch_size)
        run.summary.update(report.as_dict())
    return SweepResult(run.as_of, report)


def preview_sweep(app: App, principal: Principal, days: int) -> list[dict[str, object]]:
    """What the sweep would do over the next ``days`` days if nothing changed (writes nothing)."""
    del principal  # the whole organisation: the command line's operator
    return preview(app.engine, app.rules, app.clock.now(), days)
