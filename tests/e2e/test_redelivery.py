"""An event delivered again is a duplicate whatever its spelling: its instant in another offset, its hazard by id
instead of source reference, its township, unit or actor by code instead of name. Reusing an event_id for an event
that means something else is still refused. Earlier files and earlier lines of the same file, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.factories import FIRE_UNIT, TOWNSHIP, TOWNSHIP_CODE
from tests.support.fixtures import Cli, write_events

NOW = "2025-03-10T12:00:00+08:00"


def _history() -> list[dict[str, Any]]:
    return [
        {
            "type": "hazard.detected",
            "event_id": "rd-1",
            "at": "2025-03-03T08:00:00+08:00",
            "actor": "府山街道/网格员",
            "hazard": {
                "ref": "RD-1",
                "title": "消防通道堵塞",
                "description": "小区消防通道被车辆占用",
                "field": "fire",
                "severity": "general",
                "township": TOWNSHIP,
            },
        },
        {
            "type": "hazard.acknowledged",
            "event_id": "rd-2",
            "at": "2025-03-03T09:30:00+08:00",
            "actor": "越城区消防救援大队",
            "hazard": "RD-1",
        },
        {
            "type": "hazard.reassigned",
            "event_id": "rd-3",
            "at": "2025-03-03T10:00:00+08:00",
            "actor": TOWNSHIP_CODE,
            "hazard": "RD-1",
            "unit": "府山街道",
            "reason": "属街道职责",
        },
    ]


def _respelt(events: list[dict[str, Any]], hazard_id: str) -> list[dict[str, Any]]:
    """The same events as a system in between might re-send them: UTC instants, codes for names, the id."""
    out = json.loads(json.dumps(events))
    for e in out:
        e["at"] = datetime.fromisoformat(e["at"]).astimezone(UTC).isoformat().replace("+00:00", "Z")
    out[0]["actor"] = f"{TOWNSHIP_CODE}/网格员"
    out[0]["hazard"]["township"] = TOWNSHIP_CODE
    out[1]["actor"], out[1]["hazard"] = FIRE_UNIT, hazard_id
    out[2]["unit"] = TOWNSHIP_CODE
    return out


def test_a_redelivered_file_spelt_differently_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.ok("apply", str(write_events(tmp_path / "first.jsonl", _history())), now=NOW)
    hazard_id = cli.json("show", "RD-1", now=NOW)["id"]
    before = cli.export(NOW)
    again = cli.json("apply", str(write_events(tmp_path / "again.jsonl", _respelt(_history(), hazard_id))), now=NOW)
    assert (again["applied"], again["duplicates"], again["rejected"]) == (0, 3, [])
    assert cli.export(NOW) == before


def test_a_respelt_copy_later_in_the_same_file_is_a_duplicate(cli: Cli, tmp_path: Path) -> None:
    events = _history()
    copy = _respelt(events, "RD-1")  # the hazard by its source reference here: its id is not known yet
    report = cli.json("apply", str(write_events(tmp_path / "both.jsonl", [*events, *copy])), now=NOW)
    assert (report["applied"], report["duplicates"], report["rejected"]) == (3, 3, [])
    assert cli.json("show", "RD-1", now=NOW)["unit"] == TOWNSHIP_CODE


def test_an_event_id_reused_for_another_meaning_is_still_refused(cli: Cli, tmp_path: Path) -> None:
    cli.ok("apply", str(write_events(tmp_path / "first.jsonl", _history())), now=NOW)
    before = cli.export(NOW)
    changed = _respelt(_history(), "RD-1")
    changed[2]["reason"] = "另有原因"
    result = cli("apply", str(write_events(tmp_path / "changed.jsonl", changed)), now=NOW)
    assert result.exit_code == 2, result.stderr
    assert "line 3, field 'event_id'" in result.stderr and "different event" in result.stderr, result.stderr
    assert "line 1" not in result.stderr and "line 2" not in result.stderr, result.stderr
    assert cli.export(NOW) == before
