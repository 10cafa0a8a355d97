"""Working-day calendars: properties, hand-counted holiday cases, provisional years, local dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hazardloop.models.core.calendar import (
    ChineseCalendar,
    WeekdayCalendar,
    WorkingCalendar,
    calendar_for,
    end_of_day,
    local_date,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

CN = ChineseCalendar()
WEEKDAYS = WeekdayCalendar()
CALENDARS = {"cn": CN, "weekdays": WEEKDAYS}

# 2000-2030 spans provisional years on both sides of the package's 2004-2026 data.
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))
calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)
steps = st.integers(min_value=1, max_value=400)


def naive_add(cal: WorkingCalendar, start: date, n: int) -> date:
    """Day-by-day reference implementation."""
    step = timedelta(days=1 if n > 0 else -1)
    day, left = start, abs(n)
    while left:
        day += step
        if cal.is_working_day(day):
            left -= 1
    return day


# --- properties -----------------------------------------------------------------------------------


@given(calendars, dates, steps)
def test_add_lands_on_working_day(cal: WorkingCalendar, start: date, n: int) -> None:
    result = cal.add_working_days(start, n)
    assert result > start
    assert cal.is_working_day(result)


@given(calendars, dates, steps)
def test_add_strictly_monotone_in_n(cal: WorkingCalendar, start: date, n: int) -> None:
    assert cal.add_working_days(start, n) < cal.add_working_days(start, n + 1)
    assert cal.add_working_days(start, -n) > cal.add_working_days(start, -n - 1)


@given(calendars, dates, st.integers(min_value=0, max_value=400))
def test_between_counts_back_n(cal: WorkingCalendar, start: date, n: int) -> None:
    assert cal.working_days_between(start, cal.add_working_days(start, n)) == n


@given(calendars, dates, steps)
def test_negative_n_inverts(cal: WorkingCalendar, start: date, n: int) -> None:
    if not cal.is_working_day(start):
        start = cal.add_working_days(start, 1)
    assert cal.add_working_days(cal.add_working_days(start, n), -n) == start
    assert cal.add_working_days(cal.add_working_days(start, -n), n) == start


@given(calendars, dates, st.integers(min_value=-60, max_value=60))
def test_add_matches_day_by_day(cal: WorkingCalendar, start: date, n: int) -> None:
    expected = start if n == 0 else naive_add(cal, start, n)
    assert cal.add_working_days(start, n) == expected


@given(calendars, dates, dates)
def test_between_matches_day_by_day(cal: WorkingCalendar, start: date, end: date) -> None:
    expected = sum(cal.is_working_day(start + timedelta(days=k)) for k in range(1, (end - start).days + 1))
    assert cal.working_days_between(start, end) == expected


@given(calendars, dates)
def test_zero_returns_start(cal: WorkingCalendar, start: date) -> None:
    assert cal.add_working_days(start, 0) == start
    assert cal.working_days_between(start, start) == 0


@given(dates, dates)
def test_weekdays_never_provisional(start: date, end: date) -> None:
    assert not WEEKDAYS.is_provisional(start)
    assert not WEEKDAYS.span_provisional(start, end)


@given(dates, dates)
def test_span_provisional_matches_days(start: date, end: date) -> None:
    expected = any(CN.is_provisional(start + timedelta(days=k)) for k in range(1, (end - start).days + 1))
    assert CN.span_provisional(start, end) == expected


def test_cn_matches_package_over_covered_years() -> None:
    cal = ChineseCalendar()
    day, stop = date(cal.covered_years().start, 1, 1), date(cal.covered_years().stop, 1, 1)
    while day < stop:
        assert cal.is_working_day(day) == chinese_calendar.is_workday(day), day
        assert not cal.is_provisional(day)
        day += timedelta(days=1)


# --- 国庆 + 中秋 2025 -----------------------------------------------------------------------------
# Package data: Wed Oct 1 - Wed Oct 8 2025 off; Sun Sep 28 and Sat Oct 11 are make-up working days.


def test_national_day_2025_one_day_after_eve() -> None:
    assert CN.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)  # Tue -> Thu after the break


def test_national_day_2025_makeup_sunday() -> None:
    assert CN.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Fri -> make-up Sun


def test_national_day_2025_seven_days() -> None:
    # From Fri 2025-09-26, counting working days after it:
    #   1 Sun 09-28 (make-up), 2 Mon 09-29, 3 Tue 09-30,
    #   Wed 10-01 .. Wed 10-08 off (8 days, 国庆 + 中秋),
    #   4 Thu 10-09, 5 Fri 10-10, 6 Sat 10-11 (make-up), Sun 10-12 off, 7 Mon 10-13.
    assert CN.add_working_days(date(2025, 9, 26), 7) == date(2025, 10, 13)
    assert CN.working_days_between(date(2025, 9, 26), date(2025, 10, 13)) == 7
    assert CN.add_working_days(date(2025, 10, 13), -7) == date(2025, 9, 26)
    # Plain weekdays: Mon 09-29 .. Fri 10-03 (5), Mon 10-06 (6), Tue 10-07 (7).
    assert WEEKDAYS.add_working_days(date(2025, 9, 26), 7) == date(2025, 10, 7)


def test_national_day_2025_holiday_start() -> None:
    # Starting on a holiday: the first working day after Wed 10-01 is Thu 10-09.
    assert not CN.is_working_day(date(2025, 10, 1))
    assert CN.add_working_days(date(2025, 10, 1), 1) == date(2025, 10, 9)
    assert CN.add_working_days(date(2025, 10, 5), -1) == date(2025, 9, 30)
    assert CN.working_days_between(date(2025, 9, 30), date(2025, 10, 8)) == 0


# --- 春节 2026 ------------------------------------------------------------------------------------
# Package data (chinesecalendar 1.11): Sun Feb 15 - Mon Feb 23 2026 off (9 days);
# Sat Feb 14 and Sat Feb 28 2026 are make-up working days.


def test_spring_festival_2026_package_data() -> None:
    assert chinese_calendar.is_workday(date(2026, 2, 14))
    assert all(not chinese_calendar.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert chinese_calendar.is_workday(date(2026, 2, 24))
    assert chinese_calendar.is_workday(date(2026, 2, 28))


def test_spring_festival_2026_seven_days() -> None:
    # From Thu 2026-02-12, counting working days after it:
    #   1 Fri 02-13, 2 Sat 02-14 (make-up), Sun 02-15 .. Mon 02-23 off (春节),
    #   3 Tue 02-24, 4 Wed 02-25, 5 Thu 02-26, 6 Fri 02-27, 7 Sat 02-28 (make-up).
    assert CN.add_working_days(date(2026, 2, 12), 7) == date(2026, 2, 28)
    assert CN.add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)
    assert CN.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CN.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert CN.working_days_between(date(2026, 2, 12), date(2026, 2, 28)) == 7
    assert CN.add_working_days(date(2026, 2, 24), -1) == date(2026, 2, 14)
    # Plain weekdays: Fri 02-13 (1), Mon 02-16 .. Fri 02-20 (6), Mon 02-23 (7).
    assert WEEKDAYS.add_working_days(date(2026, 2, 12), 7) == date(2026, 2, 23)


# --- weekdays -------------------------------------------------------------------------------------


def test_weekdays_across_weekends() -> None:
    assert WEEKDAYS.add_working_days(date(2025, 10, 3), 1) == date(2025, 10, 6)  # Fri -> Mon
    assert WEEKDAYS.add_working_days(date(2025, 10, 4), 1) == date(2025, 10, 6)  # Sat -> Mon
    assert WEEKDAYS.add_working_days(date(2025, 10, 5), 5) == date(2025, 10, 10)  # Sun -> Fri
    assert WEEKDAYS.add_working_days(date(2025, 10, 6), -1) == date(2025, 10, 3)  # Mon -> Fri
    assert WEEKDAYS.add_working_days(date(2025, 10, 5), -1) == date(2025, 10, 3)  # Sun -> Fri
    assert WEEKDAYS.add_working_days(date(2025, 12, 31), 10) == date(2026, 1, 14)  # across the year
    assert WEEKDAYS.working_days_between(date(2025, 10, 3), date(2025, 10, 13)) == 6
    assert WEEKDAYS.working_days_between(date(2025, 10, 13), date(2025, 10, 3)) == 0
    assert WEEKDAYS.is_working_day(date(2025, 10, 1))  # 国庆 is irrelevant here
    assert not WEEKDAYS.is_working_day(date(2025, 10, 11))  # nor is the make-up Saturday


# --- provisional years ----------------------------------------------------------------------------


def test_covered_years_probed_from_package() -> None:
    covered = ChineseCalendar().covered_years()
    assert covered.start == 2004
    assert 2025 in covered
    assert 2026 in covered


def test_first_uncovered_year_is_provisional_weekdays() -> None:
    stop = CN.covered_years().stop
    first = date(stop, 1, 1)
    assert CN.is_provisional(first)
    assert not CN.is_provisional(first - timedelta(days=1))
    for k in range(366):
        day = first + timedelta(days=k)
        assert CN.is_working_day(day) == (day.weekday() < 5)


@pytest.mark.skipif(2027 in ChineseCalendar().covered_years(), reason="installed package covers 2027")
def test_2027_is_provisional_and_weekday_based() -> None:
    assert CN.is_provisional(date(2027, 3, 5))
    assert CN.is_working_day(date(2027, 1, 1))  # a Friday; New Year's Day not yet published
    assert not CN.is_working_day(date(2027, 3, 6))  # Saturday
    assert CN.add_working_days(date(2027, 3, 5), 1) == date(2027, 3, 8)  # Fri -> Mon
    assert CN.add_working_days(date(2027, 3, 8), -1) == date(2027, 3, 5)
    assert CN.working_days_between(date(2027, 3, 5), date(2027, 3, 12)) == 5
    # Across the boundary: Thu 2026-12-31 is a (published) working day; next is Fri 2027-01-01.
    assert not CN.is_provisional(date(2026, 12, 31))
    assert CN.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert not CN.span_provisional(date(2026, 12, 30), date(2026, 12, 31))
    assert CN.span_provisional(date(2026, 12, 31), date(2027, 1, 1))
    assert CN.span_provisional(date(2026, 12, 1), date(2027, 2, 1))
    assert not CN.span_provisional(date(2027, 1, 5), date(2027, 1, 5))  # empty span
    # Far outside the data nothing crashes either.
    assert CN.add_working_days(date(2030, 6, 1), 30) == WEEKDAYS.add_working_days(date(2030, 6, 1), 30)
    assert CN.add_working_days(date(2026, 12, 1), 500) > date(2028, 1, 1)


def test_years_before_package_data_are_provisional() -> None:
    assert CN.is_provisional(date(2003, 12, 31))
    assert CN.span_provisional(date(2003, 12, 30), date(2004, 1, 5))
    assert not CN.span_provisional(date(2003, 12, 31), date(2004, 1, 5))  # span starts 2004-01-01
    assert CN.add_working_days(date(2003, 12, 30), 1) == date(2003, 12, 31)  # plain Wednesday


def test_newer_schedule_resolves_provisional_year() -> None:
    """An injected schedule covering 2027 (a stand-in for a newer package) changes the answer."""
    new_years_day_2027 = date(2027, 1, 1)

    def newer_is_workday(day: date) -> bool:
        if not 2004 <= day.year <= 2027:
            raise NotImplementedError(f"no available data for year {day.year}")
        if day.year == 2027:
            return day.weekday() < 5 and day != new_years_day_2027
        return bool(chinese_calendar.is_workday(day))

    old, new = CN, ChineseCalendar(is_workday=newer_is_workday)
    assert new.covered_years() == range(2004, 2028)
    assert not new.is_provisional(new_years_day_2027)
    assert old.span_provisional(date(2026, 12, 31), date(2027, 1, 4))
    assert not new.span_provisional(date(2026, 12, 31), date(2027, 1, 4))
    if 2027 not in old.covered_years():
        assert old.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert new.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_no_data_at_all_is_all_provisional() -> None:
    def nothing(day: date) -> bool:
        raise NotImplementedError("no data")

    cal = ChineseCalendar(is_workday=nothing)
    assert cal.covered_years() == range(0)
    assert cal.is_provisional(date(2025, 10, 1))
    assert cal.is_working_day(date(2025, 10, 1))  # Wednesday, weekday fallback
    assert cal.span_provisional(date(2025, 1, 1), date(2025, 1, 2))


# --- factory --------------------------------------------------------------------------------------


def test_calendar_for() -> None:
    assert calendar_for("cn") is calendar_for("cn")  # shared, so year tables are reused
    assert isinstance(calendar_for("cn"), ChineseCalendar)
    assert isinstance(calendar_for("weekdays"), WeekdayCalendar)
    assert calendar_for("cn").name == "cn"
    assert calendar_for("weekdays").name == "weekdays"
    assert CN.name == "cn"
    assert WEEKDAYS.name == "weekdays"
    assert isinstance(CN, WorkingCalendar)
    assert isinstance(WEEKDAYS, WorkingCalendar)


def test_calendar_for_unknown() -> None:
    with pytest.raises(ValueError, match=r"'cn', 'weekdays'"):
        calendar_for("us")


# --- end_of_day / local_date ----------------------------------------------------------------------


def test_end_of_day_shanghai() -> None:
    eod = end_of_day(date(2025, 10, 9), SHANGHAI)
    assert eod == datetime(2025, 10, 9, 23, 59, 59, tzinfo=SHANGHAI)
    assert eod.utcoffset() == timedelta(hours=8)
    assert eod.astimezone(UTC) == datetime(2025, 10, 9, 15, 59, 59, tzinfo=UTC)


def test_local_date_shanghai() -> None:
    assert local_date(datetime(2025, 10, 9, 16, 30, tzinfo=UTC), SHANGHAI) == date(2025, 10, 10)
    assert local_date(datetime(2025, 10, 9, 15, 59, 59, tzinfo=UTC), SHANGHAI) == date(2025, 10, 9)
    assert local_date(datetime(2025, 10, 10, 0, 30, tzinfo=SHANGHAI), SHANGHAI) == date(2025, 10, 10)


def test_local_date_rejects_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2025, 10, 9, 16, 30), SHANGHAI)


@settings(max_examples=200)
@given(
    dates,
    st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York", "Europe/London", "Australia/Sydney"]),
)
def test_end_of_day_round_trips(day: date, zone: str) -> None:
    tz = ZoneInfo(zone)
    eod = end_of_day(day, tz)
    assert eod.tzinfo is tz
    assert local_date(eod, tz) == day
    assert local_date(eod.astimezone(UTC), tz) == day
    assert local_date(eod + timedelta(seconds=1), tz) == day + timedelta(days=1)
