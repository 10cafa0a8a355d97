"""Periodic analysis (日、周、月、季研判): the figures of one period for the city, a county or a township.

Periods are calendar periods in the policy's time zone, half-open ``[start, end)``: a day, an ISO week
(Monday to Sunday), a calendar month, a calendar quarter. Labels: ``2025-09-14``, ``2025-W38``, ``2025-09``,
``2025-Q3``.

As-of exactness: every figure of a period is computed from the audit trail as it stood at the period's end
— transitions with ``at < end`` and hazards detected before ``end`` — never from the hazards' current
state, so the report for September built in December equals the one built on October 1st. Two facts are
read from the hazards table because they are written once and never change: ``detected_at`` (the
detection's instant) and ``cleared_at`` / ``closed_at`` (the instant of the final transition; a cleared or
invalid hazard never reopens). What can still change a closed period is an event *dated* inside it but
applied later (a late upload; the report sent is frozen in its notice). The escalation sweep dates its
reminders, supervisions and elevations when it acts (the instant the rung fell due is kept in the details),
so a sweep after the end never reaches back into the period.

Definitions (scope = the hazards located in the scope's townships; S = the period):

- **new** (新发现): hazards detected in S, including reports later closed as invalid (those are counted
  again under *invalidated* in the period they are closed), so that
  ``open(end) = open(previous end) + new - cleared - invalidated`` holds exactly.
- **cleared** (销号): hazards whose verification passed in S.
- **invalidated** (作废): hazards closed as invalid (不属实 / 重复) in S.
- **open** (在办, at period end): detected before the end and neither cleared nor invalid by then; with
  ``open_major`` for major hazards, ``unrouted`` (not yet assigned), ``pending_verification`` (waiting
  for verification at the end) and ``open_by_level`` (the supervision level reached by the end).
- **overdue** (逾期, at period end): open hazards whose deadline had passed at the end while the unit
  owed the work (assigned or rectifying — the clock stops while waiting for verification); the deadline
  is the one in force at the end (assignment deadline, moved by approved extensions). ``overdue_major``
  likewise.
- **verification overdue** (核查逾期, at period end): hazards waiting for verification at the end whose
  verification deadline (set at the latest submission) had passed: late work of the verifier, not of the unit.
- **clearance rate** (销号率) = cleared / (cleared + open): of the period's workload (everything still
  open at the end plus what was finished in the period), the share finished. None when both are 0.
- **on-time clearance rate** (按期销号率) = on_time / cleared, where on_time counts the hazards cleared in
  S whose verification passed no later than the deadline in force (extensions included).
- **rework rate** (返工率) = returned / (returned + cleared): failed verifications (退回整改) among all
  verifications decided in S.
- **extensions**: requests made in S (``extensions_requested``), decisions in S that granted
  (``extensions_granted``) or refused (``extensions_refused``) one.
- **reassignments** (转办): hazard.reassigned in S.
- **reminders** (催办: acknowledgement and deadline reminders) and **supervisions** (督办通知) issued in S
  (dated when the sweep issued them).
- **escalations** (提级): automatic elevations and manual escalations in S, by the level reached
  (``township``/``county``/``city``), their total and how many were manual.
- **townships listed / delisted** (挂牌 / 摘牌) in S, and the townships under listing at the end.
- **oldest open** (在办时间最长): the ten open hazards with the earliest detection at the end, with their
  state, unit, deadline and supervision level at the end.
- **rankings**: townships with at least ``min_base`` hazards in the clearance-rate base, ranked by
  clearance rate (ties: fewer overdue first, then code); the best and the worst five (with fewer than ten
  ranked, the upper and the lower half, so the two lists never overlap); the five with the most overdue
  hazards; a county report also ranks its county among all counties.
- **comparisons**: the same totals for the previous period (环比) and the same period a year earlier
  (同比), when the audit trail starts before that period ends (``partial`` when it starts inside it).
- **trend**: new, cleared and open at the end for the last periods of the same kind (14 days, 12 weeks,
  12 months or 8 quarters) from the start of the data.

Everything is computed with a handful of grouped queries whatever the number of hazards, shared by every
scope (the city and all counties come out of one snapshot): one pass over the hazards that matter to the
period or its comparison periods, each joined to its transitions (all three windows folded in the same
pass), one grouped count of each window's transitions, one for the trend buckets, one window query for
the oldest open hazards. Over 1,000,000 hazards and 6.2 million transitions a monthly report for the city
and its seven counties takes about 25 s on SQLite and 10 s on PostgreSQL, in under 100 MB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import TIMESTAMP, Connection, DateTime, String, and_, case, cast, func, literal, or_, select

from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.instants import day_in_range, out_of_range_words
from hazardloop.models.core.lifecycle import CLOCK_RUNNING
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.tables import HazardRow, TransitionRow

_H = HazardRow.__table__
_T = TransitionRow.__table__

PERIOD_KINDS = ("daily", "weekly", "monthly", "quarterly")
KIND_CN = {"daily": "日", "weekly": "周", "monthly": "月", "quarterly": "季"}
TREND_LENGTH = {"daily": 14, "weekly": 12, "monthly": 12, "quarterly": 8}
MIN_RANK_BASE = 5
TOP = 5
OLDEST = 10
_QUARTER_CN = {1: "一", 2: "二", 3: "三", 4: "四"}

ROUTING = ("routed", "hazard.assigned")
ESCALATING = ("elevated", "hazard.escalated")
# Actions that set the hazard's state (the sweep's reminded/supervised/elevated and extensions keep it).
STATE_SETTING = (
    "hazard.detected",
    "routed",
    "hazard.assigned",
    "hazard.acknowledged",
    "hazard.reassigned",
    "rectification.submitted",
    "verification.passed",
    "verification.failed",
    "hazard.invalidated",
)
LEVELS = ("township", "county", "city")
_LEVEL_RANK = {"none": 0, "township": 1, "county": 2, "city": 3}
_RANK_LEVEL = {v: k for k, v in _LEVEL_RANK.items()}

# Counters summed per (township, county, field) cell; every rate is derived from them.
HAZARD_COUNTS = (
    "new",
    "cleared",
    "invalidated",
    "open",
    "open_major",
    "unrouted",
    "pending_verification",
    "overdue",
    "overdue_major",
    "verification_overdue",
    "on_time",
    "open_level_township",
    "open_level_county",
    "open_level_city",
)
EVENT_COUNTS = (
    "returned",
    "extensions_requested",
    "extensions_decided",
    "extensions_granted",
    "reassignments",
    "reminders",
    "supervisions",
    "escalated_township",
    "escalated_county",
    "escalated_city",
    "escalated_manual",
)
COUNTS = HAZARD_COUNTS + EVENT_COUNTS


# --- periods -------------------------------------------------------------------------------------------


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
    def parse(cls, kind: str, text: str) -> Period:
        """``2025-09-14`` (daily), ``2025-W38`` (weekly), ``2025-09`` (monthly), ``2025-Q3`` (quarterly)."""
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
                [Problem(f"'{text}' is not a {kind} period; write it like {examples[kind]}", field="--period")]
            ) from None
        if not day_in_range(day):
            raise InvalidInput([Problem(out_of_range_words(f"the period '{text}'"), field="--period")])
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


def resolve_period(kind: str, now: datetime, tz: ZoneInfo, label: str | None = None) -> Period:
    """The period named by ``label``, else the last complete one before ``now``; refuses one not yet ended."""
    if kind not in PERIOD_KINDS:
        raise InvalidInput([Problem(f"'{kind}' is not a period; use {', '.join(PERIOD_KINDS)}", field="PERIOD")])
    period = Period.parse(kind, label) if label else Period.last_complete(kind, now, tz)
    if period.end(tz) > now:
        raise InvalidInput(
            [
                Problem(
                    f"the period {period.label} has not ended at {now.astimezone(tz).isoformat()}; "
                    "a report covers a complete period",
                    field="--period",
                )
            ]
        )
    return period


# --- the queries ---------------------------------------------------------------------------------------


class _Instants:
    """Deadlines are recorded as ISO strings in the transitions' JSON details; this turns them into values
    comparable with the stored UTC instants on each database (text on SQLite, timestamps on PostgreSQL)."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"

    def due(self, key: str = "due_at") -> Any:
        raw = _T.c.details[key].as_string()
        if self.pg:
            return func.timezone("UTC", cast(raw, TIMESTAMP(timezone=True)))
        return func.datetime(raw)

    def column(self, col: Any) -> Any:
        return col if self.pg else func.datetime(col)

    def value(self, instant: datetime) -> Any:
        naive = instant.astimezone(UTC).replace(tzinfo=None)
        if self.pg:
            return literal(naive, DateTime())
        return literal(naive.strftime("%Y-%m-%d %H:%M:%S"), String())


