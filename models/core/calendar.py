"""Working-day calendars for deadline arithmetic ("N working days after assignment").

Two calendars:

* ``"weekdays"`` — Monday to Friday are working days; never provisional.
* ``"cn"`` — mainland-China public holidays and make-up working days (调休) from the ``chinese_calendar``
  package. For years the installed package has no published schedule for, it falls back to Monday to
  Friday and reports those days as *provisional*: a deadline computed across such a day should be
  recomputed once a newer package (with that year's State Council notice) is installed. Compare
  ``ChineseCalendar.covered_years()`` before and after the upgrade to find which stored deadlines to redo.

Everything here is pure: no I/O and no wall clock; dates and instants are always arguments.

Performance: each calendar keeps a lazily built table per year (a working-day bitmap, a running count and
the sorted list of working days), so ``add_working_days`` and ``working_days_between`` are a few index
operations plus one step per year boundary crossed. Tables are only ever added, never changed, so sharing
one calendar between threads is safe (a race merely builds the same table twice).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta
from typing import Final, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "ChineseCalendar",
    "WeekdayCalendar",
    "WorkingCalendar",
    "calendar_for",
    "end_of_day",
    "local_date",
]


@runtime_checkable
class WorkingCalendar(Protocol):
    """What deadline arithmetic needs from a calendar."""

    name: str

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is a working day."""
        ...

    def is_provisional(self, day: date) -> bool:
        """True when ``day``'s year has no published holiday schedule (the answer for it may change)."""
        ...

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (n > 0) or the |n|-th before it (n < 0).

        ``start`` itself never counts, and need not be a working day; ``n == 0`` returns ``start``.
        """
        ...

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days ``d`` with ``start < d <= end`` (0 when ``end <= start``)."""
        ...

    def span_provisional(self, start: date, end: date) -> bool:
        """True when any day ``d`` with ``start < d <= end`` is provisional."""
        ...


class _YearTable:
    """Working days of one calendar year.

    ``cum[k]`` is the number of working days among the first ``k`` days of the year, so the count of
    working days on or before the day with 0-based index ``i`` is ``cum[i + 1]``; ``days`` lists the
    working days in order, so ``days[j]`` is the (j+1)-th working day of the year.
    """

    __slots__ = ("cum", "days", "flags", "jan1", "total")

    def __init__(self, year: int, is_working: Callable[[date], bool]) -> None:
        first = date(year, 1, 1)
        self.jan1: int = first.toordinal()
        ndays = date(year, 12, 31).toordinal() - self.jan1 + 1
        flags = bytearray(ndays)
        cum = [0] * (ndays + 1)
        days: list[date] = []
        running = 0
        for i in range(ndays):
            day = first + timedelta(days=i)
            if is_working(day):
                flags[i] = 1
                running += 1
                days.append(day)
            cum[i + 1] = running
        self.flags: bytes = bytes(flags)
        self.cum: list[int] = cum
        self.days: list[date] = days
        self.total: int = running


class _TabulatedCalendar:
    """Shared table-driven arithmetic; subclasses say which days of a year are working days."""

    name: str

    def __init__(self) -> None:
        self._tables: dict[int, _YearTable] = {}

    # -- subclass hooks -------------------------------------------------------------------------------

    def _day_predicate(self, year: int) -> Callable[[date], bool]:
        """The working-day test used to build ``year``'s table (called once per year)."""
        raise NotImplementedError

    def is_provisional(self, day: date) -> bool:
        raise NotImplementedError

    def span_provisional(self, start: date, end: date) -> bool:
        raise NotImplementedError

    # -- tables -----------------------------------------------------------------------------------------

    def _table(self, year: int) -> _YearTable:
        table = self._tables.get(year)
        if table is None:
            if not MINYEAR <= year <= MAXYEAR:
                raise OverflowError(f"working-day arithmetic ran outside the supported years ({year})")
            table = _YearTable(year, self._day_predicate(year))
            self._tables[year] = table
        return table

    # -- WorkingCalendar --------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        table = self._tables.get(day.year) or self._table(day.year)
        return bool(table.flags[day.toordinal() - table.jan1])

    def add_working_days(self, start: date, n: int) -> date:
        if n == 0:
            return start
        year = start.year
        table = self._tables.get(year) or self._table(year)
        offset = start.toordinal() - table.jan1
        if n > 0:
            # cum[offset + 1] working days fall on or before start; the n-th after is the next n-th one.
            index = table.cum[offset + 1] + n - 1
            while index >= table.total:
                index -= table.total
                year += 1
                table = self._table(year)
        else:
            # cum[offset] working days fall strictly before start; step back |n| of them.
            index = table.cum[offset] + n
            while index < 0:
                year -= 1
                table = self._table(year)
                index += table.total
        return table.days[index]

    def working_days_between(self, start: date, end: date) -> int:
        if end <= start:
            return 0
        first = self._table(start.year)
        last = self._table(end.year)
        count = last.cum[end.toordinal() - last.jan1 + 1] - first.cum[start.toordinal() - first.jan1 + 1]
        for year in range(start.year, end.year):
            count += self._table(year).total
        return count


