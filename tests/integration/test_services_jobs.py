"""One function per batch job: the command line, the Prefect flow's task and the embedded scheduler's job record the
same job row for the same work, because each calls the same service; a failed job is recorded with its error; the
scheduler's clock and lease read the real time only through the app's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hazardloop.config.bootstrap import Clock, bootstrap
from hazardloop.models.store import jobs
from hazardloop.models.store.db import unit_of_work
from hazardloop.services.identity import cli_principal, system_principal
from hazardloop.services.jobs import record_job_run, scheduler_status, take_scheduler_lease
from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR, Cli, initialised_cli, write_events

LATE = "2025-03-14T09:00:00+08:00"  # hazards detected on 03-03 are three working days overdue
MONDAY = "2025-10-06T08:30:00+08:00"


def _job_rows(db: str, job: str) -> list[jobs.JobRunRecord]:
    app = bootstrap(db=db, config_dir=CONFIG_DIR)
    try:
        with unit_of_work(app.engine, write=False) as conn:
            return jobs.job_runs(conn, job)
    finally:
        app.close()


def _three_databases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Cli]:
    """Three databases holding the same twelve late hazards, one per entry point."""
    events = [detected(f"JOB-{i}", "2025-03-03T08:00:00+08:00") for i in range(12)]
    clis = []
    for name in ("cli", "flow", "scheduler"):
        folder = tmp_path / name
        folder.mkdir()
        cli = initialised_cli(f"sqlite:///{folder / 'jobs.db'}", folder, monkeypatch)
        cli.ok("apply", str(write_events(folder / "events.jsonl", events)), now="2025-03-03T12:00:00+08:00")
        clis.append(cli)
    return clis


def _scheduler_job(db: str, name: str, now: datetime) -> dict[str, Any]:
    from hazardloop.flows.scheduler import build_jobs

    app = bootstrap(db=db, config_dir=CONFIG_DIR)
    try:
        job = next(j for j in build_jobs(app, use_prefect=False) if j.name == name)
        return job.run(now)
    finally:
        app.close()


def _comparable(row: jobs.JobRunRecord) -> tuple[Any, ...]:
    summary = {k: v for k, v in row.summary.items() if k != "build_seconds"}  # how long it took differs, rightly
    return row.job, row.as_of, row.outcome, summary


def test_the_command_line_the_flow_and_the_scheduler_record_the_same_sweep_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hazardloop.flows.escalation import sweep_due_hazards

    by_cli, by_flow, by_scheduler = _three_databases(tmp_path, monkeypatch)
    late = datetime.fromisoformat(LATE)
    by_cli.ok("sweep", now=LATE)
    flow_result = sweep_due_hazards.fn(by_flow.db, str(CONFIG_DIR), late, 2000)
    scheduler_result = _scheduler_job(by_scheduler.db, "sweep", late)

    rows = [_job_rows(c.db, "sweep") for c in (by_cli, by_flow, by_scheduler)]
    assert [len(r) for r in rows] == [1, 1, 1]
    first = _comparable(rows[0][0])
    assert first[0] == "sweep" and first[1] == late and first[2] == "ok"
    assert first[3]["supervisions"] == 12 and first[3]["listed"] == ["SX-YC-FS"]
    assert _comparable(rows[1][0]) == first
    assert _comparable(rows[2][0]) == first
    # each entry point returns the same result it recorded
    assert flow_result == {"as_of": late.isoformat(), **first[3]} == scheduler_result
    assert rows[0][0].finished_at is not None and rows[0][0].finished_at >= rows[0][0].started_at


def test_the_command_line_the_flow_and_the_scheduler_record_the_same_dispatch_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hazardloop.flows.notices import send_pending_notices

    by_cli, by_flow, by_scheduler = _three_databases(tmp_path, monkeypatch)
    at = datetime.fromisoformat("2025-03-04T09:00:00+08:00")
    by_cli.ok("dispatch", now=at.isoformat())
    send_pending_notices.fn(by_flow.db, str(CONFIG_DIR), at, 200)
    _scheduler_job(by_scheduler.db, "dispatch", at)

    rows = [_job_rows(c.db, "dispatch") for c in (by_cli, by_flow, by_scheduler)]
    assert [len(r) for r in rows] == [1, 1, 1]
    first = _comparable(rows[0][0])
    assert first[:3] == ("dispatch", at, "ok") and first[3]["sent"] == 12 and first[3]["failed"] == 0
    assert [_comparable(r[0]) for r in rows[1:]] == [first, first]


def test_the_command_line_the_flow_and_the_scheduler_record_the_same_report_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hazardloop.flows.reports import build_and_queue

    by_cli, by_flow, by_scheduler = _three_databases(tmp_path, monkeypatch)
    monday = datetime.fromisoformat(MONDAY)
    by_cli.ok("report", "weekly", "--send", now=MONDAY)
    build_and_queue.fn("weekly", None, monday, by_flow.db, str(CONFIG_DIR))
    _scheduler_job(by_scheduler.db, "weekly_report", monday)

    rows = [_job_rows(c.db, "weekly_report") for c in (by_cli, by_flow, by_scheduler)]
    assert [len(r) for r in rows] == [1, 1, 1]
    first = _comparable(rows[0][0])
    assert first[:3] == ("weekly_report", monday, "ok")
    assert first[3]["period"] == "2025-W40" and len(first[3]["queued"]) == 8
    assert [_comparable(r[0]) for r in rows[1:]] == [first, first]
    # --send mails its reports through the same dispatch service, recorded as a dispatch run
    assert [r.summary["sent"] for r in _job_rows(by_cli.db, "dispatch")] == [8]


def test_a_failed_job_is_recorded_with_its_error_and_the_error_is_raised_on(app: Any) -> None:
    app.clock = Clock(datetime.fromisoformat(LATE))

    def broken(as_of: datetime) -> dict[str, Any]:
        raise RuntimeError(f"the mail folder vanished at {as_of.isoformat()}")

    with pytest.raises(RuntimeError, match="vanished"):
        record_job_run(app, system_principal(app), "dispatch", broken)
    ok = record_job_run(app, system_principal(app), "sweep", lambda as_of: {"examined": 0, "at": as_of})
    assert ok.outcome == "ok" and ok.summary["examined"] == 0
    with unit_of_work(app.engine, write=False) as conn:
        failed, done = jobs.job_runs(conn)
    assert failed.outcome == "failed" and failed.as_of == app.clock.now()
    assert failed.summary == {"error": "RuntimeError: the mail folder vanished at 2025-03-14T09:00:00+08:00"}
    assert done.outcome == "ok" and done.summary == {"examined": 0, "at": "2025-03-14T09:00:00+08:00"}


def test_status_shows_each_scheduled_jobs_last_run_and_its_next_on_the_apps_clock(app: Any) -> None:
    app.clock = Clock(datetime.fromisoformat("2025-03-14T09:07:00+08:00"))
    record_job_run(app, system_principal(app), "sweep", lambda as_of: {"examined": 3})
    status = scheduler_status(app, cli_principal(app))
    by_job = {j.job: j for j in status.jobs}
    assert set(by_job) == set(app.policy.schedules)
    sweep = by_job["sweep"]
    assert sweep.last is not None and sweep.last.outcome == "ok" and sweep.last.summary == {"examined": 3}
    assert sweep.next_run == datetime.fromisoformat("2025-03-14T09:15:00+08:00")  # "*/15 * * * *" after 09:07
    assert by_job["dispatch"].last is None
    assert status.lease is None and status.notices == {}


class _FakeWall(Clock):
    """A clock whose real time is set by the test: the scheduler's lease and offset clock must read only this."""

    def __init__(self, wall: datetime, fixed: datetime | None = None) -> None:
        super().__init__(fixed)
        self.wall = wall

    def wall_now(self) -> datetime:
        return self.wall