def _count(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


_Cell = tuple[str, str | None, str]  # (township code, county code, field)


def _approved() -> Any:
    return _T.c.details["approved"].as_boolean()


Window = tuple[datetime, datetime]
_NEEDED = (
    "routed",
    "hazard.assigned",
    "extension.decided",
    "rectification.submitted",
    "verification.failed",
    *ESCALATING,
)


def hazard_cells(conn: Connection, windows: Sequence[Window]) -> list[dict[_Cell, dict[str, int]]]:
    """The hazard counters of each window ``[start, end)`` per (township, county, field), all windows in one
    pass: the hazards open at some point of a window (closed ones before its start cannot matter: closing
    is final) are each joined to their transitions before the window's end and folded per window.

    The hazards drive the join (a LEFT JOIN with the instant in its ON clause, which SQLite may not
    reorder): driving from the transitions' instant index would visit nearly the whole audit trail."""
    inst = _Instants(conn)
    action, at = _T.c.action, _T.c.at
    sets_deadline = or_(action.in_(ROUTING), and_(action == "extension.decided", _approved()))
    relevant = or_(
        *[and_(_H.c.detected_at < e, or_(_H.c.closed_at.is_(None), _H.c.closed_at >= s)) for s, e in windows]
    )
    per_window = []
    for k, (_start, end) in enumerate(windows):
        before = at < end
        rank = case(
            *[(and_(before, action.in_(ESCALATING), _T.c.level == lvl), _LEVEL_RANK[lvl]) for lvl in LEVELS],
            else_=0,
        )
        per_window += [
            func.max(case((and_(before, sets_deadline), inst.due()), else_=None)).label(f"due_{k}"),
            _count(and_(before, action.in_(ROUTING))).label(f"routed_{k}"),
            func.sum(
                case(
                    (and_(before, action == "rectification.submitted"), 1),
                    (and_(before, action == "verification.failed"), -1),
                    else_=0,
                )
            ).label(f"pending_{k}"),
            func.max(rank).label(f"level_{k}"),
            # the verifier's deadline of the latest submission (each later submission sets a later one)
            func.max(
                case((and_(before, action == "rectification.submitted"), inst.due("verify_due_at")), else_=None)
            ).label(f"verify_due_{k}"),
        ]
    hazard_cols = [
        _H.c.id,
        _H.c.township_code,
        _H.c.county_code,
        _H.c.field,
        _H.c.severity,
        _H.c.detected_at,
        _H.c.cleared_at,
        _H.c.closed_at,
    ]
    last_end = max(e for _s, e in windows)
    joined = _H.outerjoin(_T, and_(_T.c.hazard_id == _H.c.id, at < last_end, action.in_(_NEEDED)))
    per = select(*hazard_cols, *per_window).select_from(joined).where(relevant).group_by(*hazard_cols).subquery()
    p = per.c
    major = p.severity == "major"
    sums = []
    for k, (start, end) in enumerate(windows):
        due, level = p[f"due_{k}"], p[f"level_{k}"]
        routed, pending = func.coalesce(p[f"routed_{k}"], 0) > 0, func.coalesce(p[f"pending_{k}"], 0) > 0
        open_end = and_(p.detected_at < end, or_(p.closed_at.is_(None), p.closed_at >= end))
        cleared = and_(p.cleared_at.is_not(None), p.cleared_at >= start, p.cleared_at < end)
        invalid = and_(p.cleared_at.is_(None), p.closed_at.is_not(None), p.closed_at >= start, p.closed_at < end)
        overdue = and_(open_end, routed, ~pending, due.is_not(None), due < inst.value(end))
        verify_due = p[f"verify_due_{k}"]
        verification_overdue = and_(open_end, routed, pending, verify_due.is_not(None), verify_due < inst.value(end))
        sums += [
            _count(and_(p.detected_at >= start, p.detected_at < end)).label(f"new_{k}"),
            _count(cleared).label(f"cleared_{k}"),
            _count(invalid).label(f"invalidated_{k}"),
            _count(open_end).label(f"open_{k}"),
            _count(and_(open_end, major)).label(f"open_major_{k}"),
            _count(and_(open_end, ~routed)).label(f"unrouted_{k}"),
            _count(and_(open_end, routed, pending)).label(f"pending_verification_{k}"),
            _count(overdue).label(f"overdue_{k}"),
            _count(and_(overdue, major)).label(f"overdue_major_{k}"),
            _count(verification_overdue).label(f"verification_overdue_{k}"),
            _count(and_(cleared, due.is_not(None), inst.column(p.cleared_at) <= due)).label(f"on_time_{k}"),
            *[_count(and_(open_end, level == _LEVEL_RANK[lvl])).label(f"open_level_{lvl}_{k}") for lvl in LEVELS],
        ]
    stmt = select(p.township_code, p.county_code, p.field, *sums).group_by(p.township_code, p.county_code, p.field)
    out: list[dict[_Cell, dict[str, int]]] = [{} for _ in windows]
    for r in conn.execute(stmt):
        m = r._mapping
        for k in range(len(windows)):
            out[k][(r[0], r[1], r[2])] = {key: int(m[f"{key}_{k}"] or 0) for key in HAZARD_COUNTS}
    return out


def event_cells(conn: Connection, start: datetime, end: datetime) -> dict[_Cell, dict[str, int]]:
    """Counts of what happened to hazards in ``[start, end)`` per (township, county, field)."""
    action = _T.c.action
    decided = action == "extension.decided"
    cols = [
        _count(action == "verification.failed").label("returned"),
        _count(action == "extension.requested").label("extensions_requested"),
        _count(decided).label("extensions_decided"),
        _count(and_(decided, _approved())).label("extensions_granted"),
        _count(action == "hazard.reassigned").label("reassignments"),
        _count(action == "reminded").label("reminders"),
        _count(action == "supervised").label("supervisions"),
        *[_count(and_(action.in_(ESCALATING), _T.c.level == lvl)).label(f"escalated_{lvl}") for lvl in LEVELS],
        _count(action == "hazard.escalated").label("escalated_manual"),
    ]
    wanted = (
        "verification.failed",
        "extension.requested",
        "extension.decided",
        "hazard.reassigned",
        "reminded",
        "supervised",
        *ESCALATING,
    )
    stmt = (
        select(_H.c.township_code, _H.c.county_code, _H.c.field, *cols)
        .select_from(_T.join(_H, _H.c.id == _T.c.hazard_id))
        .where(_T.c.at >= start, _T.c.at < end, action.in_(wanted))
        .group_by(_H.c.township_code, _H.c.county_code, _H.c.field)
    )
    return {(r[0], r[1], r[2]): {k: int(r._mapping[k] or 0) for k in EVENT_COUNTS} for r in conn.execute(stmt)}


def period_cells(conn: Connection, windows: Sequence[Window]) -> list[dict[_Cell, dict[str, int]]]:
    """Every counter of each window per (township, county, field)."""
    out = []
    for (start, end), hazards in zip(windows, hazard_cells(conn, windows), strict=True):
        cells: dict[_Cell, dict[str, int]] = {}
        for source in (hazards, event_cells(conn, start, end)):
            for key, values in source.items():
                cells.setdefault(key, dict.fromkeys(COUNTS, 0)).update(values)
        out.append(cells)
    return out


def listing_rows(conn: Connection, end: datetime) -> list[Any]:
    """Every listing and delisting before ``end`` (a few hundred rows at most), in order."""
    stmt = (
        select(_T.c.township_code, _T.c.action, _T.c.at, _T.c.level, _T.c.reason, _T.c.actor)
        .where(_T.c.action.in_(("township.listed", "township.delisted")), _T.c.at < end)
        .order_by(_T.c.at, _T.c.id)
    )
    return list(conn.execute(stmt))


def trend_counts(conn: Connection, bounds: Sequence[datetime]) -> dict[tuple[str | None, str, int], int]:
    """(township, action, bucket) -> count of detections, clearances and invalidations, with buckets
    ``[bounds[i], bounds[i+1])``."""
    at = _T.c.at
    bucket = case(*[(at < b, i) for i, b in enumerate(bounds[1:])], else_=None).label("bucket")
    stmt = (
        select(_T.c.township_code, _T.c.action, bucket, func.count())
        .where(
            _T.c.action.in_(("hazard.detected", "verification.passed", "hazard.invalidated")),
            at >= bounds[0],
            at < bounds[-1],
        )
        .group_by(_T.c.township_code, _T.c.action, bucket)
    )
    return {(r[0], r[1], int(r[2])): int(r[3]) for r in conn.execute(stmt)}


def oldest_open_candidates(conn: Connection, end: datetime, per_township: int = OLDEST) -> list[Any]:
    """The ``per_township`` earliest-detected hazards open at ``end`` in every township: any scope's oldest
    ten are among them."""
    rank = func.row_number().over(partition_by=_H.c.township_code, order_by=(_H.c.detected_at, _H.c.id)).label("rn")
    inner = (
        select(
            _H.c.id,
            _H.c.title,
            _H.c.field,
            _H.c.severity,
            _H.c.township_code,
            _H.c.county_code,
            _H.c.detected_at,
            rank,
        )
        .where(_H.c.detected_at < end, or_(_H.c.closed_at.is_(None), _H.c.closed_at >= end))
        .subquery()
    )
    return list(conn.execute(select(inner).where(inner.c.rn <= per_township)))


def hazards_at(conn: Connection, ids: Iterable[str], end: datetime) -> dict[str, dict[str, Any]]:
    """State, unit, deadline and supervision level of a few hazards at ``end``, replayed from their
    transitions before ``end`` (one query for all of them)."""
    ids = list(ids)
    out: dict[str, dict[str, Any]] = {i: {"state": None, "unit": None, "due_at": None, "level": "none"} for i in ids}
    if not ids:
        return out
    stmt = (
        select(_T.c.hazard_id, _T.c.action, _T.c.to_state, _T.c.level, _T.c.details)
        .where(_T.c.hazard_id.in_(ids), _T.c.at < end)
        .order_by(_T.c.hazard_id, _T.c.at, _T.c.id)
    )
    for r in conn.execute(stmt):
        h = out[r.hazard_id]
        details = r.details or {}
        if r.action in STATE_SETTING:
            h["state"] = r.to_state
        if r.action in (*ROUTING, "hazard.reassigned") and details.get("unit"):
            h["unit"] = details["unit"]
        if (r.action in ROUTING or (r.action == "extension.decided" and details.get("approved"))) and details.get(
            "due_at"
        ):
            due = datetime.fromisoformat(details["due_at"])
            h["due_at"] = max(h["due_at"], due) if h["due_at"] else due
        if r.action in ESCALATING and _LEVEL_RANK.get(r.level or "none", 0) > _LEVEL_RANK[h["level"]]:
            h["level"] = r.level
    return out


def data_since(conn: Connection) -> datetime | None:
    """The instant the audit trail starts."""
    return conn.execute(select(func.min(_T.c.at))).scalar()


# --- from counters to figures --------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def derive(counts: dict[str, int]) -> dict[str, Any]:
    """The counters of a scope (or a breakdown row) with the rates derived from them."""
    c = dict(counts)
    c["clearance_rate"] = _ratio(c["cleared"], c["cleared"] + c["open"])
    c["on_time_rate"] = _ratio(c["on_time"], c["cleared"])
    c["verifications"] = c["returned"] + c["cleared"]
    c["rework_rate"] = _ratio(c["returned"], c["verifications"])
    c["extensions_refused"] = c["extensions_decided"] - c["extensions_granted"]
    esc = {lvl: c[f"escalated_{lvl}"] for lvl in LEVELS}
    c["escalations"] = {**esc, "total": sum(esc.values()), "manual": c["escalated_manual"]}
    c["open_by_level"] = {
        "none": c["open"] - sum(c[f"open_level_{lvl}"] for lvl in LEVELS),
        **{lvl: c[f"open_level_{lvl}"] for lvl in LEVELS},
    }
    return c


def _sum(cells: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(COUNTS, 0)
    for cell in cells:
        for key in COUNTS:
            total[key] += cell[key]
    return total


@dataclass
class Scope:
    code: str
    name: str
    level: str  # city | county | township

    def holds(self, township: str, county: str | None) -> bool:
        if self.level == "city":
            return True
        if self.level == "county":
            return county == self.code
        return township == self.code

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "level": self.level}


def resolve_scope(rules: Rules, key: str | None) -> Scope:
    tree = rules.tree
    if not key:
        return Scope(tree.city.code, tree.city.name, "city")
    unit = tree.find(key)
    if unit is None or unit.level not in ("city", "county", "township", "area"):
        what = "is not a unit in org.yaml" if unit is None else "is not the city, a county or a township"
        raise InvalidInput([Problem(f"'{key}' {what}", field="--scope")])
    return Scope(unit.code, unit.name, "township" if unit.level == "area" else unit.level)


@dataclass
class _Snapshot:
    """Everything computed once for a period, from which every scope's figures are cut."""

    period: Period
    cells: dict[_Cell, dict[str, int]]
    listings: list[Any]
    oldest: list[Any]
    previous: dict[_Cell, dict[str, int]] | None
    previous_partial: bool
    last_year: dict[_Cell, dict[str, int]] | None
    last_year_partial: bool
    trend_periods: list[Period]
    trend: dict[tuple[str | None, str, int], int]
    since: datetime | None


def _available(period: Period, since: datetime | None, tz: ZoneInfo) -> bool:
    return since is not None and since < period.end(tz)


def snapshot(conn: Connection, rules: Rules, period: Period) -> _Snapshot:
    tz = rules.policy.tz
    start, end = period.start(tz), period.end(tz)
    since = data_since(conn)
    previous, last_year = period.previous(), period.year_before()
    compared = [p for p in (previous, last_year) if _available(p, since, tz)]
    cells = period_cells(conn, [(start, end), *[(p.start(tz), p.end(tz)) for p in compared]])
    by_period = dict(zip([period, *compared], cells, strict=True))
    trend_periods = [period.shifted(n) for n in reversed(range(TREND_LENGTH[period.kind]))]
    if since is not None:
        trend_periods = [p for p in trend_periods if p.end(tz) > since] or [period]
    bounds = [p.start(tz) for p in trend_periods] + [end]
    return _Snapshot(
        period=period,
        cells=by_period[period],
        listings=listing_rows(conn, end),
        oldest=oldest_open_candidates(conn, end),
        previous=by_period.get(previous),
        previous_partial=since is not None and since > previous.start(tz),
        last_year=by_period.get(last_year),
        last_year_partial=since is not None and since > last_year.start(tz),
        trend_periods=trend_periods,
        trend=trend_counts(conn, bounds),
        since=since,
    )


_HEADLINE = (
    "new",
    "cleared",
    "invalidated",
    "open",
    "overdue",
    "overdue_major",
    "clearance_rate",
    "on_time_rate",
    "rework_rate",
)


def _compare(current: dict[str, Any], base: dict[str, Any] | None, period: Period, partial: bool) -> Any:
    if base is None:
        return None
    change: dict[str, Any] = {}
    for key in _HEADLINE:
        now_v, then_v = current[key], base[key]
        if now_v is None or then_v is None:
            change[key] = None
        elif key.endswith("_rate"):
            change[key] = round(now_v - then_v, 4)  # percentage points, as a fraction
        else:
            change[key] = now_v - then_v
    pct = {
        k: round((current[k] - base[k]) / base[k], 4) if base[k] else None for k in _HEADLINE if not k.endswith("_rate")
    }
    return {
        "period": period.as_dict(),
        "partial": partial,
        "totals": {k: base[k] for k in _HEADLINE},
        "change": change,
        "change_pct": pct,
    }


def _row(code: str, name: str, counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": name, **extra, **derive(counts)}


def _mark_sample(row: dict[str, Any], min_base: int) -> None:
    """A breakdown row's clearance rate means little from fewer than ``min_base`` hazards (cleared + open): the
    report says 样本不足 instead of a figure such as 0.0 % (the rate stays in the JSON)."""
    row["sample_too_small"] = 0 < row["cleared"] + row["open"] < min_base


def _rank_key(row: dict[str, Any]) -> tuple[float, int, str]:
    return (-(row["clearance_rate"] or 0.0), row["overdue"], row["code"])


def _ranked(rows: list[dict[str, Any]], min_base: int) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r["cleared"] + r["open"] >= min_base), key=_rank_key)


