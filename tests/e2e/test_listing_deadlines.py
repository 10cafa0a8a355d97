"""A listing's deadline is counted like a hazard's: provisional (（暂定）) where it runs into a year whose holidays
are not published, and moved by ``recompute-deadlines`` once they are. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from email import message_from_bytes
from email.policy import default

import chinese_calendar
import pytest

from hazardloop.models.core.calendar import ChineseCalendar
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.deadlines import recompute_provisional
from tests.support.fixtures import Cli, ready_app

NEW_YEARS_DAY_2027 = date(2027, 1, 1)


def _published_2027(day: date) -> bool:
    """A stand-in for a chinesecalendar release that covers 2027 (元旦 a holiday)."""
    if not 2004 <= day.year <= 2027:
        raise NotImplementedError(f"no available data for year {day.year}")
    if day.year == 2027:
        return day.weekday() < 5 and day != NEW_YEARS_DAY_2027
    return bool(chinese_calendar.is_workday(day))


@pytest.mark.skipif(2027 in ChineseCalendar().covered_years(), reason="the installed package already covers 2027")
def test_a_listing_due_in_an_unpublished_year_is_provisional_until_recomputed(cli: Cli) -> None:
    # Fri 2026-12-04 + 20 working days (the policy's listing deadline), counted on weekdays into 2027: Fri 01-01
    cli.ok("supervise", "府山街道", "--reason", "逾期隐患多", "--by", "SX/孙八", now="2026-12-04T10:00:00+08:00")
    [listing] = cli.json("listings", now="2026-12-04T10:00:00+08:00")
    assert listing["deadline"] == "2027-01-01T23:59:59+08:00"
    assert listing["deadline_provisional"] is True
    assert "2027-01-01（暂定）" in cli.ok("listings", now="2026-12-04T10:00:00+08:00").stdout
    cli.ok("dispatch", now="2026-12-04T10:01:00+08:00")
    [path] = (cli.workdir / "outbox").rglob("listing*.eml")
    mail = message_from_bytes(path.read_bytes(), policy=default)  # type: ignore[misc]
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "于2027年1月1日（暂定）前整改到位" in text

    # the holidays of 2027 are published: the same 20 working days skip 元旦
    with ready_app(cli.db) as app:
        newer = Rules(app.policy, app.tree, ChineseCalendar(is_workday=_published_2027))
        result = recompute_provisional(app.engine, newer, datetime.fromisoformat("2026-12-10T09:00:00+08:00"))
    assert result == {"examined": 1, "changed": 1, "still_provisional": 0}
    [listing] = cli.json("listings", now="2026-12-10T09:00:00+08:00")
    assert listing["deadline"] == "2027-01-04T23:59:59+08:00"
    assert listing["deadline_provisional"] is False


def test_a_listing_within_published_years_is_not_provisional(cli: Cli) -> None:
    cli.ok("supervise", "府山街道", "--reason", "逾期隐患多", "--by", "SX/孙八", now="2026-03-02T10:00:00+08:00")
    [listing] = cli.json("listings", now="2026-03-02T10:00:00+08:00")
    assert listing["deadline_provisional"] is False
    out = cli.ok("recompute-deadlines", now="2026-03-02T11:00:00+08:00").stdout
    assert "0 provisional deadline(s) examined" in out
