"""Recording a batch job's run (sweep, dispatch, reports) and reading the scheduler's state for ``status``. The
command line, the Prefect flows and the embedded scheduler all record their runs through `record_job_run`, so a
run looks the same in ``status`` whichever started it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.policy import cron_trigger
from hazardloop.models.store import jobs
from hazardloop.models.store.db import unit_of_work

SCHEDULER_LEASE = "scheduler"


@dataclass
class JobRun:
    """One recorded run: ``summary`` is what the job reported (the figures of its result, or its ``error``)."""

    job: str
    as_of: datetime
    outcome: str = "running"
    summary: dict[str, Any] = field(default_factory=dict)


@contextmanager
def job_record(app: App, principal: Principal, job: str) -> Iterator[JobRun]:
    """A run of ``job`` as of the app's clock, recorded as it starts (``running``) and as it ends (``ok``, or
    ``failed`` with the error, which is raised on). The started and finished times are the real time (when the job
    really ran, for operators); ``as_of`` is the instant its rules acted at."""
    del principal  # every run is recorded alike; who started it is the caller's to log
    run = JobRun(job, app.clock.now())
    with unit_of_work(app.engine) as conn:
        run_id = jobs.start_job_run(conn, job, app.clock.wall_now(), run.as_of)
    run.outcome = "failed"
    try:
        yield run
        run.outcome = "ok"
    except BaseException as exc:
        run.summary["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with unit_of_work(app.engine) as conn:
            jobs.finish_job_run(conn, run_id, app.clock.wall_now(), run.outcome, run.summary)


def record_job_run(app: App, principal: Principal, job: str, work: Callable[[datetime], Mapping[str, Any]]) -> JobRun:
    """Run ``work(as_of)`` as the job ``job`` and record it; its result (a mapping of figures) is the summary."""
    with job_record(app, principal, job) as run:
        run.summary.update(work(run.as_of))
    return run


# --- status ---------------------------------------------------------------------------------------------------


@dataclass
class JobStatus:
    job: str
    cron: str
    next_run: datetime | None
    last: jobs.JobRunRecord | None

    @property
    def last_seconds(self) -> float | None:
        if self.last is None or self.last.finished_at is None:
            return None
        return (self.last.finished_at - self.last.started_at).total_seconds()


@dataclass
class SchedulerStatus:
    jobs: list[JobStatus]
    notices: dict[str, int]
    lease: jobs.LeaseRecord | None


def scheduler_status(app: App, principal: Principal) -> SchedulerStatus:
    """Each scheduled job of the policy with its next run (as of the app's clock) and its last recorded run; the
    outbox by status; who holds the scheduler's lease."""
    del principal  # the whole engine's state: the command line's operator
    now, tz = app.clock.now(), app.policy.tz
    with unit_of_work(app.engine, write=False) as conn:
        # job runs are recorded under the schedule's name (sweep, dispatch, daily_report, …)
        last = jobs.last_job_runs(conn, app.policy.schedules)
        counts = jobs.notice_counts(conn)
        lease = jobs.lease_of(conn, SCHEDULER_LEASE)
    rows = [
        JobStatus(name, cron, cron_trigger(cron, tz).get_next_fire_time(None, now), last.get(name))
        for name, cron in app.policy.schedules.items()
    ]
    return SchedulerStatus(rows, counts, lease)


# --- the scheduler's lease --------------------------------------------------------------------------------------


def take_scheduler_lease(app: App, holder: str, seconds: int) -> bool:
    """Take or renew the lease that lets one ``hazardloop run`` per database start the jobs. Leases are about real
    processes being alive, so they run on the real time, not on ``--now``."""
    now = app.clock.wall_now()
    with unit_of_work(app.engine) as conn:
        return jobs.take_lease(conn, SCHEDULER_LEASE, holder, now, now + timedelta(seconds=seconds))


def release_scheduler_lease(app: App, holder: str) -> None:
    with unit_of_work(app.engine) as conn:
        jobs.release_lease(conn, SCHEDULER_LEASE, holder)
