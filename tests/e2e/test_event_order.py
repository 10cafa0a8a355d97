"""A hazard's history runs forward: an event dated before the last step a person took on the hazard is invalid
input (exit 2, naming the line, the field 'at', that step and its instant in the policy's zone), and nothing is
written. A person's event dated before one of the engine's own steps (a sweep's reminder or supervision) is
accepted: the unit acted in time, the engine only learnt of it late. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.support.factories import FIRE_UNIT, TOWNSHIP_CODE, detected, event
from tests.support.fixtures import Cli, write_events

NOW = "2025-03-20T12:00:00+08:00"
DAY = "2025-03-03"  # a Monday


def at(clock: str, day: str = DAY) -> str:
    return f"{day}T{clock}:00+08:00"


def submitted(ref: str, when: str) -> dict[str, object]:
    return event("rectification.submitted", ref, when, FIRE_UNIT, note="已整改", evidence=["a.jpg"])


def rejected(cli: Cli, path: Path, now: str = NOW) -> str:
    before = cli.export(NOW)
    result = cli("apply", str(path), now=now)
    assert result.exit_code == 2, f"exit {result.exit_code}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    assert cli.export(NOW) == before, "a rejected file changed the database"
    return result.stderr


def test_a_verification_dated_before_the_submission_is_invalid_input(cli: Cli, tmp_path: Path) -> None:
    history = [
        detected("ORD-1", at("08:00")),
        event("hazard.acknowledged", "ORD-1", at("09:00"), FIRE_UNIT),
        submitted("ORD-1", at("10:00")),
        event("verification.passed", "ORD-1", at("09:30"), TOWNSHIP_CODE, note="核查合格"),
    ]
    stderr = rejected(cli, write_events(tmp_path / "late.jsonl", history))
    assert "line 4" in stderr and "'at'" in stderr, stderr
    assert "rectification.submitted" in stderr and "2025-03-03T10:00:00+08:00" in stderr, stderr
    assert "Asia/Shanghai" in stderr, stderr


def test_a_verification_dated_before_the_acknowledgement_is_refused_on_a_stored_hazard(
    cli: Cli, tmp_path: Path
) -> None:
    """The hazard's last step is read back from the store (in UTC) and still named in the policy's zone."""
    cli.ok(
        "apply",
        str(
            write_events(
                tmp_path / "first.jsonl",
                [
                    detected("ORD-2", at("08:00")),
                    event("hazard.acknowledged", "ORD-2", at("09:00"), FIRE_UNIT),
                    submitted("ORD-2", at("10:00")),
                ],
            )
        ),
        now=NOW,
    )
    late = event("verification.passed", "ORD-2", at("08:30"), TOWNSHIP_CODE, note="核查合格")
    stderr = rejected(cli, write_events(tmp_path / "late.jsonl", [late]))
    assert "line 1" in stderr and "'at'" in stderr and "2025-03-03T10:00:00+08:00" in stderr, stderr
    assert cli.json("show", "ORD-2", now=NOW)["state"] == "pending_verification"


def test_events_of_one_hazard_out_of_order_in_a_file_are_refused(cli: Cli, tmp_path: Path) -> None:
    """Events apply in file order: a request for an extension after an acknowledgement may not be dated before it."""
    history = [
        detected("ORD-3", at("08:00")),
        event("hazard.acknowledged", "ORD-3", at("10:00"), FIRE_UNIT),
        event("extension.requested", "ORD-3", at("09:30"), FIRE_UNIT, days=3, reason="材料未到"),
    ]
    stderr = rejected(cli, write_events(tmp_path / "swapped.jsonl", history))
    assert "line 3" in stderr and "hazard.acknowledged" in stderr and "2025-03-03T10:00:00+08:00" in stderr, stderr


def test_an_event_dated_at_the_same_instant_as_the_last_step_is_accepted(cli: Cli, tmp_path: Path) -> None:
    history = [
        detected("ORD-4", at("08:00")),
        event("hazard.acknowledged", "ORD-4", at("08:00"), FIRE_UNIT),
        submitted("ORD-4", at("08:00")),
    ]
    cli.ok("apply", str(write_events(tmp_path / "same.jsonl", history)), now=NOW)
    assert cli.json("show", "ORD-4", now=NOW)["state"] == "pending_verification"


def test_a_persons_event_dated_before_a_sweep_step_is_accepted(cli: Cli, tmp_path: Path) -> None:
    """The fire brigade submitted on 03-13 at 09:00, a day after its deadline (03-12); the sweep of 03-14
    supervised the hazard as overdue before the submission reached the engine. The submission still counts."""
    first = [detected("ORD-5", at("08:00")), event("hazard.acknowledged", "ORD-5", at("09:00"), FIRE_UNIT)]
    cli.ok("apply", str(write_events(tmp_path / "first.jsonl", first)), now=at("09:30"))
    cli.ok("sweep", now="2025-03-14T12:00:00+08:00")
    swept = cli.json("show", "ORD-5", now="2025-03-14T12:00:00+08:00")["history"]
    assert any(t["actor"] == "system" and t["at"].startswith("2025-03-14") for t in swept), swept
    late = submitted("ORD-5", "2025-03-13T09:00:00+08:00")
    cli.ok("apply", str(write_events(tmp_path / "late.jsonl", [late])), now="2025-03-14T15:00:00+08:00")
    shown = cli.json("show", "ORD-5", now="2025-03-14T15:00:00+08:00")
    assert shown["state"] == "pending_verification"
    assert [t for t in shown["history"] if t["actor"] == "system" and t["at"].startswith("2025-03-14")], shown
    # the next person's step is judged against the submission, not against the sweep
    passed = event("verification.passed", "ORD-5", "2025-03-13T15:00:00+08:00", TOWNSHIP_CODE, note="核查合格")
    cli.ok("apply", str(write_events(tmp_path / "pass.jsonl", [passed])), now="2025-03-14T15:00:00+08:00")
    assert cli.json("show", "ORD-5", now=NOW)["state"] == "cleared"


def test_a_database_upgraded_from_before_the_rule_knows_each_hazards_last_step(
    db_url: str, cli: Cli, tmp_path: Path
) -> None:
    """Migration 0006 fills in the last step from the transitions, skipping the sweep's."""
    from hazardloop.models.store.db import downgrade, make_engine, upgrade

    first = [detected("ORD-6", at("08:00")), event("hazard.acknowledged", "ORD-6", at("09:00"), FIRE_UNIT)]
    cli.ok("apply", str(write_events(tmp_path / "first.jsonl", first)), now=at("09:30"))
    cli.ok("sweep", now="2025-03-14T12:00:00+08:00")  # a system step after the person's
    engine = make_engine(db_url)
    try:
        downgrade(engine, "0005")
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT last_step, last_step_at FROM hazards WHERE ref = 'ORD-6'")).one()
    finally:
        engine.dispose()
    assert row[0] == "hazard.acknowledged"
    stderr = rejected(cli, write_events(tmp_path / "late.jsonl", [submitted("ORD-6", at("08:30"))]))
    assert "hazard.acknowledged" in stderr and "2025-03-03T09:00:00+08:00" in stderr, stderr
    on_time = submitted("ORD-6", "2025-03-13T09:00:00+08:00")
    cli.ok("apply", str(write_events(tmp_path / "ok.jsonl", [on_time])), now=NOW)


def test_a_manual_escalation_counts_as_a_persons_step(cli: Cli, tmp_path: Path) -> None:
    history = [
        detected("ORD-7", at("08:00")),
        event("hazard.escalated", "ORD-7", at("11:00"), "SX-YC", to="county", reason="群众反映强烈"),
        event("hazard.acknowledged", "ORD-7", at("10:00"), FIRE_UNIT),
    ]
    stderr = rejected(cli, write_events(tmp_path / "after.jsonl", history))
    assert "line 3" in stderr and "hazard.escalated" in stderr and "2025-03-03T11:00:00+08:00" in stderr, stderr
