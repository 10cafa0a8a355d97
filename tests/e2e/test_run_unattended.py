"""`hazardloop run` as a real process: its jobs fire on the policy's schedules, an overdue hazard gets its
supervision notice sent without anyone asking, a second `run` on the same database stands by, and SIGTERM
stops both cleanly with exit 0."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import yaml

from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR, Cli, write_events
from tests.support.processes import start_run, wait_for


def _fast_config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    policy = yaml.safe_load((CONFIG_DIR / "policy.yaml").read_text(encoding="utf-8"))
    policy["schedules"] = {"sweep": "*/2 * * * * *", "dispatch": "*/2 * * * * *"}
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return folder


def _with_one_late_hazard(tmp_path: Path, ref: str) -> tuple[Cli, str, Path]:
    """A database with the fast-beat policy and one hazard detected on 2025-03-03 (overdue from 03-13)."""
    config = _fast_config(tmp_path)
    db = f"sqlite:///{tmp_path / 'run.db'}"
    cli = Cli(db, tmp_path, config)
    cli.ok("init")
    events = write_events(tmp_path / f"{ref}.jsonl", [detected(ref, "2025-03-03T08:00:00+08:00")])
    cli.ok("apply", str(events), now="2025-03-03T12:00:00+08:00")
    return cli, db, config


def test_run_sends_the_overdue_notice_by_itself_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    cli, db, config = _with_one_late_hazard(tmp_path, "RUN-1")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_run(db, config, "2025-03-14T09:00:00+08:00", first_log)
    second = None
    try:

        def supervised_and_sent() -> bool:
            rows = json.loads(cli.ok("notices", "--kind", "supervision", "--json").stdout)
            return bool(rows) and rows[0]["status"] == "sent"

        assert wait_for(supervised_and_sent, 40), first_log.read_text()
        second = start_run(db, config, "2025-03-14T09:00:00+08:00", second_log)
        assert wait_for(lambda: "standing by" in second_log.read_text(), 20), second_log.read_text()
        status = json.loads(cli.ok("status", "--json").stdout)
        assert status["lease"] is not None
        assert {j["job"] for j in status["jobs"]} == {"sweep", "dispatch"}
        assert any(j["last_outcome"] == "ok" for j in status["jobs"])
        # instants in the policy's zone, as an office reads them
        assert status["lease"]["expires_at"].endswith("+08:00")
        assert all(j["last_as_of"].endswith("+08:00") for j in status["jobs"] if j["last_as_of"])
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0, first_log.read_text()
    assert second is not None and second.wait(timeout=30) == 0, second_log.read_text()
    # exactly one supervision notice and one supervision transition, though two schedulers ran every 2 s
    notices = json.loads(cli.ok("notices", "--kind", "supervision", "--json").stdout)
    assert len(notices) == 1
    shown = cli.json("show", "RUN-1", now="2025-03-14T09:00:00+08:00")
    assert [t["action"] for t in shown["history"]].count("supervised") == 1
    assert (tmp_path / "outbox").is_dir() and any((tmp_path / "outbox").glob("supervision_*.eml"))
    assert "stopped" in first_log.read_text()
    assert "Running job" not in first_log.read_text()  # APScheduler's chatter stays out of the operator's log


def test_a_standby_takes_over_when_the_leader_is_killed_without_doubling_anything(tmp_path: Path) -> None:
    cli, db, config = _with_one_late_hazard(tmp_path, "KILL-A")
    leader_log, standby_log = tmp_path / "leader.log", tmp_path / "standby.log"
    leader = start_run(db, config, "2025-03-14T09:00:00+08:00", leader_log)
    standby = None
    try:
        sent = lambda ref: any(  # noqa: E731
            n["status"] == "sent" and n["hazard"] == cli.json("show", ref, now="2025-03-14T09:00:00+08:00")["id"]
            for n in json.loads(cli.ok("notices", "--kind", "supervision", "--json").stdout)
        )
        assert wait_for(lambda: sent("KILL-A"), 40), leader_log.read_text()
        standby = start_run(db, config, "2025-03-14T09:00:00+08:00", standby_log)
        assert wait_for(lambda: "standing by" in standby_log.read_text(), 20), standby_log.read_text()
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        # a new overdue hazard arrives while only the standby is alive
        cli.ok(
            "apply",
            str(write_events(tmp_path / "b.jsonl", [detected("KILL-B", "2025-03-03T09:00:00+08:00")])),
            now="2025-03-14T09:00:00+08:00",
        )
        assert wait_for(lambda: "holding the scheduler lease" in standby_log.read_text(), 30), standby_log.read_text()
        assert wait_for(lambda: sent("KILL-B"), 30), standby_log.read_text()
    finally:
        for proc in (leader, standby):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
    assert standby is not None and standby.wait(timeout=30) == 0
    notices = json.loads(cli.ok("notices", "--kind", "supervision", "--json").stdout)
    assert sorted(n["hazard"] for n in notices) == ["HZ-2025-000001", "HZ-2025-000002"]
    assert len({n["key"] for n in notices}) == 2 and all(n["status"] == "sent" for n in notices)
    eml = list((tmp_path / "outbox").glob("supervision_*.eml"))
    assert len(eml) == 2


def test_a_scheduler_that_slept_through_runs_catches_up_once_not_in_a_burst(tmp_path: Path) -> None:
    import sqlite3
    from datetime import UTC, datetime

    _cli, db, config = _with_one_late_hazard(tmp_path, "SLEEP-1")
    log = tmp_path / "sleeper.log"
    proc = start_run(db, config, "2025-03-14T09:00:00+08:00", log)
    path = db.removeprefix("sqlite:///")

    def sweep_runs() -> list[datetime]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("select started_at from job_runs where job = 'sweep' order by id").fetchall()
        return [datetime.fromisoformat(r[0]).replace(tzinfo=UTC) for r in rows]

    try:
        assert wait_for(lambda: len(sweep_runs()) >= 1, 40), log.read_text()
        proc.send_signal(signal.SIGSTOP)  # the laptop lid closes: four 2-second runs go by
        time.sleep(8)
        before = len(sweep_runs())
        woke = datetime.now(UTC)
        proc.send_signal(signal.SIGCONT)
        # caught up: a run starts after the wake (how soon depends on how busy the machine is) ...
        assert wait_for(lambda: any(t >= woke for t in sweep_runs()[before:]), 30), log.read_text()
        time.sleep(1.5)  # ... and a burst of the missed runs, if there were one, would follow it at once
        after = [t for t in sweep_runs()[before:] if t >= woke]
        # coalesced: the first catch-up run is not followed within a second by the others it missed (four)
        assert 1 <= len([t for t in after if (t - after[0]).total_seconds() < 1.0]) <= 2, after
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
