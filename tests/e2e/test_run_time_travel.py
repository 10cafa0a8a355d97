"""`hazardloop --now X run`: the run keeps a clock that starts at X and advances with real time, and the policy's
schedules fire on that clock. A cron of 08:00 in the policy's zone fires when the simulated clock reaches 08:00
(not at the real 08:00), and the job acts as of that instant. Without `--now`, the plain cron triggers are used.
The misfire grace and coalescing keep working, because APScheduler still only sees real times."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.executors.base import run_job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from hazardloop.flows.scheduler import OffsetClock, ShiftedTrigger, schedule_trigger
from hazardloop.models.core.policy import cron_trigger
from tests.support.fixtures import CONFIG_DIR, Cli
from tests.support.processes import start_run, wait_for

NY = ZoneInfo("America/New_York")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the trigger wrapper, pure ------------------------------------------------------------------------------------


def test_a_shifted_trigger_fires_when_the_simulated_clock_reaches_the_cron_instant() -> None:
    real_now = _at("2025-01-10T12:00:00+00:00")
    simulated_now = _at("2025-06-05T07:59:57-04:00")
    offset = simulated_now - real_now
    trigger = ShiftedTrigger(cron_trigger("0 8 * * *", NY), offset)  # type: ignore[arg-type]

    first = trigger.get_next_fire_time(None, real_now)
    assert first is not None and first - real_now == timedelta(seconds=3)  # 08:00 simulated is 3 s away
    # the next one, after it fired: the next simulated 08:00, a day of real time later
    second = trigger.get_next_fire_time(first, first)
    assert second is not None and second - first == timedelta(days=1)
    # the plain cron trigger would have waited for the real 08:00 in New York
    plain = cron_trigger("0 8 * * *", NY).get_next_fire_time(None, real_now)  # type: ignore[attr-defined]
    assert plain == _at("2025-01-10T08:00:00-05:00")  # 12:00 UTC is 07:00 there: an hour away, not 3 s


def test_a_shifted_trigger_keeps_the_wrapped_triggers_handling_of_a_daylight_saving_change() -> None:
    real_now = _at("2025-01-10T12:00:00+00:00")
    simulated_now = _at("2025-03-09T01:59:00-05:00")  # New York skips 02:00-03:00 that night
    trigger = ShiftedTrigger(cron_trigger("*/30 * * * *", NY), simulated_now - real_now)  # type: ignore[arg-type]
    nxt = trigger.get_next_fire_time(None, real_now)
    # the next half hour that exists is 03:00 EDT, one real minute later (not an hour, not a skipped day)
    assert nxt is not None and nxt - real_now == timedelta(minutes=1)
    then = trigger.get_next_fire_time(nxt, nxt)
    assert then is not None and then - nxt == timedelta(minutes=30)


def test_a_simulated_clock_behind_the_real_one_works_the_same_way() -> None:
    real_now = _at("2025-06-05T12:00:00+00:00")
    simulated_now = _at("2024-12-31T23:59:58+08:00")
    trigger = ShiftedTrigger(  # type: ignore[arg-type]
        cron_trigger("0 0 1 * *", ZoneInfo("Asia/Shanghai")), simulated_now - real_now
    )
    nxt = trigger.get_next_fire_time(None, real_now)
    assert nxt is not None and nxt - real_now == timedelta(seconds=2)


def test_without_now_the_schedules_are_the_plain_cron_triggers_and_the_clock_is_the_real_one() -> None:
    trigger = schedule_trigger("*/15 * * * *", NY, None)
    assert type(trigger) is CronTrigger and str(trigger) == str(cron_trigger("*/15 * * * *", NY))
    clock = OffsetClock(None)
    assert clock.offset is None and abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
    shifted = schedule_trigger("*/15 * * * *", NY, timedelta(hours=-3))
    assert isinstance(shifted, ShiftedTrigger) and "shifted by" in str(shifted)


def test_the_offset_clock_starts_at_now_and_runs_on_in_the_zone_it_was_given() -> None:
    start = _at("2025-06-05T07:59:57-04:00")
    clock = OffsetClock(start)
    first = clock.now()
    assert timedelta(0) <= first - start < timedelta(seconds=1)
    assert first.utcoffset() == timedelta(hours=-4)
    time.sleep(0.2)
    assert clock.now() - first >= timedelta(seconds=0.2)


def test_coalescing_and_the_misfire_grace_are_applied_in_real_time_as_before() -> None:
    """A run that slept through three simulated 08:00s catches up once; one missed by more than the grace is
    dropped as a misfire — APScheduler's own code, on the real times the wrapper hands it."""
    real_now = datetime.now(UTC)
    trigger = ShiftedTrigger(  # type: ignore[arg-type]
        cron_trigger("0 8 * * *", NY), _at("2025-06-05T08:00:30-04:00") - real_now
    )
    ran: list[str] = []
    scheduler = BackgroundScheduler(timezone=NY)
    job = scheduler.add_job(
        lambda: ran.append("ran"), trigger, id="daily_report", coalesce=True, misfire_grace_time=3600
    )
    # the first fire time it was due, three days (of simulated, and so of real) time ago
    job.next_run_time = trigger.get_next_fire_time(None, real_now - timedelta(days=3))
    run_times = job._get_run_times(real_now)
    assert [real_now - t for t in run_times] == [timedelta(days=d, seconds=30) for d in (2, 1, 0)]
    # coalesce: the scheduler hands the executor only the last one, which is within the grace: it runs
    events = run_job(job, "default", run_times[-1:], "test")
    assert ran == ["ran"] and [e.code for e in events] == [EVENT_JOB_EXECUTED]
    # a fire time two real hours old is past the one-hour grace: a misfire, not a run
    events = run_job(job, "default", [real_now - timedelta(hours=2)], "test")
    assert ran == ["ran"] and [e.code for e in events] == [EVENT_JOB_MISSED]


