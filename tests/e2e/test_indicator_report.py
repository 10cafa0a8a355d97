"""The periodic report's indicator section, on SQLite and PostgreSQL: each indicator's latest value against its
thresholds, the breaches that began in the period, the points that sent nothing (with when they were last heard
of), and its chart; a config folder without indicators.yaml keeps the report as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.fixtures import CONFIG_DIR, Cli, initialised_cli

NOW = "2025-11-03T10:00:00+08:00"  # the monthly report of October 2025


def _csv(path: Path, rows: list[tuple[str, str, object]]) -> str:
    path.write_text("point,instant,value\n" + "".join(f"{p},{at},{v}\n" for p, at, v in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    runner = initialised_cli(db_url, tmp_path, monkeypatch)
    rows = [
        # MP001 (I01 储罐温度, breach 60): two episodes in October, the second still open at the month's end
        ("MP001", "2025-10-02T08:00:00+08:00", 40),
        ("MP001", "2025-10-03T08:00:00+08:00", 65),
        ("MP001", "2025-10-04T08:00:00+08:00", 30),
        ("MP001", "2025-10-30T08:00:00+08:00", 72),
        # MP002 (I01 too): at warning level at the end of October, below MP001's 72
        ("MP002", "2025-10-31T08:00:00+08:00", 50),
        # MP003 (I01): heard of in September only
        ("MP003", "2025-09-20T08:00:00+08:00", 41),
        # MP004 (I02 粉尘浓度, breach 30): normal
        ("MP004", "2025-10-15T08:00:00+08:00", 12.5),
    ]
    runner.ok("readings", _csv(tmp_path / "r.csv", rows), now=NOW)
    return runner


def test_the_report_shows_latest_values_breaches_and_points_that_sent_nothing(cli: Cli, tmp_path: Path) -> None:
    figures = cli.json("report", "monthly", now=NOW)
    section = figures["indicators"]
    assert (section["indicators"], section["points"]) == (50, 110)
    assert section["readings"] == 6 and section["breaches"] == 2 and section["open_breaches"] == 1
    rows = {r["code"]: r for r in section["rows"]}
    assert rows["I01"]["latest"]["value"] == 72 and rows["I01"]["latest"]["level"] == "breach"
    assert rows["I01"]["breaches"] == 2 and rows["I01"]["silent"] == 1 and rows["I01"]["unit"] == "绍兴市应急管理局"
    assert rows["I02"]["latest"]["level"] == "normal" and rows["I02"]["breaches"] == 0
    silent = {p["code"]: p for p in section["silent"]}
    assert len(silent) == 110 - 3  # MP001, MP002 and MP004 sent readings in October
    assert silent["MP003"]["last_reading"] == "2025-09-20" and silent["MP005"]["last_reading"] is None
    assert "MP001" not in silent and "MP004" not in silent
    out = tmp_path / "out"
    cli.ok("report", "monthly", "--out", str(out), now=NOW)
    text = (out / "report.txt").read_text(encoding="utf-8")
    assert "八、指标监测情况（一指标一举措）" in text and "重大危险源储罐温度" in text
    assert "最后报送于2025-09-20" in text
    assert (out / "indicators.png").stat().st_size > 1000
    assert 'src="indicators.png"' in (out / "report.html").read_text(encoding="utf-8")


def test_a_county_report_counts_only_its_own_points(cli: Cli) -> None:
    city = cli.json("report", "monthly", now=NOW)["indicators"]
    county = cli.json("report", "monthly", "--scope", "SX-YC", now=NOW)["indicators"]  # MP001 lies in 越城区
    assert 0 < county["points"] < city["points"]
    assert county["breaches"] == 2


def test_without_indicators_yaml_the_report_has_no_indicator_section(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    for name in ("org.yaml", "policy.yaml"):
        shutil.copy(CONFIG_DIR / name, folder / name)
    runner = initialised_cli(db_url, tmp_path, monkeypatch)
    runner.config = folder
    figures = json.loads(runner.ok("report", "monthly", "--json", now=NOW).stdout)
    assert "indicators" not in figures
    out = tmp_path / "out"
    runner.ok("report", "monthly", "--out", str(out), now=NOW)
    assert "指标监测情况" not in (out / "report.txt").read_text(encoding="utf-8")
    assert not (out / "indicators.png").exists()
