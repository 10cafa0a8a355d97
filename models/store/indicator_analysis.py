"""The indicator section of the periodic analysis: for a period and a scope, each indicator's latest value
against its thresholds, the breach episodes that began in the period, and the monitoring points that sent
nothing in the period (data that stopped arriving is a finding too). A few grouped queries per report, filtered
by the scope's points in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, func, select

from hazardloop.models.core.figures import Scope
from hazardloop.models.core.indicators import Indicator, IndicatorSet
from hazardloop.models.core.periods import Period
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.tables import BreachEpisodeRow, ReadingRow

_R, _E = ReadingRow.__table__, BreachEpisodeRow.__table__
_RANK = {"breach": 2, "warning": 1, "normal": 0}


def scope_points(rules: Rules, indicators: IndicatorSet, scope: Scope) -> list[str]:
    tree = rules.tree
    out = []
    for p in indicators.points:
        county = tree.county_of(p.township)
        if scope.holds(p.township, county.code if county else None):
            out.append(p.code)
    return out


def _latest(conn: Connection, points: list[str], start: datetime | None, end: datetime) -> dict[str, Any]:
    """Each point's last reading before ``end`` (and at or after ``start`` when given)."""
    if not points:
        return {}
    where = [_R.c.point_code.in_(points), _R.c.at < end]
    if start is not None:
        where.append(_R.c.at >= start)
    last = select(_R.c.point_code, func.max(_R.c.at).label("at")).where(*where).group_by(_R.c.point_code).subquery()
    query = select(_R.c.point_code, _R.c.at, _R.c.value, _R.c.level).join(
        last, and_(_R.c.point_code == last.c.point_code, _R.c.at == last.c.at)
    )
    return {row.point_code: row for row in conn.execute(query)}


def indicator_figures(
    conn: Connection, rules: Rules, indicators: IndicatorSet, period: Period, scope: Scope
) -> dict[str, Any] | None:
    """The section's figures (JSON-safe), or None when the scope has no monitoring points."""
    points = scope_points(rules, indicators, scope)
    if not points:
        return None
    tz = rules.policy.tz
    start, end = period.start(tz), period.end(tz)
    counts = {
        row.point_code: row
        for row in conn.execute(
            select(
                _R.c.point_code,
                func.count().label("readings"),
                func.sum((_R.c.level == "breach").cast(Integer)).label("breach_readings"),
                func.sum((_R.c.level == "warning").cast(Integer)).label("warning_readings"),
            )
            .where(_R.c.point_code.in_(points), _R.c.at >= start, _R.c.at < end)
            .group_by(_R.c.point_code)
        )
    }
    latest = _latest(conn, points, start, end)
    silent_codes = [p for p in points if p not in counts]
    before = _latest(conn, silent_codes, None, start)  # when the silent points were last heard of
    latest.update(before)
    episodes = {
        row.point_code: row
        for row in conn.execute(
            select(
                _E.c.point_code,
                func.count().label("began"),
            )
            .where(_E.c.point_code.in_(points), _E.c.started_at >= start, _E.c.started_at < end)
            .group_by(_E.c.point_code)
        )
    }
    open_at_end = {
        row.point_code
        for row in conn.execute(
            select(_E.c.point_code).where(
                _E.c.point_code.in_(points),
                _E.c.started_at < end,
                (_E.c.ended_at.is_(None)) | (_E.c.ended_at >= end),
            )
        )
    }
    by_indicator: dict[str, list[str]] = {}
    for code in points:
        by_indicator.setdefault(indicators.point[code].indicator, []).append(code)
    rows = []
    for ind in indicators.indicators:
        mine = by_indicator.get(ind.code)
        if not mine:
            continue
        rows.append(_indicator_row(rules, indicators, ind, mine, latest, counts, episodes, open_at_end))
    silent = [
        {
            "code": code,
            "name": indicators.point[code].name,
            "township": rules.tree.get(indicators.point[code].township).name,
            "indicator": indicators.indicator[indicators.point[code].indicator].name,
            "last_reading": _local_day(latest[code].at, tz) if code in latest else None,
        }
        for code in silent_codes
    ]
    by_project: dict[str, dict[str, Any]] = {}
    for row in rows:
        project = by_project.setdefault(
            row["project_code"], {"code": row["project_code"], "name": row["project"], "breaches": 0, "silent": 0}
        )
        project["breaches"] += row["breaches"]
        project["silent"] += row["silent"]
    return {
        "indicators": len(rows),
        "points": len(points),
        "readings": sum(r.readings for r in counts.values()),
        "breaches": sum(r.began for r in episodes.values()),
        "open_breaches": len(open_at_end),
        "silent": silent,
        "rows": rows,
        "by_project": list(by_project.values()),
    }


def _indicator_row(
    rules: Rules,
    indicators: IndicatorSet,
    ind: Indicator,
    points: list[str],
    latest: dict[str, Any],
    counts: dict[str, Any],
    episodes: dict[str, Any],
    open_at_end: set[str],
) -> dict[str, Any]:
    tz = rules.policy.tz
    heard = [latest[p] for p in points if p in latest]
    # the indicator's latest value is its worst point's: the one furthest past (or nearest to) its thresholds
    worst = None
    for r in heard:
        key = (_RANK.get(r.level, 0), r.value if ind.direction == "higher_is_worse" else -r.value)
        if worst is None or key > worst[0]:
            worst = (key, r)
    latest_row = None
    if worst is not None:
        r = worst[1]
        latest_row = {
            "value": r.value,
            "level": r.level,
            "point": indicators.point[r.point_code].name,
            "at": r.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        }
    return {
        "code": ind.code,
        "name": ind.name,
        "project_code": ind.project,
        "project": indicators.project[ind.project].name,
        "unit_of_measure": ind.unit_of_measure,
        "direction": ind.direction,
        "warning": ind.warning,
        "breach": ind.breach,
        "unit": rules.tree.get(ind.responsible_unit).name,
        "points": len(points),
        "readings": sum(counts[p].readings for p in points if p in counts),
        "breaches": sum(episodes[p].began for p in points if p in episodes),
        "points_in_breach": sum(1 for p in points if p in open_at_end),
        "silent": sum(1 for p in points if p not in counts),
        "latest": latest_row,
    }


def _local_day(at: datetime, tz: Any) -> str:
    return at.astimezone(tz).date().isoformat()
