"""Report periods and the figures derived from a period's counters, in memory: periods tile the calendar and name
themselves both ways; rates are derived from counts and are None rather than a division by zero."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hazardloop.models.core.figures import COUNTS, derive
from hazardloop.models.core.periods import Period

TZ = ZoneInfo("Asia/Shanghai")
KINDS = ("daily", "weekly", "monthly", "quarterly")
days = st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31))
kinds = st.sampled_from(KINDS)


@given(kinds, days)
def test_a_period_contains_the_day_it_was_made_from(kind: str, day: date) -> None:
    period = Period.containing(kind, day)
    assert period.first <= day <= period.last


@given(kinds, days)
def test_a_periods_label_reads_back_as_the_same_period(kind: str, day: date) -> None:
    period = Period.containing(kind, day)
    assert Period.parse(kind, period.label) == period


@given(kinds, days)
def test_periods_tile_the_calendar_without_gap_or_overlap(kind: str, day: date) -> None:
    period = Period.containing(kind, day)
    before = period.previous()
    assert before.last + timedelta(days=1) == period.first
    assert before.end(TZ) == period.start(TZ)


@given(days)
def test_a_week_runs_monday_to_sunday(day: date) -> None:
    week = Period.containing("weekly", day)
    assert week.first.weekday() == 0 and (week.last - week.first).days == 6


def test_the_month_before_january_is_last_years_december() -> None:
    january = Period.parse("monthly", "2026-01")
    assert january.previous().label == "2025-12"
    assert january.shifted(13).label == "2024-12"


def test_the_fourth_quarter_ends_on_new_years_eve_and_is_titled_in_chinese() -> None:
    q4 = Period.parse("quarterly", "2025-Q4")
    assert (q4.first, q4.last) == (date(2025, 10, 1), date(2025, 12, 31))
    assert q4.title == "2025年第四季度" and q4.short_title == "2025Q4"


def test_a_period_ends_at_the_local_midnight_after_its_last_day() -> None:
    day = Period.parse("daily", "2025-09-30")
    assert day.start(TZ) == datetime(2025, 9, 30, tzinfo=TZ)
    assert day.end(TZ) == datetime(2025, 10, 1, tzinfo=TZ)
    assert day.end(TZ).astimezone(UTC) == datetime(2025, 9, 30, 16, tzinfo=UTC)


def test_the_last_complete_month_is_read_in_the_policy_zone() -> None:
    # 16:30 UTC on 30 September is already 1 October in Shanghai: September has ended there
    now = datetime(2025, 9, 30, 16, 30, tzinfo=UTC)
    assert Period.last_complete("monthly", now, TZ).label == "2025-09"
    assert Period.last_complete("monthly", now, ZoneInfo("UTC")).label == "2025-08"


def counts(**given: int) -> dict[str, int]:
    return {**dict.fromkeys(COUNTS, 0), **given}


def test_the_rates_are_derived_from_the_counts() -> None:
    figures = derive(counts(cleared=30, open=10, on_time=24, returned=10, extensions_decided=5, extensions_granted=3))
    assert figures["clearance_rate"] == 0.75  # 30 of the 40 in the workload
    assert figures["on_time_rate"] == 0.8
    assert figures["verifications"] == 40 and figures["rework_rate"] == 0.25
    assert figures["extensions_refused"] == 2


def test_a_rate_without_a_base_is_none_not_zero() -> None:
    figures = derive(counts())
    assert figures["clearance_rate"] is None and figures["on_time_rate"] is None and figures["rework_rate"] is None


def test_escalations_are_summed_by_level_with_the_manual_ones_apart() -> None:
    figures = derive(counts(escalated_township=1, escalated_county=4, escalated_city=2, escalated_manual=3))
    assert figures["escalations"] == {"township": 1, "county": 4, "city": 2, "total": 7, "manual": 3}


def test_open_hazards_not_yet_elevated_are_counted_at_level_none() -> None:
    figures = derive(counts(open=12, open_level_township=0, open_level_county=3, open_level_city=1))
    assert figures["open_by_level"] == {"none": 8, "township": 0, "county": 3, "city": 1}


def test_derive_keeps_the_counts_and_does_not_change_its_input() -> None:
    given_counts = counts(new=7, cleared=2, open=5)
    before = dict(given_counts)
    figures = derive(given_counts)
    assert given_counts == before
    assert all(figures[key] == value for key, value in before.items())


@pytest.mark.parametrize(("cleared", "open_", "rate"), [(1, 2, 0.3333), (2, 1, 0.6667), (0, 5, 0.0), (5, 0, 1.0)])
def test_rates_are_rounded_to_four_places(cleared: int, open_: int, rate: float) -> None:
    assert derive(counts(cleared=cleared, open=open_))["clearance_rate"] == rate
