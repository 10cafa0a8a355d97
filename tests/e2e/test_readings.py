"""Readings in through the real command line, on SQLite and PostgreSQL: a breach raises exactly one hazard per
point and episode (however many readings, files or deliveries), later readings and the return within bounds
land in that hazard's history, a warning notifies without a hazard, and bad lines are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hazardloop.config.loading import load_indicators, load_org, load_policy
from tests.support.fixtures import CONFIG_DIR, Cli, initialised_cli

NOW = "2025-10-20T12:00:00+08:00"
# MP001: 重大危险源储罐温度 (I01), higher is worse, warning 45, breach 60, SX-YJJ, safety_production, major, 塔山街道
POINT, REF = "MP001", "MON-MP001-20251013T010000Z"


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return initialised_cli(db_url, tmp_path, monkeypatch)


def _csv(path: Path, rows: list[tuple[str, str, object]]) -> str:
    path.write_text("point,instant,value\n" + "".join(f"{p},{at},{v}\n" for p, at, v in rows), encoding="utf-8")
    return str(path)


def _at(hour: int, day: int = 13) -> str:
    return f"2025-10-{day:02d}T{hour:02d}:00:00+08:00"


def _monitoring_hazards(cli: Cli) -> list[dict]:
    return [h for h in cli.json("hazards", now=NOW) if h["ref"].startswith("MON-")]


def _count(url: str, sql: str) -> int:
    engine = create_engine(url.replace("postgresql+psycopg", "postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_a_breach_raises_one_hazard_with_the_indicators_unit_field_severity_and_measure(
    cli: Cli, tmp_path: Path
) -> None:
    rows = [(POINT, _at(8), 40), (POINT, _at(9), 61), (POINT, _at(10), 75), (POINT, _at(11), 58), (POINT, _at(12), 66)]
    report = json.loads(cli.ok("readings", _csv(tmp_path / "a.csv", rows), "--json", now=NOW).stdout)
    assert report["readings"] == 5 and len(report["hazards"]) == 1 and report["continued"] == 3
    [hazard] = _monitoring_hazards(cli)
    assert hazard["ref"] == REF
    assert (hazard["field"], hazard["severity"], hazard["unit"], hazard["state"]) == (
        "safety_production",
        "major",
        "SX-YJJ",
        "assigned",
    )
    shown = cli.json("show", REF, now=NOW)
    assert shown["source"] == "monitoring" and "立即启动储罐喷淋降温" in shown["description"]
    assert "61" in shown["description"] and "60" in shown["description"]
    actions = [t["action"] for t in shown["history"]]
    assert actions.count("reading.breach") == 1 and "reading.recovered" not in actions
    # the assignment notice goes to the indicator's responsible unit only
    assignments = [n for n in cli.json("notices", now=NOW) if n["kind"] == "assignment"]
    assert [n["to"] for n in assignments] == [["yjj@sx.example.org"]]


def test_the_same_file_twice_and_the_episode_split_over_files_raise_one_hazard(cli: Cli, tmp_path: Path) -> None:
    first = _csv(tmp_path / "1.csv", [(POINT, _at(9), 61), (POINT, _at(10), 75)])
    second = _csv(tmp_path / "2.csv", [(POINT, _at(11), 80), (POINT, _at(12), 70)])
    cli.ok("readings", first, now=NOW)
    again = json.loads(cli.ok("readings", first, "--json", now=NOW).stdout)
    assert again["duplicates"] == 2 and again["readings"] == 0 and again["hazards"] == []
    later = json.loads(cli.ok("readings", second, "--json", now=NOW).stdout)
    assert later["hazards"] == [] and later["continued"] == 2
    assert len(_monitoring_hazards(cli)) == 1
    history = cli.json("show", REF, now=NOW)["history"]
    assert [t["action"] for t in history].count("reading.breach") == 2  # one per file that added readings


def test_a_return_within_bounds_ends_the_episode_and_the_next_breach_raises_a_new_hazard(
    cli: Cli, tmp_path: Path
) -> None:
    # 50 is back below the breach threshold but still past the warning one: the episode goes on
    rows = [(POINT, _at(9), 61), (POINT, _at(10), 50), (POINT, _at(11), 30), (POINT, _at(12), 62), (POINT, _at(13), 64)]
    report = json.loads(cli.ok("readings", _csv(tmp_path / "a.csv", rows), "--json", now=NOW).stdout)
    assert len(report["hazards"]) == 2 and report["recovered"] == 1
    refs = sorted(h["ref"] for h in _monitoring_hazards(cli))
    assert refs == [REF, "MON-MP001-20251013T040000Z"]
    history = cli.json("show", REF, now=NOW)["history"]
    recovered = [t for t in history if t["action"] == "reading.recovered"]
    assert len(recovered) == 1 and "30" in recovered[0]["reason"]


def test_a_warning_notifies_the_responsible_unit_once_per_spell_without_a_hazard(cli: Cli, tmp_path: Path) -> None:
    rows = [(POINT, _at(8), 40), (POINT, _at(9), 50), (POINT, _at(10), 52), (POINT, _at(11), 30), (POINT, _at(12), 47)]
    report = json.loads(cli.ok("readings", _csv(tmp_path / "a.csv", rows), "--json", now=NOW).stdout)
    assert report["hazards"] == [] and report["warnings"] == 2
    warnings = [n for n in cli.json("notices", now=NOW) if n["kind"] == "indicator_warning"]
    assert len(warnings) == 2 and all(n["to"] == ["yjj@sx.example.org"] for n in warnings)
    assert all(n["hazard"] is None and n["township"] == "塔山街道" for n in warnings)
    assert _monitoring_hazards(cli) == []


def test_a_lower_is_worse_indicator_breaches_below_its_threshold() -> None:
    policy = load_policy(CONFIG_DIR)
    indicators = load_indicators(CONFIG_DIR, policy, load_org(CONFIG_DIR, policy))
    oxygen = indicators.indicator["I03"]  # 有限空间作业氧含量: warning 19.5, breach 18
    assert [oxygen.level_of(v) for v in (21, 19.5, 19, 18, 17.9)] == [
        "normal",
        "normal",
        "warning",
        "warning",
        "breach",
    ]


def test_bad_lines_are_all_named_and_nothing_is_written(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "point,instant,value\n"
        f"{POINT},{_at(9)},61\n"
        f"MP999,{_at(9)},61\n"
        f"{POINT},2025-10-13T10:00:00,61\n"
        f"{POINT},{_at(11)},hot\n"
        f"{POINT},2026-01-01T00:00:00+08:00,61\n"
        f"{POINT},{_at(12)},nan\n",
        encoding="utf-8",
    )
    result = cli("readings", str(path), now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    for line, field in ((3, "point"), (4, "instant"), (5, "value"), (6, "instant"), (7, "value")):
        assert f"line {line}, field '{field}'" in message, message
    assert "MP999" in message and "time zone offset" in message and "not a number" in message
    assert "line 2," not in message
    assert _count(cli.db, "SELECT count(*) FROM readings") == 0 and _monitoring_hazards(cli) == []
    partial = json.loads(cli("readings", str(path), "--partial", "--json", now=NOW).stdout)
    assert partial["readings"] == 1 and len(partial["hazards"]) == 1 and len(partial["rejected"]) == 5


def test_json_lines_readings_and_their_bad_lines(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps({"point": POINT, "instant": _at(9), "value": 61}) + "\n"
        + json.dumps({"point": POINT, "instant": _at(10), "value": "70", "unit": "C"}) + "\n"
        + json.dumps({"point": POINT, "instant": _at(11)}) + "\n"
        + "{not json\n",
        encoding="utf-8",
    )  # fmt: skip
    result = cli("readings", str(path), now=NOW)
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "line 2, field 'unit'" in message and "line 3, field 'value': is required" in message, message
    assert "line 4: not valid JSON" in message
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps({"point": POINT, "instant": _at(9), "value": 61}) + "\n", encoding="utf-8")
    assert len(json.loads(cli.ok("readings", str(ok), "--json", now=NOW).stdout)["hazards"]) == 1


def test_a_second_value_for_the_same_point_and_instant_is_refused(cli: Cli, tmp_path: Path) -> None:
    cli.ok("readings", _csv(tmp_path / "1.csv", [(POINT, _at(9), 40)]), now=NOW)
    result = cli("readings", _csv(tmp_path / "2.csv", [(POINT, _at(9), 41)]), now=NOW)
    assert result.exit_code == 2
    assert "line 2, field 'value'" in result.stderr and "already has a reading" in result.stderr


def test_a_monitoring_hazard_escalates_like_any_other(cli: Cli, tmp_path: Path) -> None:
    cli.ok("readings", _csv(tmp_path / "a.csv", [(POINT, _at(9), 61)]), now=NOW)
    cli.ok("sweep", now="2025-12-31T12:00:00+08:00")
    [hazard] = [h for h in cli.json("hazards", now="2025-12-31T12:00:00+08:00") if h["ref"] == REF]
    assert hazard["overdue"] and hazard["level"] in ("county", "city")
    kinds = {n["kind"] for n in cli.json("notices", now="2025-12-31T12:00:00+08:00") if n["hazard"] == hazard["id"]}
    assert {"assignment", "supervision", "elevation"} <= kinds


@pytest.mark.postgres
def test_two_processes_reading_in_one_episode_at_once_raise_one_hazard(
    pg_url: str, tmp_path: Path, monkeypatch
) -> None:
    from tests.support.processes import race

    cli = initialised_cli(pg_url, tmp_path, monkeypatch)
    # two files with different readings of the same episodes (neither sees the other's uncommitted readings),
    # and the first one delivered twice
    points = ["MP001", "MP002", "MP003", "MP004"]
    cli.ok("readings", _csv(tmp_path / "before.csv", [(p, _at(8), 1) for p in points]), now=NOW)  # points known
    a = _csv(tmp_path / "a.csv", [(p, _at(h), 61 + h) for p in points for h in (9, 10)])
    b = _csv(tmp_path / "b.csv", [(p, _at(h), 61 + h) for p in reversed(points) for h in (11, 12)])
    outcomes = race(tmp_path, pg_url, [["readings", a], ["readings", b], ["readings", a]], NOW)
    assert all(o.code == 0 for o in outcomes), [o.stderr for o in outcomes]
    assert _count(pg_url, "SELECT count(*) FROM hazards WHERE ref LIKE 'MON-%'") == len(points)
    assert _count(pg_url, "SELECT count(*) FROM breach_episodes") == len(points)
    assert _count(pg_url, "SELECT count(*) FROM readings") == len(points) * 5


def test_partial_keeps_the_good_lines_of_a_file_with_a_conflicting_reading(cli: Cli, tmp_path: Path) -> None:
    cli.ok("readings", _csv(tmp_path / "1.csv", [(POINT, _at(9), 40)]), now=NOW)
    mixed = _csv(tmp_path / "2.csv", [(POINT, _at(9), 41), (POINT, _at(10), 61), ("MP002", _at(10), 62)])
    report = json.loads(cli("readings", mixed, "--partial", "--json", now=NOW).stdout)
    assert [(p["line"], p["field"]) for p in report["rejected"]] == [(2, "value")]
    assert report["readings"] == 2 and len(report["hazards"]) == 2
    assert _count(cli.db, "SELECT count(*) FROM readings") == 3