def _is_weekday(day: date) -> bool:
    return day.weekday() < 5


class WeekdayCalendar(_TabulatedCalendar):
    """Monday to Friday are working days, every year; nothing is ever provisional."""

    name: str = "weekdays"

    def _day_predicate(self, year: int) -> Callable[[date], bool]:
        return _is_weekday

    def is_provisional(self, day: date) -> bool:
        return False

    def span_provisional(self, start: date, end: date) -> bool:
        return False

    def __repr__(self) -> str:
        return "WeekdayCalendar()"


# Years scanned to find the first one the holiday package covers; from there the covered block is grown
# year by year in both directions until the package refuses, so the probe costs a few hundred calls once.
_PROBE_WINDOW: Final = range(1949, 2200)


def _probe_covered_years(is_workday: Callable[[date], bool]) -> range:
    """The contiguous block of years for which ``is_workday`` has data (empty range if none)."""

    def supported(year: int) -> bool:
        try:
            is_workday(date(year, 7, 1))
        except NotImplementedError:
            return False
        return True

    anchor = next((year for year in _PROBE_WINDOW if supported(year)), None)
    if anchor is None:
        return range(0)
    low = high = anchor
    while low - 1 >= MINYEAR and supported(low - 1):
        low -= 1
    while high + 1 <= MAXYEAR and supported(high + 1):
        high += 1
    return range(low, high + 1)


class ChineseCalendar(_TabulatedCalendar):
    """Mainland-China working days: public holidays off, make-up days (调休) on.

    Years outside ``covered_years()`` use Monday to Friday and are provisional. ``is_workday`` can be
    injected (same contract as ``chinese_calendar.is_workday``: raises ``NotImplementedError`` for years
    without data), e.g. to test against a schedule not yet in the installed package.
    """

    name: str = "cn"

    def __init__(self, is_workday: Callable[[date], bool] | None = None) -> None:
        super().__init__()
        self._is_workday: Callable[[date], bool] = is_workday or chinese_calendar.is_workday
        self._covered: range = _probe_covered_years(self._is_workday)

    def covered_years(self) -> range:
        """Years with a published holiday schedule in the data this calendar was built from.

        A deadline whose span touched a year outside the old range and inside a newer one (after upgrading
        ``chinesecalendar``) was computed provisionally and should be recomputed.
        """
        return self._covered

    def _day_predicate(self, year: int) -> Callable[[date], bool]:
        return self._is_workday if year in self._covered else _is_weekday

    def is_provisional(self, day: date) -> bool:
        return day.year not in self._covered

    def span_provisional(self, start: date, end: date) -> bool:
        if end <= start:
            return False
        covered = self._covered
        if not covered:
            return True
        # The span (start, end] begins the day after start, which may already be in the next year.
        first_year = start.year + 1 if (start.month, start.day) == (12, 31) else start.year
        return first_year < covered.start or end.year >= covered.stop

    def __repr__(self) -> str:
        covered = self._covered
        years = f"{covered.start}-{covered.stop - 1}" if covered else "none"
        return f"ChineseCalendar(covered_years={years})"


_CALENDARS: Final[dict[str, Callable[[], WorkingCalendar]]] = {
    "cn": ChineseCalendar,
    "weekdays": WeekdayCalendar,
}


@functools.cache
def _shared_calendar(name: str) -> WorkingCalendar:
    return _CALENDARS[name]()


def calendar_for(name: str) -> WorkingCalendar:
    """The shared calendar called ``name`` ("cn" or "weekdays"); its year tables are reused across calls."""
    if name not in _CALENDARS:
        allowed = ", ".join(f"'{key}'" for key in _CALENDARS)
        raise ValueError(f"unknown working-day calendar '{name}'; allowed values: {allowed}")
    return _shared_calendar(name)


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """23:59:59 local time on ``day`` in ``tz``, as an aware datetime."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=tz)


def full_working_days_overdue(calendar: WorkingCalendar, due_at: datetime, now: datetime, tz: ZoneInfo) -> int:
    """How many working days lie wholly between the deadline ``due_at`` and ``now``: a day counts once it has
    ended. A hazard due 3月30日 23:59:59 is 1 working day overdue as of 3月31日 24时 (if the 31st is a working
    day), and the county rung at ``county_after_days: 3`` fires when this reaches 3. The one count of overdue
    days for notices, views, reports and thresholds."""
    if now <= due_at:
        return 0
    # days after the deadline's own day, up to (not including) the day ``now`` falls on, which has not ended
    return calendar.working_days_between(local_date(due_at, tz), local_date(now, tz) - timedelta(days=1))


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date in ``tz`` of the aware ``instant``."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"local_date needs an aware datetime, got naive {instant.isoformat()}")
    return instant.astimezone(tz).date()