# --- the real `run` process, real APScheduler, real SQLite --------------------------------------------------------


def _new_york_config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    policy = yaml.safe_load((CONFIG_DIR / "policy.yaml").read_text(encoding="utf-8"))
    policy["timezone"] = "America/New_York"
    policy["schedules"] = {"sweep": "*/15 * * * *", "dispatch": "* * * * *", "daily_report": "0 8 * * *"}
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return folder


def test_run_with_now_fires_the_schedules_when_the_simulated_clock_reaches_them(tmp_path: Path) -> None:
    config = _new_york_config(tmp_path)
    db = f"sqlite:///{tmp_path / 'run.db'}"
    Cli(db, tmp_path, config).ok("init")
    log = tmp_path / "run.log"
    launched = datetime.now(UTC)
    proc = start_run(db, config, "2025-06-05T07:59:57-04:00", log)
    path = db.removeprefix("sqlite:///")
    eight = _at("2025-06-05T08:00:00-04:00")

    def runs() -> list[tuple[str, datetime, datetime, str]]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("select job, as_of, started_at, outcome from job_runs order by id").fetchall()
        return [
            (job, datetime.fromisoformat(as_of).replace(tzinfo=UTC), datetime.fromisoformat(at).replace(tzinfo=UTC), o)
            for job, as_of, at, o in rows
        ]

    def all_three_done() -> bool:
        done = {job for job, _, _, outcome in runs() if outcome != "running"}
        return {"sweep", "dispatch", "daily_report"} <= done

    try:
        # process start-up takes a couple of seconds; the simulated 08:00 comes 3 s after the clock starts
        assert wait_for(all_three_done, 20), log.read_text()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    text = log.read_text()
    assert "the clock starts at 2025-06-05T07:59:5" in text, text
    seen = runs()
    for job in ("sweep", "dispatch", "daily_report"):
        mine = [(as_of, at, outcome) for name, as_of, at, outcome in seen if name == job]
        assert len(mine) == 1, (job, mine, text)  # once each: nothing fired before 08:00, no burst
        as_of, at, outcome = mine[0]
        assert outcome == "ok", (job, text)
        # as of the simulated 08:00 (never before it; the three run one after another, hence a few seconds' slack),
        # and run seconds after launch, not at a real 08:00 or quarter hour
        assert eight <= as_of < eight + timedelta(seconds=10), (job, as_of, text)
        assert at - launched < timedelta(seconds=20), (job, at, launched)
        assert f"{job} as of 2025-06-05T08:00:0" in text, text


def test_serve_refuses_now_rather_than_ignoring_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.fixtures import initialised_cli

    cli = initialised_cli(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path, monkeypatch)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # never reached: refused before
    result = cli("serve", now="2025-06-05T07:59:57-04:00")
    assert result.exit_code == 2, result.stderr
    assert "--now cannot be used with `serve`" in result.stderr and "--now ... run" in result.stderr
