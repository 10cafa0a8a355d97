"""A source reference is unique within its source: two sources may each have a "1001", and both hazards exist. A bare
reference that names several hazards is refused (exit 2) with the candidates listed; the id always works. Databases
made before migration 0006 keep their hazards and gain the new rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import detected, event
from tests.support.fixtures import Cli, initialised_cli, write_events

NOW = "2025-03-05T12:00:00+08:00"
AT = "2025-03-03T08:00:00+08:00"


def _hotline_and_patrol() -> list[dict[str, object]]:
    return [
        detected("1001", AT, township="塔山街道", source="12345热线", actor="SX-YC-TS/接线员"),
        detected(
            "1001",
            "2025-03-03T08:05:00+08:00",
            township="安昌街道",
            source="网格巡查",
            severity="major",
            field="safety_production",
            actor="SX-KQ-AC/网格员",
            title="危化品仓库违规存放",
        ),
    ]


def _ids_by_source(cli: Cli) -> dict[str | None, str]:
    return {h["source"]: h["id"] for h in cli.json("hazards", now=NOW)}


def test_the_same_reference_from_two_sources_makes_two_hazards(cli: Cli, tmp_path: Path) -> None:
    result = cli.ok("apply", str(write_events(tmp_path / "a.jsonl", _hotline_and_patrol())), now=NOW)
    assert "1 duplicate" not in result.stdout
    hazards = cli.json("hazards", now=NOW)
    assert sorted((h["source"], h["township"], h["severity"]) for h in hazards) == [
        ("12345热线", "塔山街道", "general"),
        ("网格巡查", "安昌街道", "major"),
    ]


def test_the_same_reference_from_the_same_source_or_from_none_is_one_hazard(cli: Cli, tmp_path: Path) -> None:
    events = [
        detected("1001", AT, source="12345热线"),
        detected("1001", "2025-03-03T09:00:00+08:00", source="12345热线"),
        detected("2002", AT),
        detected("2002", "2025-03-03T09:00:00+08:00"),
    ]
    cli.ok("apply", str(write_events(tmp_path / "a.jsonl", events)), now=NOW)
    # and again in a later file: the stored hazards are found by (source, reference) too
    again = [detected("1001", "2025-03-04T09:00:00+08:00", source="12345热线"), detected("2002", AT)]
    result = json.loads(cli.ok("apply", "--json", str(write_events(tmp_path / "b.jsonl", again)), now=NOW).stdout)
    assert result["applied"] == 0 and result["duplicates"] == 2
    hazards = cli.json("hazards", now=NOW)
    assert sorted((h["ref"], h["source"]) for h in hazards) == [("1001", "12345热线"), ("2002", None)]


def test_a_bare_reference_naming_two_hazards_is_refused_with_the_candidates(cli: Cli, tmp_path: Path) -> None:
    cli.ok("apply", str(write_events(tmp_path / "a.jsonl", _hotline_and_patrol())), now=NOW)
    ids = _ids_by_source(cli)

    shown = cli("show", "1001", now=NOW)
    assert shown.exit_code == 2
    candidates = ((ids["12345热线"], "12345热线", "塔山街道"), (ids["网格巡查"], "网格巡查", "安昌街道"))
    for hazard_id, source, township in candidates:
        assert hazard_id in shown.stderr and source in shown.stderr and township in shown.stderr
    assert "Traceback" not in shown.stderr

    # an event naming the shared reference is invalid input and writes nothing, whether it arrives in a later file …
    before = cli.export()
    ack = [event("hazard.acknowledged", "1001", "2025-03-03T10:00:00+08:00", "SX-KQ-AJ")]
    refused = cli("apply", str(write_events(tmp_path / "b.jsonl", ack)), now=NOW)
    assert refused.exit_code == 2 and ids["网格巡查"] in refused.stderr and "line 1" in refused.stderr
    assert cli.export() == before
    assert cli("notices", "--hazard", "1001", now=NOW).exit_code == 2
    assert cli("escalate", "1001", "--to", "city", "--reason", "重大隐患", "--by", "SX", now=NOW).exit_code == 2

    # … while the id always works
    assert cli.json("show", ids["网格巡查"], now=NOW)["township"] == "安昌街道"
    cli.ok("escalate", ids["网格巡查"], "--to", "city", "--reason", "重大隐患", "--by", "SX", now=NOW)
    assert cli.json("show", ids["网格巡查"], now=NOW)["level"] == "city"
    assert cli.json("show", ids["12345热线"], now=NOW)["level"] == "none"


def test_a_reference_shared_within_one_file_is_refused_at_its_line(cli: Cli, tmp_path: Path) -> None:
    events = [*_hotline_and_patrol(), event("hazard.acknowledged", "1001", "2025-03-03T10:00:00+08:00", "SX-KQ-AJ")]
    refused = cli("apply", str(write_events(tmp_path / "a.jsonl", events)), now=NOW)
    assert refused.exit_code == 2 and "line 3" in refused.stderr and "names 2 hazards" in refused.stderr
    assert cli.json("hazards", now=NOW) == []  # all or nothing


def test_a_reference_of_one_source_still_names_its_hazard(cli: Cli, tmp_path: Path) -> None:
    ack = event("hazard.acknowledged", "XC-7", "2025-03-03T10:00:00+08:00", "SX-YC-XF")
    events = [detected("XC-7", AT, source="网格巡查"), ack]
    cli.ok("apply", str(write_events(tmp_path / "a.jsonl", events)), now=NOW)
    assert cli.json("show", "XC-7", now=NOW)["state"] == "rectifying"


def _migrate(url: str, revision: str) -> None:
    from hazardloop.models.store.db import downgrade, make_engine, upgrade

    engine = make_engine(url)
    try:
        if revision == "head":
            upgrade(engine)
        else:
            downgrade(engine, revision)
    finally:
        engine.dispose()


def _without_deliveries(state: dict[str, Any]) -> dict[str, Any]:
    """The export without what 0005 cannot hold: who received each notice (added by 0006) and who recorded each
    step (the principal columns, added with the accounts)."""
    for notice in state["notices"]:
        notice.pop("delivered_to")
    for step in state["transitions"]:
        step.pop("via")
        step.pop("account_id")
    return state


def test_a_database_from_before_the_rule_keeps_its_hazards_and_gains_it(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = initialised_cli(db_url, tmp_path, monkeypatch)
    events = [detected("1001", AT, source="12345热线", township="塔山街道"), detected("2002", AT)]
    cli.ok("apply", str(write_events(tmp_path / "a.jsonl", events)), now=NOW)
    cli.ok("dispatch", now=NOW)
    before = _without_deliveries(cli.export())
    _migrate(db_url, "0005")  # the schema as it was, holding these hazards (one without a source: NULL there)
    _migrate(db_url, "head")
    assert _without_deliveries(cli.export()) == before
    later = [
        detected("1001", "2025-03-04T08:00:00+08:00", source="网格巡查", township="安昌街道"),  # another source: new
        detected("2002", "2025-03-04T08:00:00+08:00"),  # no source again: the same hazard
    ]
    result = json.loads(cli.ok("apply", "--json", str(write_events(tmp_path / "b.jsonl", later)), now=NOW).stdout)
    assert result["applied"] == 1 and result["duplicates"] == 1
    assert sorted((h["ref"], h["source"]) for h in cli.json("hazards", now=NOW)) == [
        ("1001", "12345热线"),
        ("1001", "网格巡查"),
        ("2002", None),
    ]