def _brief(row: dict[str, Any], rank: int | None = None) -> dict[str, Any]:
    keys = ("code", "name", "county", "cleared", "open", "overdue", "overdue_major", "clearance_rate")
    out = {k: row.get(k) for k in keys}
    if rank is not None:
        out["rank"] = rank
    return out


class FigureBuilder:
    """Cuts one scope's figures out of a period snapshot."""

    def __init__(self, rules: Rules, snap: _Snapshot, min_base: int = MIN_RANK_BASE) -> None:
        self.rules, self.snap, self.min_base = rules, snap, min_base
        self.tree = rules.tree
        self.tz = rules.policy.tz
        self.county_of: dict[str, str | None] = {}
        for township, county, _field in snap.cells:
            self.county_of[township] = county
        for unit in self.tree.townships():
            county = self.tree.county_of(unit.code)
            self.county_of.setdefault(unit.code, county.code if county else None)

    def _name(self, code: str | None) -> str:
        if code is None:
            return "市直"
        unit = self.tree.units.get(code)
        return unit.name if unit else code

    def _scope_cells(self, cells: dict[_Cell, dict[str, int]], scope: Scope) -> list[tuple[_Cell, dict[str, int]]]:
        return [(k, v) for k, v in cells.items() if scope.holds(k[0], k[1])]

    def _townships(self, scope: Scope) -> list[str]:
        codes = [u.code for u in self.tree.townships() if scope.holds(u.code, self.county_of.get(u.code))]
        extra = sorted({k[0] for k in self.snap.cells if scope.holds(k[0], k[1])} - set(codes))
        return codes + extra

    def _listings(self, scope: Scope) -> dict[str, Any]:
        tz, start = self.tz, self.snap.period.start(self.tz)
        listed: list[dict[str, Any]] = []
        delisted: list[dict[str, Any]] = []
        last: dict[str, Any] = {}
        for r in self.snap.listings:
            if not scope.holds(r.township_code, self.county_of.get(r.township_code)):
                continue
            last[r.township_code] = r
            if r.at >= start:
                item = {
                    "code": r.township_code,
                    "name": self._name(r.township_code),
                    "county": self._name(self.county_of.get(r.township_code)),
                    "on": r.at.astimezone(tz).date().isoformat(),
                    "level": r.level,
                    "reason": r.reason or "",
                }
                (listed if r.action == "township.listed" else delisted).append(item)
        under = [
            {"code": c, "name": self._name(c), "county": self._name(self.county_of.get(c)), "level": r.level}
            for c, r in last.items()
            if r.action == "township.listed"
        ]
        return {"listed": listed, "delisted": delisted, "under_listing": under}

    def _oldest(self, conn: Connection, scopes: list[Scope]) -> dict[str, list[dict[str, Any]]]:
        end = self.snap.period.end(self.tz)
        chosen: dict[str, list[Any]] = {}
        for scope in scopes:
            rows = [r for r in self.snap.oldest if scope.holds(r.township_code, r.county_code)]
            rows.sort(key=lambda r: (r.detected_at, r.id))
            chosen[scope.code] = rows[:OLDEST]
        ids = {r.id for rows in chosen.values() for r in rows}
        states = hazards_at(conn, ids, end)
        fields = self.rules.policy.fields
        end_day = self.snap.period.last + timedelta(days=1)
        out: dict[str, list[dict[str, Any]]] = {}
        for code, rows in chosen.items():
            items = []
            for r in rows:
                s = states[r.id]
                due = s["due_at"]
                running = s["state"] in {str(x) for x in CLOCK_RUNNING}
                overdue = bool(running and due is not None and due < end)
                detected_day = r.detected_at.astimezone(self.tz).date()
                items.append(
                    {
                        "id": r.id,
                        "title": r.title,
                        "field": r.field,
                        "field_name": fields.get(r.field, r.field),
                        "severity": r.severity,
                        "township": self._name(r.township_code),
                        "county": self._name(r.county_code),
                        "detected_on": detected_day.isoformat(),
                        "days_open": (end_day - detected_day).days,
                        "state": s["state"] or "detected",
                        "unit": s["unit"],
                        "unit_name": self._name(s["unit"]) if s["unit"] else "",
                        "due_on": due.astimezone(self.tz).date().isoformat() if due else None,
                        "overdue": overdue,
                        "overdue_days": self.rules.overdue_days_since(due, end) if overdue else 0,
                        "level": s["level"],
                    }
                )
            out[code] = items
        return out

    def _trend(self, scope: Scope, open_end: int) -> dict[str, Any]:
        periods = self.snap.trend_periods
        n = len(periods)
        new, cleared, invalid = [0] * n, [0] * n, [0] * n
        target = {"hazard.detected": new, "verification.passed": cleared, "hazard.invalidated": invalid}
        for (township, action, bucket), count in self.snap.trend.items():
            if township is not None and scope.holds(township, self.county_of.get(township)):
                target[action][bucket] += count
        opens = [0] * n
        running = open_end
        for i in reversed(range(n)):
            opens[i] = running
            running -= new[i] - cleared[i] - invalid[i]
        return {
            "labels": [p.short_title for p in periods],
            "periods": [p.label for p in periods],
            "new": new,
            "cleared": cleared,
            "invalidated": invalid,
            "open": opens,
        }

    def build(self, conn: Connection, scopes: list[Scope]) -> dict[str, dict[str, Any]]:
        oldest = self._oldest(conn, scopes)
        counties = self._county_rows(self.snap.cells)
        ranked_counties = _ranked(counties, self.min_base)
        return {s.code: self._figures(s, oldest[s.code], counties, ranked_counties) for s in scopes}

    def _county_rows(self, cells: dict[_Cell, dict[str, int]]) -> list[dict[str, Any]]:
        codes = [u.code for u in self.tree.counties()]
        codes += sorted({k[1] for k in cells if k[1] is not None and k[1] not in codes})
        grouped: dict[str | None, list[dict[str, int]]] = {}
        for key, value in cells.items():
            grouped.setdefault(key[1], []).append(value)
        rows = [_row(c, self._name(c), _sum(grouped.get(c, []))) for c in codes]
        if None in grouped:
            rows.append(_row("", "市直", _sum(grouped[None])))
        for row in rows:
            _mark_sample(row, self.min_base)
        return rows

    def _figures(
        self,
        scope: Scope,
        oldest: list[dict[str, Any]],
        counties: list[dict[str, Any]],
        ranked_counties: list[dict[str, Any]],
    ) -> dict[str, Any]:
        snap, policy = self.snap, self.rules.policy
        mine = self._scope_cells(snap.cells, scope)
        totals = derive(_sum(v for _, v in mine))
        listings = self._listings(scope)
        totals["townships_listed"] = len(listings["listed"])
        totals["townships_delisted"] = len(listings["delisted"])
        totals["townships_under_listing"] = len(listings["under_listing"])

        by_field_cells: dict[str, list[dict[str, int]]] = {}
        by_town_cells: dict[str, list[dict[str, int]]] = {}
        for (township, _county, field), value in mine:
            by_field_cells.setdefault(field, []).append(value)
            by_town_cells.setdefault(township, []).append(value)
        field_codes = list(policy.fields) + sorted(set(by_field_cells) - set(policy.fields))
        by_field = [_row(f, policy.fields.get(f, f), _sum(by_field_cells.get(f, []))) for f in field_codes]
        under = {u["code"] for u in listings["under_listing"]}
        by_township = [
            _row(
                t,
                self._name(t),
                _sum(by_town_cells.get(t, [])),
                county=self._name(self.county_of.get(t)),
                under_listing=t in under,
            )
            for t in self._townships(scope)
        ]
        for row in (*by_field, *by_township):
            _mark_sample(row, self.min_base)
        ranked = _ranked(by_township, self.min_base)
        rank_of = {r["code"]: i + 1 for i, r in enumerate(ranked)}
        for row in by_township:
            row["rank"] = rank_of.get(row["code"])
        # best and worst never overlap: with fewer than 2 x TOP ranked, the lower half is the "worst"
        n_worst = min(TOP, len(ranked) // 2)
        n_best = min(TOP, len(ranked) - n_worst)
        worst = list(reversed(ranked[len(ranked) - n_worst :]))
        most_overdue = sorted((r for r in by_township if r["overdue"] > 0), key=lambda r: (-r["overdue"], r["code"]))
        rankings = {
            "min_base": self.min_base,
            "ranked": len(ranked),
            # a township that cleared nothing is never "among the best", however few were ranked
            "clearance_best": [_brief(r, rank_of[r["code"]]) for r in ranked[:n_best] if r["clearance_rate"]],
            "clearance_worst": [_brief(r, rank_of[r["code"]]) for r in worst],
            "overdue_most": [_brief(r) for r in most_overdue[:TOP]],
        }
        county_rank = None
        if scope.level == "county":
            position = next((i + 1 for i, r in enumerate(ranked_counties) if r["code"] == scope.code), None)
            county_rank = {
                "rank": position,
                "of": len(ranked_counties),
                "peers": [_brief(r, i + 1) for i, r in enumerate(ranked_counties)],
            }
        comparisons = {
            "previous": _compare(
                totals,
                derive(_sum(v for _, v in self._scope_cells(snap.previous, scope)))
                if snap.previous is not None
                else None,
                snap.period.previous(),
                snap.previous_partial,
            ),
            "last_year": _compare(
                totals,
                derive(_sum(v for _, v in self._scope_cells(snap.last_year, scope)))
                if snap.last_year is not None
                else None,
                snap.period.year_before(),
                snap.last_year_partial,
            ),
        }
        return {
            "scope": scope.as_dict(),
            "period": snap.period.as_dict(),
            "data_since": snap.since.astimezone(self.tz).date().isoformat() if snap.since else None,
            "totals": totals,
            "by_field": by_field,
            "by_county": counties if scope.level == "city" else [],
            "by_township": by_township,
            "rankings": rankings,
            "county_rank": county_rank,
            "listings": listings,
            "oldest_open": oldest,
            "comparisons": comparisons,
            "trend": self._trend(scope, totals["open"]),
        }


def build_figures(
    conn: Connection, rules: Rules, period: Period, scopes: Sequence[Scope], *, min_base: int = MIN_RANK_BASE
) -> dict[str, dict[str, Any]]:
    """Scope code -> figures of ``period`` (JSON-safe). All scopes share one pass over the data."""
    snap = snapshot(conn, rules, period)
    return FigureBuilder(rules, snap, min_base).build(conn, list(scopes))


def report_scopes(rules: Rules) -> list[Scope]:
    """The scopes a sent report goes to: the city and every county."""
    tree = rules.tree
    return [Scope(tree.city.code, tree.city.name, "city")] + [Scope(u.code, u.name, "county") for u in tree.counties()]
