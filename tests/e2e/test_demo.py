"""`hazardloop demo --days 30`: the simulated month runs through the real paths, escalates, lists a township,
and its summary equals counts taken straight from the database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.fixtures import CONFIG_DIR


def test_a_simulated_month_escalates_lists_and_reports_figures_that_match_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hazardloop.cli import app

    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("HAZARDLOOP_REPORT_DIR", str(tmp_path / "reports"))
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(
        app,
        ["--db", f"sqlite:///{db}", "--config", str(CONFIG_DIR), "demo", "--days", "30", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rejected"] == 0

    conn = sqlite3.connect(db)
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    assert summary["detected"] == one("select count(*) from hazards") > 2000
    assert summary["cleared"] == one("select count(*) from hazards where state = 'cleared'")
    assert summary["invalid"] == one("select count(*) from hazards where state = 'invalid'")
    assert summary["listed_townships"] == one("select count(distinct township_code) from listings") >= 1
    assert (
        summary["hazards_escalated"]
        == one("select count(distinct hazard_id) from transitions where action in ('elevated', 'hazard.escalated')")
        > 0
    )
    assert summary["supervisions"] == one("select count(*) from transitions where action = 'supervised'") > 0
    assert summary["notices"] == one("select count(*) from notices")
    # the monitoring points' readings are fed too: their breaches are among the sources, worked on like the rest
    assert summary["from_monitoring_points"] == one("select count(*) from hazards where source = 'monitoring'") > 0
    assert one("select count(*) from readings") > 100_000 * 30 // 365
    assert one("select count(*) from hazards where source = 'monitoring' and state = 'cleared'") > 0
    on_time = one("select count(*) from hazards where state = 'cleared' and cleared_at <= due_at")
    assert summary["on_time_rate"] == pytest.approx(on_time / summary["cleared"])
    # every notice went out through the real dispatcher as a file; none failed
    assert one("select count(*) from notices where status in ('failed', 'dead')") == 0
    assert summary["mailed"] == len(list((tmp_path / "outbox").glob("*.eml"))) > 0
    # a second demo on the same database is refused instead of doubling the year
    again = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "--config", str(CONFIG_DIR), "demo", "--days", "1"])
    assert again.exit_code == 2 and "empty database" in again.stderr
