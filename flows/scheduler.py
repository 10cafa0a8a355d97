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
from sqlalchemy import Engine, delete, insert, select, update

from hazardloop.config.bootstrap import App
from hazardloop.flows.jobs import record_job
from hazardloop.models.core.policy import cron_trigger
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.tables import LeaseRow

log = logging.getLogger("hazardloop.run")
_L = LeaseRow.__table__
LEASE_NAME = "scheduler"
LEASE_SECONDS = 45  # default; HAZARDLOOP_LEASE_SECONDS sets it, renewed every quarter of it
MISFIRE_GRACE = 3600
REPORT_JOBS = {
    "daily_report": "daily",
    "weekly_report": "weekly",
    "monthly_report": "monthly",
    "quarterly_report": "quarterly",
}


def wall_now() -> datetime:
    # Leases are about real processes being alive, so they use the real clock; no rule reads this.
    return datetime.now(UTC)


class OffsetClock:
    """With ``--now``, an unattended run starts at that instant and lets time flow from there.

    The simulated time is the real time plus a fixed ``offset`` (``--now`` minus the real time at start-up), the
    same offset :class:`ShiftedTrigger` reads the schedules with, so a job that fires at a scheduled instant
    always acts as of that instant or a moment after it, never before."""

    def __init__(self, start: datetime | None) -> None:
        self.start = start
        self.offset: timedelta | None = None if start is None else start - wall_now()

    def now(self) -> datetime:
        if self.start is None or self.offset is None:
            return wall_now()
        return (wall_now() + self.offset).astimezone(self.start.tzinfo)


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
    def __init__(self, engine: Engine, holder: str, seconds: int = LEASE_SECONDS) -> None:
        self.engine, self.holder, self.seconds = engine, holder, seconds

    def try_acquire(self) -> bool:
        now = wall_now()
        expires = now + timedelta(seconds=self.seconds)
        with unit_of_work(self.engine) as conn:
            stmt = select(_L).where(_L.c.name == LEASE_NAME)
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            row = conn.execute(stmt).first()
            if row is None:
                conn.execute(insert(_L).values(name=LEASE_NAME, holder=self.holder, expires_at=expires))
                return True
            if row.holder == self.holder or row.expires_at < now:
                conn.execute(update(_L).where(_L.c.name == LEASE_NAME).values(holder=self.holder, expires_at=expires))
                return True
            return False

    def release(self) -> None:
        with unit_of_work(self.engine) as conn:
            conn.execute(delete(_L).where(_L.c.name == LEASE_NAME, _L.c.holder == self.holder))


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


def _sweep_job(app: App, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        if use_prefect:
            from hazardloop.flows.escalation import escalation_sweep

            return asyncio.run(escalation_sweep(now=now, db=db, config=config))
        from hazardloop.models.store.sweep import sweep

        with record_job(app.engine, "sweep", now) as summary:
            summary.update(sweep(app.engine, app.rules, now).as_dict())
        return summary

    return run


def _dispatch_job(app: App, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        if use_prefect:
            from hazardloop.flows.notices import dispatch_notices

            return asyncio.run(dispatch_notices(now=now, db=db, config=config))
        from hazardloop.notifications.dispatch import dispatch

        with record_job(app.engine, "dispatch", now) as summary:
            summary.update(dispatch(app.engine, app.rules, app.mail_backend(), app.renderer, now).as_dict())
        return summary

    return run


def _report_job(app: App, period: str, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        from hazardloop.flows import reports

        if use_prefect:
            return asyncio.run(reports.periodic_report(period=period, now=now, db=db, config=config))
        with record_job(app.engine, f"{period}_report", now) as summary:
            summary.update(reports.run_report(app.engine, app.rules, period, now, indicators=app.indicators).as_dict())
            if period == "daily":  # the day's root went into the mail; the anchor file gets it too
                from hazardloop.services.audit import seal_and_anchor

                summary["anchored"] = [day.day for day in seal_and_anchor(app, now)]
        return summary

    return run


def _verify_audit_job(app: App, use_prefect: bool, db: str, config: str) -> Callable[[datetime], dict[str, Any]]:
    def run(now: datetime) -> dict[str, Any]:
        if use_prefect:
            from hazardloop.flows.audit import verify_audit

            return asyncio.run(verify_audit(now=now, db=db, config=config))
        from hazardloop.services.audit import scheduled_verification

        with record_job(app.engine, "verify_audit", now) as summary:
            summary.update(scheduled_verification(app, now))
        return summary

    return run


def serve(app: App, *, start: datetime | None, use_prefect: bool, stop: threading.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (or ``stop`` is set). Returns the exit code."""
    stop = stop or threading.Event()
    clock = OffsetClock(start)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease = Lease(app.engine, holder, app.settings.lease_seconds)
    renew_every = max(1.0, app.settings.lease_seconds / 4)
    busy = threading.Lock()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s; finishing the batch in hand and stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    scheduler = BackgroundScheduler(
        timezone=app.policy.tz, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE}
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