def test_the_scheduler_lease_runs_on_the_real_time_of_the_apps_clock_not_on_now(app: Any) -> None:
    wall = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
    app.clock = _FakeWall(wall, fixed=datetime.fromisoformat(LATE))
    assert take_scheduler_lease(app, "first", 45)
    assert not take_scheduler_lease(app, "second", 45)  # held until 00:00:45 real time
    status = scheduler_status(app, cli_principal(app))
    assert status.lease is not None and status.lease.holder == "first"
    assert status.lease.expires_at == wall + timedelta(seconds=45)
    app.clock.wall = wall + timedelta(seconds=46)
    assert take_scheduler_lease(app, "second", 45)  # expired: taken over


def test_the_offset_clock_starts_at_now_and_advances_with_the_apps_real_time() -> None:
    from hazardloop.flows.scheduler import OffsetClock

    start = datetime.fromisoformat("2025-06-05T07:59:57-04:00")
    base = _FakeWall(datetime.fromisoformat("2030-01-01T00:00:00+00:00"))
    clock = OffsetClock(start, base)
    assert clock.now() == start and clock.now().utcoffset() == start.utcoffset()
    base.wall += timedelta(seconds=5)
    assert clock.now() == start + timedelta(seconds=5)
    assert clock.wall_now() == base.wall


def test_an_app_acting_at_an_instant_shares_the_engine_and_the_real_time_of_the_original(app: Any) -> None:
    wall = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
    app.clock = _FakeWall(wall)
    at = datetime.fromisoformat(LATE)
    fired = app.acting_at(at)
    assert fired.clock.now() == at and fired.clock.wall_now() == wall
    assert fired.engine is app.engine and fired.rules is app.rules
    assert app.clock.now() == wall  # the original acts on its own clock still
