"""``hazardloop run``: the embedded scheduler. APScheduler in-process starts every scheduled job of the
policy (cron expressions in the policy's time zone) until SIGINT/SIGTERM, which let the batch in hand finish.

- Fixed job ids with ``replace_existing``, ``coalesce``, ``max_instances=1`` and a misfire grace: a machine
  that slept through runs catches up once, not in a burst and not never.
- A lease row in the engine's database makes a second ``run`` on the same database stand by, and take over
  within a minute when the first dies (the lease expires unless renewed).
- With ``--now``, the run keeps a clock that starts at that instant and advances with real time
  (:class:`OffsetClock`), and every schedule is read on that clock (:class:`ShiftedTrigger`): a cron of 08:00 in
  the policy's zone fires when the simulated clock reaches 08:00, and the job acts as of that clock's instant.
- Each job runs the Prefect flow when a Prefect API is configured (``PREFECT_API_URL``) or ``--prefect`` is
  given, so runs are recorded there; otherwise it calls the same services directly (no server start-up).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from hazardloop.config.bootstrap import App, Clock
from hazardloop.models.core.policy import cron_trigger
from hazardloop.services.identity import system_principal
from hazardloop.services.jobs import release_scheduler_lease, take_scheduler_lease

log = logging.getLogger("hazardloop.run")
REPORT_JOBS = {
    "daily_report": "daily",
    "weekly_report": "weekly",
    "monthly_report": "monthly",
    "quarterly_report": "quarterly",
}


class OffsetClock(Clock):
    """With ``--now``, an unattended run starts at that instant and lets time flow from there.

    The simulated time is the real time plus a fixed ``offset`` (``--now`` minus the real time at start-up), the
    same offset :class:`ShiftedTrigger` reads the schedules with, so a job that fires at a scheduled instant
    always acts as of that instant or a moment after it, never before. The real time comes from ``base`` (the
    app's clock), the only reader of it."""

    def __init__(self, start: datetime | None, base: Clock | None = None) -> None:
        super().__init__()
        self.base = base or Clock()
        self.start = start
        self.offset: timedelta | None = None if start is None else start - self.base.wall_now()

    def now(self) -> datetime:
        if self.start is None or self.offset is None:
            return self.base.wall_now()
        return (self.base.wall_now() + self.offset).astimezone(self.start.tzinfo)

    def wall_now(self) -> datetime:
        return self.base.wall_now()


class ShiftedTrigger(BaseTrigger):
    """An APScheduler trigger read on a shifted clock. ``offset`` is simulated time minus real time.

    APScheduler asks for fire times, compares them with, and applies the misfire grace against, the real time;
    this wrapper moves its questions into simulated time, asks the wrapped (cron) trigger there, and moves the
    answer back to real time. The arithmetic is done in UTC, so daylight-saving changes of the policy's zone
    are the wrapped trigger's business only."""

    __slots__ = ("inner", "offset")

    def __init__(self, inner: BaseTrigger, offset: timedelta) -> None:
        self.inner, self.offset = inner, offset

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        previous = None if previous_fire_time is None else self._simulated(previous_fire_time)
        simulated = self.inner.get_next_fire_time(previous, self._simulated(now))
        if simulated is None:
            return None
        return (simulated.astimezone(UTC) - self.offset).astimezone(simulated.tzinfo)

    def _simulated(self, real: datetime) -> datetime:
        return (real.astimezone(UTC) + self.offset).astimezone(real.tzinfo)

    def __str__(self) -> str:
        return f"{self.inner} on a clock shifted by {self.offset}"

    def __repr__(self) -> str:
        return f"<ShiftedTrigger ({self.inner!r}, offset={self.offset!r})>"


def schedule_trigger(cron: str, timezone: object, offset: timedelta | None) -> BaseTrigger:
    """The trigger of one policy schedule: the plain cron trigger, or with ``--now`` that trigger read on the
    simulated clock."""
    trigger: BaseTrigger = cron_trigger(cron, timezone)  # type: ignore[assignment]
    return trigger if offset is None else ShiftedTrigger(trigger, offset)


class Lease:
    """The scheduler's lease in the engine's database, taken and renewed on the real time."""

    def __init__(self, app: App, holder: str, seconds: int) -> None:  # HAZARDLOOP_LEASE_SECONDS
        self.app, self.holder, self.seconds = app, holder, seconds

    def try_acquire(self) -> bool:
        return take_scheduler_lease(self.app, self.holder, self.seconds)

    def release(self) -> None:
        release_scheduler_lease(self.app, self.holder)


@dataclass
class Job:
    name: str
    cron: str
    run: Callable[[datetime], dict[str, Any]]


def build_jobs(app: App, use_prefect: bool) -> list[Job]:
    jobs: list[Job] = []
    db, config = app.settings.database_url, str(app.settings.config)
    for name, cron in app.policy.schedules.items():
        if name == "sweep":
            jobs.append(Job(name, cron, _sweep_job(app, use_prefect, db, config)))
        elif name == "dispatch":
            jobs.append(Job(name, cron, _dispatch_job(app, use_prefect, db, config)))
        elif name == "verify_audit":
            jobs.append(Job(name, cron, _verify_audit_job(app, use_prefect, db, config)))
        elif name in REPORT_JOBS:
            jobs.append(Job(name, cron, _report_job(app, REPORT_JOBS[name], use_prefect, db, config)))
        else:
            log.warning("policy schedule '%s' names no job this engine knows; ignored", name)
    return jobs


# Each job calls the same service as the command line and the flow: as a Prefect flow run when Prefect records the
# runs, else directly, with the app acting as of the instant the job fired.


def _sweep_job(app: App, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        if use_prefect:
            from hazardloop.flows.escalation import escalation_sweep

            return asyncio.run(escalation_sweep(now=now, db=db, config=config))
        from hazardloop.services.sweep import run_sweep

        return run_sweep(app.acting_at(now), system_principal(app)).as_dict()

    return run


def _dispatch_job(app: App, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        if use_prefect:
            from hazardloop.flows.notices import dispatch_notices

            return asyncio.run(dispatch_notices(now=now, db=db, config=config))
        from hazardloop.services.dispatch import send_pending

        return send_pending(app.acting_at(now), system_principal(app)).as_dict()

    return run


def _report_job(app: App, period: str, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        if use_prefect:
            from hazardloop.flows.reports import periodic_report

            return asyncio.run(periodic_report(period=period, now=now, db=db, config=config))
        from hazardloop.services.reports import queue_period_reports

        return queue_period_reports(app.acting_at(now), system_principal(app), period).as_dict()

    return run


def _verify_audit_job(app: App, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        if use_prefect:
            from hazardloop.flows.audit import verify_audit

            return asyncio.run(verify_audit(now=now, db=db, config=config))
        from hazardloop.services.audit import run_scheduled_verification

        return run_scheduled_verification(app.acting_at(now), system_principal(app))

    return run


def serve(app: App, *, start: datetime | None, use_prefect: bool, stop: threading.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (or ``stop`` is set). Returns the exit code."""
    stop = stop or threading.Event()
    clock = OffsetClock(start, app.clock)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease = Lease(app, holder, app.settings.lease_seconds)
    renew_every = max(1.0, app.settings.lease_seconds / 4)
    busy = threading.Lock()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s; finishing the batch in hand and stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    scheduler = BackgroundScheduler(
        timezone=app.policy.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": app.settings.misfire_grace_seconds},
    )

    def wrap(job: Job) -> Callable[[], None]:
        def fire() -> None:
            if stop.is_set() or not lease.try_acquire():
                return
            with busy:
                began = time.monotonic()
                now = clock.now()
                try:
                    result = job.run(now)
                    log.info(
                        "%s as of %s done in %.1fs: %s",
                        job.name,
                        now.isoformat(timespec="seconds"),
                        time.monotonic() - began,
                        _brief(result),
                    )
                except Exception:
                    log.exception("%s as of %s failed", job.name, now.isoformat(timespec="seconds"))

        return fire

    jobs = build_jobs(app, use_prefect)
    for job in jobs:
        scheduler.add_job(
            wrap(job),
            schedule_trigger(job.cron, app.policy.tz, clock.offset),
            id=job.name,
            name=job.name,
            replace_existing=True,
        )
    if start is not None:
        log.info(
            "the clock starts at %s (--now) and runs on from there; the schedules fire on that clock",
            clock.now().astimezone(app.policy.tz).isoformat(timespec="seconds"),
        )
    leading = standing_by = False
    scheduler.start(paused=True)
    try:
        while not stop.is_set():
            holds = lease.try_acquire()
            if holds and not leading:
                log.info(
                    "holding the scheduler lease as %s; %d job(s): %s",
                    holder,
                    len(jobs),
                    ", ".join(f"{j.name} ({j.cron})" for j in jobs),
                )
                scheduler.resume()
                leading = True
            elif not holds and leading:
                log.warning("lost the scheduler lease; standing by")
                scheduler.pause()
                leading = False
            elif not holds and not standing_by:
                log.info("another scheduler holds the lease; standing by")
            standing_by = not holds
            stop.wait(renew_every)
    finally:
        scheduler.shutdown(wait=True)  # lets a running job finish its batch
        with busy:
            pass
        if leading:
            lease.release()
        log.info("stopped")
    return 0


def _brief(result: dict[str, Any]) -> str:
    keys = ("examined", "reminders", "supervisions", "elevations", "sent", "failed", "retrying", "notices")
    return ", ".join(f"{k}={result[k]}" for k in keys if k in result) or str(result)[:200]
