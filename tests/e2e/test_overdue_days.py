"""Overdue days are full working days since the deadline: a day counts once it has ended. The same count in the
elevation that the county rung makes, in ``hazards --json``, in ``show`` and in the periodic report."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from zoneinfo import ZoneInfo

from hazardloop.models.core.calendar import calendar_for, full_working_days_overdue
from tests.support.factories import FIRE_UNIT, detected, event
from tests.support.fixtures import Cli, write_events

TZ = ZoneInfo("Asia/Shanghai")


def test_a_day_counts_once_it_has_ended() -> None:
    cal = calendar_for("cn")
    due = datetime(2026, 3, 30, 23, 59, 59, tzinfo=TZ)  # Monday
    assert full_working_days_overdue(cal, due, datetime(2026, 3, 31, 0, 0, tzinfo=TZ), TZ) == 0
    assert full_working_days_overdue(cal, due, datetime(2026, 3, 31, 18, 0, tzinfo=TZ), TZ) == 0
    # 3月31日24时: the 31st has ended
    assert full_working_days_overdue(cal, due, datetime(2026, 4, 1, 0, 0, tzinfo=TZ), TZ) == 1
    # Friday 04-03 has ended; 清明 (04-04 … 04-06) adds nothing
    assert full_working_days_overdue(cal, due, datetime(2026, 4, 7, 9, 0, tzinfo=TZ), TZ) == 4
    assert full_working_days_overdue(cal, due, due, TZ) == 0


def _overdue_hazard(cli: Cli) -> None:
    # Thu 2026-03-19 + 7 working days: due Mon 2026-03-30 23:59:59
    events = [
        detected("OD-1", "2026-03-19T10:00:00+08:00"),
        event("hazard.acknowledged", "OD-1", "2026-03-19T11:00:00+08:00", FIRE_UNIT),
    ]
    cli.ok("apply", str(write_events(cli.workdir / "od.jsonl", events)), now="2026-03-19T12:00:00+08:00")


def test_views_and_reports_count_full_working_days(cli: Cli) -> None:
    _overdue_hazard(cli)
    [h] = cli.json("hazards", now="2026-03-31T15:00:00+08:00")
    assert h["due_at"].startswith("2026-03-30T23:59:59")
    assert h["overdue"] is True and h["overdue_days"] == 0
    [h] = cli.json("hazards", now="2026-04-01T00:00:00+08:00")
    assert h["overdue_days"] == 1
    shown = cli.ok("show", "OD-1", now="2026-04-01T00:00:00+08:00").stdout
    assert "1 working day(s)" in shown
    figures = cli.json("report", "daily", "--period", "2026-03-31", now="2026-04-01T08:00:00+08:00")
    assert [h["overdue_days"] for h in figures["oldest_open"]] == [1]
    cli.ok(
        "report", "daily", "--period", "2026-03-31", "--out", str(cli.workdir / "r"), now="2026-04-01T08:00:00+08:00"
    )
    body = (cli.workdir / "r" / "report.txt").read_text(encoding="utf-8")
    assert "逾期1个工作日" in body and "逾期2个工作日" not in body


def test_the_county_rung_fires_and_says_three_full_working_days(cli: Cli) -> None:
    _overdue_hazard(cli)
    # 03-31, 04-01 and 04-02 have ended at 04-03 00:00: the county rung, not before
    cli.ok("sweep", now="2026-04-02T23:00:00+08:00")
    assert cli.json("show", "OD-1", now="2026-04-02T23:00:00+08:00")["level"] == "none"
    cli.ok("sweep", now="2026-04-03T00:30:00+08:00")
    shown = cli.json("show", "OD-1", now="2026-04-03T00:30:00+08:00")
    assert shown["level"] == "county"
    [elevated] = [t for t in shown["history"] if t["action"] == "elevated"]
    assert "逾期3个工作日" in elevated["reason"]
    cli.ok("dispatch", now="2026-04-03T00:31:00+08:00")
    [mail] = [m for m in _mails(cli) if "提级督办通知" in m["Subject"]]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "逾期3个工作日" in body and "逾期4个工作日" not in body


def _mails(cli: Cli) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=default)  # type: ignore[misc]
        for p in sorted((cli.workdir / "outbox").rglob("*.eml"))
    ]
