"""Overdue days in memory: full working days since the deadline, a day counting once it has ended, in the policy's
time zone; the one count behind the elevation rungs, the views and the reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hazardloop.models.core.calendar import (
    WorkingCalendar,
    calendar_for,
    end_of_day,
    full_working_days_overdue,
    local_date,
)
from tests.support.core import rules
from tests.support.factories import at

TZ = ZoneInfo("Asia/Shanghai")
calendars = st.sampled_from([calendar_for("cn"), calendar_for("weekdays")])
days = st.dates(min_value=date(2010, 1, 1), max_value=date(2026, 6, 30))
offsets = st.integers(min_value=0, max_value=60 * 24 * 3600)


def test_a_day_counts_once_it_has_ended() -> None:
    due = at("2025-03-12T23:59:59")  # Wednesday
    cal = calendar_for("cn")
    assert full_working_days_overdue(cal, due, at("2025-03-13T23:59:59"), TZ) == 0
    assert full_working_days_overdue(cal, due, at("2025-03-14T00:00:00"), TZ) == 1


def test_the_weekend_does_not_count() -> None:
    due = at("2025-03-14T23:59:59")  # Friday
    cal = calendar_for("cn")
    assert full_working_days_overdue(cal, due, at("2025-03-17T00:00:00"), TZ) == 0
    assert full_working_days_overdue(cal, due, at("2025-03-18T00:00:00"), TZ) == 1


def test_the_day_boundary_is_the_policy_zones_midnight_not_utc() -> None:
    due = at("2025-03-12T23:59:59")
    cal = calendar_for("cn")
    # 16:00 UTC on the 13th is midnight into the 14th in Shanghai
    assert full_working_days_overdue(cal, due, datetime(2025, 3, 13, 15, 59, 59, tzinfo=UTC), TZ) == 0
    assert full_working_days_overdue(cal, due, datetime(2025, 3, 13, 16, 0, 0, tzinfo=UTC), TZ) == 1


@given(calendars, days, st.integers(min_value=-10 * 24 * 3600, max_value=0))
def test_nothing_is_overdue_up_to_the_deadline(cal: WorkingCalendar, due_day: date, before: int) -> None:
    due = end_of_day(due_day, TZ)
    assert full_working_days_overdue(cal, due, due + timedelta(seconds=before), TZ) == 0


@given(calendars, days, offsets, offsets)
def test_the_count_never_goes_back_as_time_runs_on(cal: WorkingCalendar, due_day: date, a: int, b: int) -> None:
    due = end_of_day(due_day, TZ)
    early, late = sorted((a, b))
    earlier = full_working_days_overdue(cal, due, due + timedelta(seconds=early), TZ)
    assert earlier <= full_working_days_overdue(cal, due, due + timedelta(seconds=late), TZ)


@given(calendars, days, st.integers(min_value=1, max_value=40))
def test_the_nth_working_day_after_the_due_day_makes_n_once_it_ends(
    cal: WorkingCalendar, due_day: date, n: int
) -> None:
    due = end_of_day(due_day, TZ)
    nth = cal.add_working_days(due_day, n)
    ended = end_of_day(nth, TZ) + timedelta(seconds=1)
    assert full_working_days_overdue(cal, due, ended, TZ) == n
    assert full_working_days_overdue(cal, due, ended - timedelta(seconds=2), TZ) == n - 1


@given(days, st.integers(min_value=0, max_value=23))
def test_local_dates_follow_the_zone(day: date, hour: int) -> None:
    instant = datetime(day.year, day.month, day.day, hour, tzinfo=TZ)
    assert local_date(instant, TZ) == day
    assert local_date(instant.astimezone(UTC), TZ) == day


def test_the_rules_count_agrees_with_the_calendar_and_is_zero_without_a_deadline() -> None:
    r = rules()
    due = at("2025-03-12T23:59:59")
    now = at("2025-03-20T10:00:00")
    assert r.overdue_days_since(due, now) == full_working_days_overdue(r.calendar, due, now, r.policy.tz) == 5
    assert r.overdue_days_since(None, now) == 0
    assert r.overdue_days_since(due, due) == 0
