"""Periodic analysis (日、周、月、季研判): the figures of one period for the city, a county or a township. This
module reads the counters with SQL; the periods (``models.core.periods``) and the figures cut from the counters
(``models.core.figures``) are pure.

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

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TIMESTAMP, Connection, DateTime, String, and_, case, cast, func, literal, or_, select

from hazardloop.models.core.figures import (
    COUNTS,
    ESCALATING,
    ESCALATION_RANK,
    EVENT_COUNTS,
    HAZARD_COUNTS,
    LEVELS,
    MIN_RANK_BASE,
    OLDEST,
    ROUTING,
    Cell,
    FigureBuilder,
    Scope,
    Snapshot,
    period_available,
    replay_states,
)
from hazardloop.models.core.periods import TREND_LENGTH, Period
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.tables import HazardRow, TransitionRow

_H = HazardRow.__table__
_T = TransitionRow.__table__


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


def hazard_cells(conn: Connection, windows: Sequence[Window]) -> list[dict[Cell, dict[str, int]]]:
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
            *[(and_(before, action.in_(ESCALATING), _T.c.level == lvl), ESCALATION_RANK[lvl]) for lvl in LEVELS],
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
            *[_count(and_(open_end, level == ESCALATION_RANK[lvl])).label(f"open_level_{lvl}_{k}") for lvl in LEVELS],
        ]
    stmt = select(p.township_code, p.county_code, p.field, *sums).group_by(p.township_code, p.county_code, p.field)
    out: list[dict[Cell, dict[str, int]]] = [{} for _ in windows]
    for r in conn.execute(stmt):
        m = r._mapping
        for k in range(len(windows)):
            out[k][(r[0], r[1], r[2])] = {key: int(m[f"{key}_{k}"] or 0) for key in HAZARD_COUNTS}
    return out


def event_cells(conn: Connection, start: datetime, end: datetime) -> dict[Cell, dict[str, int]]:
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


def period_cells(conn: Connection, windows: Sequence[Window]) -> list[dict[Cell, dict[str, int]]]:
    """Every counter of each window per (township, county, field)."""
    out = []
    for (start, end), hazards in zip(windows, hazard_cells(conn, windows), strict=True):
        cells: dict[Cell, dict[str, int]] = {}
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
    if not ids:
        return replay_states(ids, ())
    stmt = (
        select(_T.c.hazard_id, _T.c.action, _T.c.to_state, _T.c.level, _T.c.details)
        .where(_T.c.hazard_id.in_(ids), _T.c.at < end)
        .order_by(_T.c.hazard_id, _T.c.at, _T.c.id)
    )
    return replay_states(ids, conn.execute(stmt))


def data_since(conn: Connection) -> datetime | None:
    """The instant the audit trail starts."""
    return conn.execute(select(func.min(_T.c.at))).scalar()


def snapshot(conn: Connection, rules: Rules, period: Period) -> Snapshot:
    tz = rules.policy.tz
    start, end = period.start(tz), period.end(tz)
    since = data_since(conn)
    previous, last_year = period.previous(), period.year_before()
    compared = [p for p in (previous, last_year) if period_available(p, since, tz)]
    cells = period_cells(conn, [(start, end), *[(p.start(tz), p.end(tz)) for p in compared]])
    by_period = dict(zip([period, *compared], cells, strict=True))
    trend_periods = [period.shifted(n) for n in reversed(range(TREND_LENGTH[period.kind]))]
    if since is not None:
        trend_periods = [p for p in trend_periods if p.end(tz) > since] or [period]
    bounds = [p.start(tz) for p in trend_periods] + [end]
    return Snapshot(
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


def build_figures(
    conn: Connection, rules: Rules, period: Period, scopes: Sequence[Scope], *, min_base: int = MIN_RANK_BASE
) -> dict[str, dict[str, Any]]:
    """Scope code -> figures of ``period`` (JSON-safe). All scopes share one pass over the data."""
    snap = snapshot(conn, rules, period)
    builder = FigureBuilder(rules, snap, min_base)
    scopes = list(scopes)
    chosen = builder.oldest_open(scopes)
    ids = {r.id for rows in chosen.values() for r in rows}
    states = hazards_at(conn, ids, period.end(rules.policy.tz))
    return builder.build(scopes, chosen, states)
