"""Every command of the contract end to end, on SQLite and on PostgreSQL (the same tests, parametrised)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.factories import COUNTY_CODE, FIRE_UNIT, TOWNSHIP, TOWNSHIP_CODE, detected, event, full_loop
from tests.support.fixtures import Cli, write_events

NOW = "2025-03-10T12:00:00+08:00"


def test_init_twice_changes_nothing(cli: Cli) -> None:
    before = cli.export(NOW)
    result = cli.ok("init")
    assert "0 added, 0 changed" in result.stdout
    assert cli.export(NOW) == before
    assert any(u["code"] == "SX" and u["level"] == "city" for u in before["units"])


def test_a_hazard_goes_through_its_whole_life(cli: Cli, tmp_path: Path) -> None:
    events = full_loop("WG-LIFE-1", fail_once=True)
    cli.ok("apply", str(write_events(tmp_path / "loop.jsonl", events)), now=NOW)
    shown = cli.json("show", "WG-LIFE-1", now=NOW)
    assert shown["state"] == "cleared"
    assert shown["unit"] == FIRE_UNIT
    assert shown["township"] == TOWNSHIP
    assert shown["county"] == "越城区"
    assert shown["rework_count"] == 1
    assert shown["cleared_at"].startswith("2025-03-03T15:00")
    actions = [t["action"] for t in shown["history"]]
    assert actions == [
        "hazard.detected",
        "routed",
        "hazard.acknowledged",
        "rectification.submitted",
        "verification.failed",
        "rectification.submitted",
        "verification.passed",
    ]
    kinds = sorted(n["kind"] for n in shown["notices"])
    # each submission asks the verifier for a verification (核查通知)
    assert kinds == ["assignment", "clearance", "return", "verification_request", "verification_request"]
    listed = cli.json("hazards", "--state", "cleared", now=NOW)
    assert [h["id"] for h in listed] == [shown["id"]]
    for key in (
        "id",
        "ref",
        "title",
        "field",
        "severity",
        "state",
        "unit",
        "township",
        "county",
        "level",
        "due_at",
        "overdue",
        "rework_count",
        "detected_at",
        "cleared_at",
    ):
        assert key in listed[0]


def test_routing_sends_a_field_without_a_department_to_the_township(cli: Cli, tmp_path: Path) -> None:
    cli.ok(
        "apply",
        str(write_events(tmp_path / "d.jsonl", [detected("WG-O-1", "2025-03-03T08:00:00+08:00", field="other")])),
        now=NOW,
    )
    assert cli.json("show", "WG-O-1", now=NOW)["unit"] == TOWNSHIP_CODE


def test_hazards_filters(cli: Cli, tmp_path: Path) -> None:
    events = [
        detected("F-1", "2025-03-03T08:00:00+08:00"),
        detected("F-2", "2025-03-03T08:00:00+08:00", field="other"),
        detected("F-3", "2025-03-03T08:00:00+08:00", township="柯桥街道", actor="SX-KQ"),
    ]
    cli.ok("apply", str(write_events(tmp_path / "f.jsonl", events)), now=NOW)
    assert {h["ref"] for h in cli.json("hazards", "--township", TOWNSHIP, now=NOW)} == {"F-1", "F-2"}
    assert {h["ref"] for h in cli.json("hazards", "--unit", FIRE_UNIT, now=NOW)} == {"F-1"}
    assert cli.json("hazards", "--overdue", now=NOW) == []
    late = cli.json("hazards", "--overdue", now="2025-04-30T12:00:00+08:00")
    assert {h["ref"] for h in late} == {"F-1", "F-2", "F-3"} and all(h["overdue"] for h in late)
    assert len(cli.json("hazards", "--state", "assigned", now=NOW)) == 3


def test_apply_reads_standard_input(cli: Cli) -> None:
    line = json.dumps(detected("STDIN-1", "2025-03-03T08:00:00+08:00"), ensure_ascii=False)
    cli.ok("apply", "-", now=NOW, input=line + "\n")
    assert cli.json("show", "STDIN-1", now=NOW)["state"] == "assigned"


def test_applying_a_file_twice_reports_duplicates_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write_events(tmp_path / "twice.jsonl", [*full_loop("TW-1"), detected("TW-2", "2025-03-04T08:00:00+08:00")])
    cli.ok("apply", str(path), now=NOW)
    before = cli.export(NOW)
    again = cli.ok("apply", str(path), "--json", now=NOW)
    assert json.loads(again.stdout)["duplicates"] == 5
    assert json.loads(again.stdout)["applied"] == 0
    assert cli.export(NOW) == before


def test_manual_escalation_supervise_and_delist(cli: Cli, tmp_path: Path) -> None:
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", [detected("ESC-1", "2025-03-03T08:00:00+08:00")])), now=NOW)
    cli.ok("escalate", "ESC-1", "--to", "county", "--reason", "群众反映强烈", "--by", f"{COUNTY_CODE}/赵六", now=NOW)
    shown = cli.json("show", "ESC-1", now=NOW)
    assert shown["level"] == "county"
    assert shown["history"][-1]["reason"] == "群众反映强烈"
    assert "elevation" in [n["kind"] for n in shown["notices"]]
    cli.ok("supervise", TOWNSHIP, "--reason", "隐患整改进度滞后", "--by", "SX/市平安办", now=NOW)
    active = cli.json("listings", "--active", now=NOW)
    assert [(r["township"], r["level"]) for r in active] == [(TOWNSHIP, "city")]
    cli.ok("delist", TOWNSHIP, "--reason", "问题已整改到位", "--by", "SX", now=NOW)
    assert cli.json("listings", "--active", now=NOW) == []
    kinds = [n["kind"] for n in cli.json("notices", now=NOW)]
    assert "listing" in kinds and "delisting" in kinds


def test_sweep_escalates_an_overdue_hazard_once(cli: Cli, tmp_path: Path) -> None:
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", [detected("SW-1", "2025-03-03T08:00:00+08:00")])), now=NOW)
    # 7 working days after Mon 2025-03-03 is Wed 2025-03-12; overdue from Thu 2025-03-13.
    late = "2025-03-14T09:00:00+08:00"
    first = json.loads(cli.ok("sweep", "--json", now=late).stdout)
    assert first["supervisions"] == 1
    before = cli.export(late)
    second = json.loads(cli.ok("sweep", "--json", now=late).stdout)
    assert second["supervisions"] == second["reminders"] == second["elevations"] == 0
    assert cli.export(late) == before
    shown = cli.json("show", "SW-1", now=late)
    assert shown["overdue"] is True
    assert shown["due_at"] == "2025-03-12T23:59:59+08:00"


def test_notices_and_export_are_json(cli: Cli, tmp_path: Path) -> None:
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", [detected("N-1", "2025-03-03T08:00:00+08:00")])), now=NOW)
    rows = cli.json("notices", "--status", "pending", now=NOW)
    assert len(rows) == 1
    notice = rows[0]
    for key in ("id", "kind", "hazard", "township", "to", "cc", "subject", "status", "number"):
        assert key in notice
    assert notice["kind"] == "assignment" and notice["status"] == "pending"
    assert notice["number"].endswith("〔2025〕1号")
    state = cli.export(NOW)
    assert {"units", "hazards", "transitions", "notices", "listings"} <= set(state)


def test_extension_moves_the_deadline(cli: Cli, tmp_path: Path) -> None:
    events = [
        detected("EX-1", "2025-03-03T08:00:00+08:00"),
        event("hazard.acknowledged", "EX-1", "2025-03-03T09:00:00+08:00", FIRE_UNIT),
        event("extension.requested", "EX-1", "2025-03-04T09:00:00+08:00", FIRE_UNIT, days=5, reason="需采购设备"),
        event(
            "extension.decided", "EX-1", "2025-03-04T10:00:00+08:00", TOWNSHIP_CODE, approved=True, reason="同意延期"
        ),
    ]
    cli.ok("apply", str(write_events(tmp_path / "x.jsonl", events)), now=NOW)
    shown = cli.json("show", "EX-1", now=NOW)
    assert shown["due_at"] == "2025-03-19T23:59:59+08:00"  # 2025-03-12 + 5 working days
    assert "extension_decision" in [n["kind"] for n in shown["notices"]]


def test_reassignment_and_invalidation(cli: Cli, tmp_path: Path) -> None:
    events = [
        detected("RI-1", "2025-03-03T08:00:00+08:00"),
        detected("RI-2", "2025-03-03T08:00:00+08:00"),
        event(
            "hazard.reassigned",
            "RI-1",
            "2025-03-03T09:00:00+08:00",
            TOWNSHIP_CODE,
            unit="SX-YC-JSJ",
            reason="属住建部门职责",
        ),
        event("hazard.invalidated", "RI-2", "2025-03-03T09:00:00+08:00", TOWNSHIP_CODE, reason="重复上报"),
    ]
    cli.ok("apply", str(write_events(tmp_path / "r.jsonl", events)), now=NOW)
    assert cli.json("show", "RI-1", now=NOW)["unit"] == "SX-YC-JSJ"
    assert cli.json("show", "RI-2", now=NOW)["state"] == "invalid"


def test_history_shows_every_instant_in_the_policys_zone(cli: Cli, tmp_path: Path) -> None:
    """The sweep reads the hazard back from the store (in UTC); its history must still read in local time, as the
    routing decided in memory does."""
    detection = [detected("TZ-1", "2025-09-26T10:00:00+08:00")]
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", detection)), now="2025-09-26T12:00:00+08:00")
    cli.ok("sweep", now="2025-10-17T09:00:00+08:00")
    history = cli.json("show", "TZ-1", now="2025-10-17T09:00:00+08:00")["history"]
    instants = [v for h in history for k, v in (h.get("details") or {}).items() if k in ("due_at", "fell_due_at")]
    assert [h["action"] for h in history] == ["hazard.detected", "routed", "supervised", "elevated"]
    assert len(instants) == 4 and all(v.endswith("+08:00") for v in instants), instants
