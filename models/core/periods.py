"""Report periods (日、周、月、季): calendar periods in the policy's time zone, half-open ``[start, end)``: a day, an
ISO week (Monday to Sunday), a calendar month, a calendar quarter. Labels: ``2025-09-14``, ``2025-W38``,
``2025-09``, ``2025-Q3``. Pure: the figures of a period are read by ``models.store.analysis``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.instants import day_in_range, out_of_range_words

PERIOD_KINDS = ("daily", "weekly", "monthly", "quarterly")
KIND_CN = {"daily": "日", "weekly": "周", "monthly": "月", "quarterly": "季"}
TREND_LENGTH = {"daily": 14, "weekly": 12, "monthly": 12, "quarterly": 8}
_QUARTER_CN = {1: "一", 2: "二", 3: "三", 4: "四"}


@dataclass(frozen=True)
class Period:
    """A calendar period in local days: ``first`` to ``last`` inclusive."""

    kind: str
    first: date
    last: date

    @classmethod
    def containing(cls, kind: str, day: date) -> Period:
        if kind == "daily":
            return cls(kind, day, day)
        if kind == "weekly":
            monday = day - timedelta(days=day.weekday())
            return cls(kind, monday, monday + timedelta(days=6))
        if kind == "monthly":
            return cls(kind, day.replace(day=1), _month_end(day.year, day.month))
        if kind == "quarterly":
            month = 3 * ((day.month - 1) // 3) + 1
            return cls(kind, date(day.year, month, 1), _month_end(day.year, month + 2))
        raise InvalidInput([Problem(f"'{kind}' is not a period; use {', '.join(PERIOD_KINDS)}", field="PERIOD")])

    @classmethod
    def parse(cls, kind: str, text: str, field: str = "--period") -> Period:
        """``2025-09-14`` (daily), ``2025-W38`` (weekly), ``2025-09`` (monthly), ``2025-Q3`` (quarterly); a problem
        names ``field`` (the command line's option, or a request's parameter)."""
        examples = {"daily": "2025-09-14", "weekly": "2025-W38", "monthly": "2025-09", "quarterly": "2025-Q3"}
        if kind not in examples:
            raise InvalidInput([Problem(f"'{kind}' is not a period; use {', '.join(PERIOD_KINDS)}", field="PERIOD")])
        text = text.strip()
        patterns = {
            "daily": r"(\d{4})-(\d{2})-(\d{2})",
            "weekly": r"(\d{4})-?W(\d{1,2})",
            "monthly": r"(\d{4})-(\d{1,2})",
            "quarterly": r"(\d{4})-?Q([1-4])",
        }
        match = re.fullmatch(patterns[kind], text, flags=re.IGNORECASE)
        try:
            if match is None:
                raise ValueError
            nums = [int(g) for g in match.groups()]
            if kind == "daily":
                day = date(nums[0], nums[1], nums[2])
            elif kind == "weekly":
                day = date.fromisocalendar(nums[0], nums[1], 1)
            elif kind == "monthly":
                day = date(nums[0], nums[1], 1)
            else:
                day = date(nums[0], 3 * nums[1] - 2, 1)
        except ValueError:
            raise InvalidInput(
                [Problem(f"'{text}' is not a {kind} period; write it like {examples[kind]}", field=field)]
            ) from None
        if not day_in_range(day):
            raise InvalidInput([Problem(out_of_range_words(f"the period '{text}'"), field=field)])
        return cls.containing(kind, day)

    @classmethod
    def last_complete(cls, kind: str, now: datetime, tz: ZoneInfo) -> Period:
        """The last period of ``kind`` that had ended at ``now`` (local time in ``tz``)."""
        return cls.containing(kind, now.astimezone(tz).date()).previous()

    def previous(self) -> Period:
        return Period.containing(self.kind, self.first - timedelta(days=1))

    def shifted(self, steps: int) -> Period:
        period = self
        for _ in range(steps):
            period = period.previous()
        return period

    def year_before(self) -> Period:
        if self.kind == "weekly":
            year, week, _ = self.first.isocalendar()
            try:
                day = date.fromisocalendar(year - 1, week, 1)
            except ValueError:  # week 53 in a year that has 52
                day = date.fromisocalendar(year - 1, 52, 1)
            return Period.containing("weekly", day)
        first = self.first
        try:
            day = first.replace(year=first.year - 1)
        except ValueError:  # 29 February
            day = first.replace(year=first.year - 1, day=28)
        return Period.containing(self.kind, day)

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return self.first.isoformat()
        if self.kind == "weekly":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "monthly":
            return f"{self.first.year}-{self.first.month:02d}"
        return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"

    @property
    def title(self) -> str:
        """The period in an official document: 2025年9月14日 / 2025年第38周 / 2025年9月 / 2025年第三季度."""
        f = self.first
        if self.kind == "daily":
            return f"{f.year}年{f.month}月{f.day}日"
        if self.kind == "weekly":
            year, week, _ = f.isocalendar()
            return f"{year}年第{week}周"
        if self.kind == "monthly":
            return f"{f.year}年{f.month}月"
        return f"{f.year}年第{_QUARTER_CN[(f.month - 1) // 3 + 1]}季度"

    @property
    def short_title(self) -> str:
        """A chart axis label: 9/14, W38, 2025-09, 2025Q3."""
        f = self.first
        if self.kind == "daily":
            return f"{f.month}/{f.day}"
        if self.kind == "weekly":
            return f"W{f.isocalendar()[1]:02d}"
        if self.kind == "monthly":
            return f"{f.year}-{f.month:02d}"
        return f"{f.year}Q{(f.month - 1) // 3 + 1}"

    def start(self, tz: ZoneInfo) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=tz)

    def end(self, tz: ZoneInfo) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=tz)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kind_cn": KIND_CN[self.kind],
            "label": self.label,
            "title": self.title,
            "start": self.first.isoformat(),
            "end": self.last.isoformat(),
        }


def _month_end(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)


def resolve_period(kind: str, now: datetime, tz: ZoneInfo, label: str | None = None, field: str = "--period") -> Period:
    """The period named by ``label``, else the last complete one before ``now``; refuses one not yet ended (a problem
    names ``field``: the command line's option, or a request's parameter)."""
    if kind not in PERIOD_KINDS:
        raise InvalidInput([Problem(f"'{kind}' is not a period; use {', '.join(PERIOD_KINDS)}", field="PERIOD")])
    period = Period.parse(kind, label, field) if label else Period.last_complete(kind, now, tz)
    if period.end(tz) > now:
        raise InvalidInput(
            [
                Problem(
                    f"the period {period.label} has not ended at {now.astimezone(tz).isoformat()}; "
                    "a report covers a complete period",
                    field=field,
                )
            ]
        )
    return period
