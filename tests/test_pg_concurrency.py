"""Races on PostgreSQL between separate OS processes running the real command line: conflicting events on one
hazard, the same event delivered twice at once, and two sweeps at the same instant. The processes import
everything first, report ready, and start work together when a "go" file appears."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import CONFIG_DIR, Cli, initialised_cli, write_events
from tests.factories import COUNTY_CODE, FIRE_UNIT, TOWNSHIP_CODE, detected, event

pytestmark = pytest.mark.postgres

NOW = "2025-03-10T12:00:00+08:00"
MON = "2025-03-03"
ROUNDS = 5
TIMEOUT = 120

# Imports the whole command line, says it is ready, waits for the go file, then runs the command.
RACER = """
import os, sys, time
ready, go, *argv = sys.argv[1:]
from hazardloop.cli import main
# the work's imports, before the race
import hazardloop.commands_core, hazardloop.models.store.intake, hazardloop.models.store.sweep, hazardloop.flows.jobs
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.0005)
sys.argv = ["hazardloop", *argv]
main()
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


class Race:
    """Each command in its own process; all are released at the same instant by ``go()``."""

    def __init__(
        self,
        tmp_path: Path,
        db: str,
        commands: list[list[str]],
        now: str,
        config: Path = CONFIG_DIR,
        env_extra: dict[str, str] | None = None,
    ) -> None:
        self.barrier = tmp_path / f"race-{time.monotonic_ns()}"
        self.barrier.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDLOOP_")}
        env["HAZARDLOOP_MAIL_DIR"] = str(tmp_path / "outbox")
        env.update(env_extra or {})
        env["PREFECT_LOGGING_LEVEL"] = "WARNING"
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    RACER,
                    str(self.barrier / f"ready-{n}"),
                    str(self.barrier / "go"),
                    *["--db", db, "--config", str(config), "--now", now, *command],
                ],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n, command in enumerate(commands)
        ]

    def go(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not all((self.barrier / f"ready-{n}").exists() for n in range(len(self.procs))):
            crashed = [p for p in self.procs if p.poll() is not None]
            if crashed:
                self.kill()
                raise AssertionError(f"a racer died before the start: {crashed[0].communicate()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("the racers never got ready")
            time.sleep(0.01)
        (self.barrier / "go").touch()

    def finish(self) -> list[Outcome]:
        try:
            outcomes = []
            for p in self.procs:
                stdout, stderr = p.communicate(timeout=TIMEOUT)
                outcomes.append(Outcome(p.returncode, stdout, stderr))
            return outcomes
        finally:
            self.kill()

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def race(
    tmp_path: Path,
    db: str,
    commands: list[list[str]],
    now: str,
    config: Path = CONFIG_DIR,
    env_extra: dict[str, str] | None = None,
) -> list[Outcome]:
    started = Race(tmp_path, db, commands, now, config, env_extra)
    started.go()
    return started.finish()


def libpq(url: str) -> str:
    return f"host=127.0.0.1 port=5432 user=postgres dbname={url.rsplit('/', 1)[1]}"


def wait_for_lock_waiters(url: str, count: int, racers: Race) -> None:
    """Until ``count`` sessions of this database wait for a lock."""
    deadline = time.monotonic() + TIMEOUT
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        while True:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchone()
            if waiting and waiting[0] >= count:
                return
            finished = [p.returncode for p in racers.procs if p.poll() is not None]
            if finished or time.monotonic() > deadline:
                racers.kill()
                raise AssertionError(f"the racers never all reached the lock (exited: {finished})")
            time.sleep(0.01)


def race_behind_a_lock(tmp_path: Path, db: str, lock_sql: str, commands: list[list[str]], now: str) -> list[Outcome]:
    """Like ``race``, but a third session holds a lock (``lock_sql``) until every racer waits for it, so all
    have read what they read before the lock and none has written anything: the tightest interleaving."""
    with psycopg.connect(libpq(db)) as holder:
        holder.execute(lock_sql)
        racers = Race(tmp_path, db, commands, now)
        racers.go()
        wait_for_lock_waiters(db, len(commands), racers)
        holder.rollback()
    return racers.finish()


@pytest.fixture
def pg_cli(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return initialised_cli(pg_url, tmp_path, monkeypatch)


def waiting_for_verification(cli: Cli, tmp_path: Path, refs: list[str]) -> None:
    """Detect each hazard, have the fire brigade acknowledge and submit it."""
    history: list[dict[str, Any]] = []
    for ref in refs:
        history += [
            detected(ref, f"{MON}T08:00:00+08:00"),
            event("hazard.acknowledged", ref, f"{MON}T09:00:00+08:00", FIRE_UNIT),
            event("rectification.submitted", ref, f"{MON}T10:00:00+08:00", FIRE_UNIT, note="已整改", evidence=[]),
        ]
    cli.ok("apply", str(write_events(tmp_path / "setup.jsonl", history)), now=NOW)


def verification_rows(shown: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in shown["history"] if t["action"].startswith("verification.")]


# (the rival event, whether a held row lock aligns the two processes)
CONFLICT_ROUNDS = [("passed", False), ("failed", False), ("passed", True), ("failed", True), ("passed", False)]


def test_conflicting_verifications_from_two_processes_apply_exactly_one(pg_cli: Cli, tmp_path: Path) -> None:
    refs = [f"RACE-{n}" for n in range(len(CONFLICT_ROUNDS))]
    waiting_for_verification(pg_cli, tmp_path, refs)
    for n, (ref, (rival_kind, aligned)) in enumerate(zip(refs, CONFLICT_ROUNDS, strict=True)):
        at = f"{MON}T15:00:00+08:00"
        township_passes = event("verification.passed", ref, at, f"{TOWNSHIP_CODE}/张三", note="核查合格")
        if rival_kind == "passed":  # two verifiers both pass it
            rival = event("verification.passed", ref, at, f"{COUNTY_CODE}/李四", note="复核合格")
        else:  # one passes it, the other sends it back
            rival = event("verification.failed", ref, at, f"{COUNTY_CODE}/李四", reason="整改不到位")
        files = [
            write_events(tmp_path / f"{ref}-a.jsonl", [township_passes]),
            write_events(tmp_path / f"{ref}-b.jsonl", [rival]),
        ]
        commands = [["apply", str(f)] for f in files]
        if aligned:
            lock = f"SELECT id FROM hazards WHERE ref = '{ref}' FOR UPDATE"
            outcomes = race_behind_a_lock(tmp_path, pg_cli.db, lock, commands, NOW)
        else:
            outcomes = race(tmp_path, pg_cli.db, commands, NOW)

        shown = pg_cli.json("show", ref, now=NOW)
        rows = verification_rows(shown)
        assert len(rows) == 1, f"round {n}: {len(rows)} verification transitions"
        winner = rows[0]["action"]
        assert shown["state"] == ("cleared" if winner == "verification.passed" else "rectifying")
        assert shown["rework_count"] == (winner == "verification.failed")
        kinds = Counter(notice["kind"] for notice in shown["notices"])
        expected = "clearance" if winner == "verification.passed" else "return"
        # the 核查通知 of the submission, and one outcome notice of the one verification that won
        assert kinds == Counter({"assignment": 1, "verification_request": 1, expected: 1}), f"round {n}: {kinds}"
        recorded = Counter(e["type"] for e in pg_cli.export(NOW)["events"] if e["hazard"] == shown["id"])
        assert recorded["verification.passed"] + recorded["verification.failed"] == 1

        codes = sorted(o.code for o in outcomes)
        assert codes == [0, 3], f"round {n}: exit codes {[(o.code, o.stderr) for o in outcomes]}"
        loser = next(o for o in outcomes if o.code == 3)
        assert "cleared" in loser.stderr or "rectifying" in loser.stderr, loser.stderr


def test_the_same_event_delivered_twice_at_once_is_applied_once_and_reported_as_duplicate(
    pg_cli: Cli, tmp_path: Path
) -> None:
    """Both deliveries arrive while a third writer (as a sweep batch would) holds the hazard's row for a moment,
    so both are certainly in flight together when it lets go."""
    refs = [f"TWICE-{n}" for n in range(ROUNDS)]
    waiting_for_verification(pg_cli, tmp_path, refs)
    for n, ref in enumerate(refs):
        same = write_events(
            tmp_path / f"{ref}.jsonl",
            [event("verification.passed", ref, f"{MON}T15:00:00+08:00", TOWNSHIP_CODE, note="核查合格")],
        )
        lock = f"SELECT id FROM hazards WHERE ref = '{ref}' FOR UPDATE"
        outcomes = race_behind_a_lock(tmp_path, pg_cli.db, lock, [["apply", str(same), "--json"]] * 2, NOW)
        shown = pg_cli.json("show", ref, now=NOW)
        assert shown["state"] == "cleared"
        assert len(verification_rows(shown)) == 1, f"round {n}: applied twice"
        assert Counter(notice["kind"] for notice in shown["notices"])["clearance"] == 1
        # the contract: the same event_id applied again changes nothing and is reported as a duplicate
        assert [o.code for o in outcomes] == [0, 0], f"round {n}: {[(o.code, o.stderr) for o in outcomes]}"
        reports = [json.loads(o.stdout) for o in outcomes]
        assert sorted((r["applied"], r["duplicates"]) for r in reports) == [(0, 1), (1, 0)]


TOWNSHIPS = {"SX-YC-FS": "府山街道", "SX-YC-TS": "塔山街道", "SX-YC-BH": "北海街道"}
LATE = "2025-03-14T09:00:00+08:00"  # general hazards detected Mon 03-03 were due 03-12: overdue
LATER = "2025-03-18T09:00:00+08:00"  # 3 working days overdue (03-13, 03-14, 03-17): county supervision
# Small batches, so that the two sweepers share the work batch by batch (SKIP LOCKED) as the design intends.
SWEEP = ["sweep", "--json", "--batch-size", "10"]


def three_hundred_late_hazards(cli: Cli, tmp_path: Path) -> None:
    """300 hazards detected Mon 2025-03-03, 100 in each of three townships; every tenth is major."""
    names = list(TOWNSHIPS.values())
    detections = [
        detected(
            f"LATE-{n:03d}",
            f"{MON}T08:00:00+08:00",
            field=("fire", "other")[n % 2],
            severity="major" if n % 10 == 0 else "general",
            township=names[n % len(names)],
        )
        for n in range(300)
    ]
    cli.ok("apply", str(write_events(tmp_path / "late.jsonl", detections)), now=NOW)


def lenient_config(tmp_path: Path) -> Path:
    """A copy of the default configuration whose listing thresholds no township breaks."""
    lenient = tmp_path / "lenient-config"
    shutil.copytree(CONFIG_DIR, lenient, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    policy = (lenient / "policy.yaml").read_text(encoding="utf-8")
    for strict, loose in (
        ("max_overdue: 10", "max_overdue: 100000"),
        ("min_clearance_rate: 0.6", "min_clearance_rate: 0.0"),
        ("max_overdue_major: 2", "max_overdue_major: 100000"),
    ):
        assert strict in policy
        policy = policy.replace(strict, loose)
    (lenient / "policy.yaml").write_text(policy, encoding="utf-8")
    return lenient


def both_finished_cleanly(outcomes: list[Outcome]) -> None:
    def gist(o: Outcome) -> str:
        errors = [line.strip() for line in o.stderr.splitlines() if re.match(r"\s*(\w+Error\b|DETAIL:)", line)]
        return f"exit {o.code}: " + " | ".join(errors[-6:] or [o.stderr[-500:]])

    assert [o.code for o in outcomes] == [0, 0], "\n".join(gist(o) for o in outcomes)


def test_two_sweeps_at_the_same_instant_supervise_each_overdue_hazard_once(pg_cli: Cli, tmp_path: Path) -> None:
    """Under a policy that lists no township, so that this is about the hazards alone (listing: below)."""
    three_hundred_late_hazards(pg_cli, tmp_path)
    lenient = lenient_config(tmp_path)
    outcomes = race(tmp_path, pg_cli.db, [SWEEP, SWEEP], LATE, lenient)
    state = pg_cli.export(LATE)
    overdue = {h["id"] for h in state["hazards"] if h["overdue"]}
    assert len(overdue) == 270  # the 30 major hazards are due later (20 working days)
    supervised = Counter(t["hazard"] for t in state["transitions"] if t["action"] == "supervised")
    assert set(supervised) == overdue, f"{len(overdue - set(supervised))} overdue hazard(s) not supervised"
    assert set(supervised.values()) == {1}, f"supervised twice: {[h for h, c in supervised.items() if c > 1][:10]}"
    notices = Counter(n["hazard"] for n in state["notices"] if n["kind"] == "supervision")
    assert notices == Counter(dict.fromkeys(overdue, 1))
    both_finished_cleanly(outcomes)
    assert sum(json.loads(o.stdout)["supervisions"] for o in outcomes) == 270

    # three working days later both elevate to county supervision, again once per hazard
    outcomes = race(tmp_path, pg_cli.db, [SWEEP, SWEEP], LATER, lenient)
    state = pg_cli.export(LATER)
    elevated = Counter(t["hazard"] for t in state["transitions"] if t["action"] == "elevated")
    assert set(elevated) == overdue and set(elevated.values()) == {1}
    assert {h["level"] for h in state["hazards"] if h["id"] in overdue} == {"county"}
    notices = Counter(n["hazard"] for n in state["notices"] if n["kind"] == "elevation")
    assert notices == Counter(dict.fromkeys(overdue, 1))
    both_finished_cleanly(outcomes)

    # one more sweep at the same instant finds nothing left to do
    before = pg_cli.export(LATER)
    again = json.loads(Cli(pg_cli.db, tmp_path, config=lenient).ok(*SWEEP, now=LATER).stdout)
    assert again["supervisions"] == again["elevations"] == again["reminders"] == 0
    assert pg_cli.export(LATER)["transitions"] == before["transitions"]


def test_two_sweeps_at_the_same_instant_list_each_township_once(pg_cli: Cli, tmp_path: Path) -> None:
    """90 overdue hazards in each township break the listing threshold (more than 10): each is listed once.

    The hazards are first supervised by a sweep under a lenient copy of the policy (which lists nobody), so
    that the two racing sweeps have no hazard left to supervise and meet in the listing step itself."""
    three_hundred_late_hazards(pg_cli, tmp_path)
    lenient = lenient_config(tmp_path)
    first = json.loads(Cli(pg_cli.db, tmp_path, config=lenient).ok(*SWEEP, now=LATE).stdout)
    assert first["supervisions"] == 270 and first["listed"] == []

    # Both must decide on the listings from the same picture, as two schedulers firing on the same tick do:
    # a lock on the listings table holds each at its first look until both are there.
    lock = "LOCK TABLE listings IN ACCESS EXCLUSIVE MODE"
    outcomes = race_behind_a_lock(tmp_path, pg_cli.db, lock, [SWEEP, SWEEP], LATE)
    state = pg_cli.export(LATE)
    listed = Counter(t["township"] for t in state["transitions"] if t["action"] == "township.listed")
    assert listed == Counter(dict.fromkeys(TOWNSHIPS, 1))
    listing_notices = Counter(n["township"] for n in state["notices"] if n["kind"] == "listing")
    assert listing_notices == Counter(dict.fromkeys(TOWNSHIPS.values(), 1))
    assert sorted(row["township_code"] for row in state["listings"]) == sorted(TOWNSHIPS)
    both_finished_cleanly(outcomes)


def test_document_numbers_stay_gapless_and_unique_under_two_concurrent_writers(pg_cli: Cli, tmp_path: Path) -> None:
    """Two processes issue notices from the same offices at once: every office's numbers for the year run 1..n."""
    files = []
    for racer in range(2):
        events = [
            detected(f"NUM-{racer}-{i}", f"{MON}T08:00:00+08:00", field="fire" if i % 2 else "other") for i in range(60)
        ]
        files.append(write_events(tmp_path / f"num-{racer}.jsonl", events))
    outcomes = race(tmp_path, pg_cli.db, [["apply", str(path)] for path in files], NOW)
    assert [o.code for o in outcomes] == [0, 0], [o.stderr for o in outcomes]
    notices = json.loads(pg_cli.ok("notices", "--json").stdout)
    assert len(notices) == 120
    by_office: dict[str, list[int]] = {}
    for notice in notices:
        office, number = re.fullmatch(r"(.+)〔2025〕(\d+)号", notice["number"]).groups()  # type: ignore[union-attr]
        by_office.setdefault(office, []).append(int(number))
    for office, numbers in by_office.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), office


def test_two_dispatchers_at_the_same_instant_send_each_notice_once(pg_cli: Cli, tmp_path: Path) -> None:
    """Two `dispatch` processes (as two workers' flow runs would) drain one outbox into a real SMTP server."""
    from aiosmtpd.controller import Controller

    from tests.test_dispatch_smtp import ScriptedHandler, _parsed
    from tests.test_notifications_mail import _free_port

    three_hundred_late_hazards(pg_cli, tmp_path)
    queued = [n for n in pg_cli.export(LATE)["notices"] if n["status"] == "pending"]
    assert len(queued) >= 300
    handler = ScriptedHandler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        outcomes = race(
            tmp_path,
            pg_cli.db,
            [["dispatch", "--json"], ["dispatch", "--json"]],
            LATE,
            env_extra={"HAZARDLOOP_SMTP_URL": f"smtp://127.0.0.1:{port}"},
        )
    finally:
        controller.stop()
    both_finished_cleanly(outcomes)
    sent = [json.loads(o.stdout)["sent"] for o in outcomes]
    assert sum(sent) == len(queued), sent
    print(f"\nthe two dispatchers sent {sent[0]} and {sent[1]} notices")
    message_ids = Counter(_parsed(content)["Message-ID"] for _, content in handler.messages)
    assert sum(message_ids.values()) == len(queued), f"{sum(message_ids.values())} mails for {len(queued)} notices"
    assert set(message_ids.values()) == {1}, f"sent twice: {[m for m, c in message_ids.items() if c > 1][:5]}"
    after = {n["id"]: n for n in pg_cli.export(LATE)["notices"]}
    assert {after[n["id"]]["status"] for n in queued} == {"sent"}
    assert {after[n["id"]]["attempts"] for n in queued} == {1}
