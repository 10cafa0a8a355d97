"""Readings in, hazards out: the indicator system's intake.

A file of readings is worked through in chunks. For each chunk: the points it names are locked (their
``monitoring_points`` rows, in code order, so two writers of one point queue and never interleave), the readings
already stored are read with one range query, the new ones are walked in time order per point through a small
state machine, and what that decides is written set-based:

* a reading past the breach threshold with no breach open starts an episode and raises ONE hazard through the
  engine's own apply path (``hazard.detected`` with source ``monitoring`` naming the indicator's responsible unit,
  which it is assigned to), so deadlines, notices and escalation are those of any hazard;
* further readings while the episode lasts (past the warning threshold or the breach threshold) add one line per
  chunk to that hazard's history; the first reading back within the warning threshold ends the episode and is
  recorded on the hazard too;
* a reading past the warning threshold, outside an episode, starts a warning spell: one ``indicator_warning``
  notice to the responsible unit, no hazard.

Idempotent by (point, instant): a reading already stored is a duplicate (with another value it is refused). A
reading older than its point's latest is stored for the analysis but decides nothing (a late reading cannot
reopen the past). The hazard's reference and its events' ids derive from the point and the episode's first
instant, so however the same readings arrive, an episode raises one hazard.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from hazardloop.models.core.errors import ConflictError, Problem, Rejections
from hazardloop.models.core.hazard import Effects, NoticeIntent, Transition
from hazardloop.models.core.indicators import Indicator, IndicatorSet, Point
from hazardloop.models.core.reading_lines import Reading, ReadingParser
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.bulk import bulk_insert, shared_conversions
from hazardloop.models.store.collector import collector_paused
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.effects import EffectWriter
from hazardloop.models.store.intake import ApplyReport, _Batch, parse_lines, prefer_indexes, retryable
from hazardloop.models.store.tables import BreachEpisodeRow, HazardRow, MonitoringPointRow, ReadingRow

CHUNK_READINGS = 20000
SOURCE = "monitoring"
_RETRIES = 5
_R, _P, _E = ReadingRow.__table__, MonitoringPointRow.__table__, BreachEpisodeRow.__table__
_BY_POINT_AND_TIME = attrgetter("point", "at")
_READING_COLUMNS = ("point_code", "at", "value", "level", "indicator_code", "recorded_at")


@dataclass
class ReadingsReport:
    lines: int = 0
    readings: int = 0  # new readings stored
    duplicates: int = 0
    late: int = 0  # stored, but older than their point's latest reading: decided nothing
    hazards: list[str] = field(default_factory=list)  # hazards raised (ids)
    continued: int = 0  # readings added to an open breach's hazard
    recovered: int = 0  # breach episodes ended by a reading back within bounds
    warnings: int = 0  # warning notices queued
    notices: int = 0  # notices of every kind the readings caused
    rejected: list[Problem] = field(default_factory=list)

    def merge(self, other: ReadingsReport) -> None:
        for name in ("readings", "duplicates", "late", "continued", "recovered", "warnings", "notices"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.hazards.extend(other.hazards)

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "readings": self.readings,
            "duplicates": self.duplicates,
            "late": self.late,
            "hazards": self.hazards,
            "continued": self.continued,
            "recovered": self.recovered,
            "warnings": self.warnings,
            "notices": self.notices,
            "rejected": [
                {"source": p.source, "line": p.line, "field": p.field, "message": p.message} for p in self.rejected
            ],
        }


def hazard_ref(point: str, started_at: datetime) -> str:
    """The source reference of the hazard a breach episode raises: the point and the episode's first instant."""
    return f"MON-{point}-{started_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass(slots=True)
class _Episode:
    point: str
    started_at: datetime
    ref: str
    readings: int
    peak: float
    last_at: datetime
    last_value: float
    ended_at: datetime | None = None
    new: bool = False
    line: int = 0  # the reading that opened it (in this chunk)
    added: int = 0  # readings added in this chunk after the opening one
    added_at: datetime | None = None  # the latest of them
    recovery: Reading | None = None


@dataclass(slots=True)
class _PointState:
    code: str
    last_at: datetime | None
    last_value: float | None
    last_level: str | None
    episode_started_at: datetime | None
    warning_since: datetime | None
    changed: bool = False


class _Chunk:
    """One chunk of readings on one connection: decide in memory, then write set-based."""

    def __init__(
        self,
        conn: Connection,
        rules: Rules,
        indicators: IndicatorSet,
        now: datetime,
        source: str,
        report: ReadingsReport,
    ) -> None:
        self.conn, self.rules, self.indicators, self.now = conn, rules, indicators, now
        self.source, self.report = source, report
        self.actor = f"{rules.tree.city.code}/指标监测"
        self.problems: list[Problem] = []

    def run(self, readings: list[Reading]) -> list[Problem]:
        if not readings:
            return []
        readings.sort(key=_BY_POINT_AND_TIME)
        fresh = self._fresh(readings)
        points = sorted({r.point for r in fresh})
        if not fresh:
            return self.problems
        states = self._lock_points(points)
        episodes = self._open_episodes(points)
        rows: list[dict[str, Any]] = []
        warnings: list[NoticeIntent] = []
        events: list[dict[str, Any]] = []
        touched: dict[str, _Episode] = {}
        for r in fresh:
            point = self.indicators.point[r.point]
            ind = self.indicators.indicator[point.indicator]
            level = ind.level_of(r.value)
            rows.append({"point_code": r.point, "at": r.at, "value": r.value, "level": level,
                         "indicator_code": ind.code, "recorded_at": self.now})  # fmt: skip
            state = states[r.point]
            if state.last_at is not None and r.at <= state.last_at:
                self.report.late += 1
                continue
            self._step(r, point, ind, level, state, episodes, touched, warnings, events)
        self.report.readings += len(rows)
        shared = shared_conversions()  # a chunk's readings share their instants: each converted once
        for part in _chunks(rows, 5000):
            bulk_insert(self.conn, _R, part, _READING_COLUMNS, shared)
        if events:
            self._apply_events(events, touched)
        self._write_effects(touched, warnings)
        self._write_states(states, touched)
        return self.problems

    # --- deciding -------------------------------------------------------------------------------------------
    def _fresh(self, readings: list[Reading]) -> list[Reading]:
        """The readings not stored yet; the same (point, instant) again is a duplicate, or refused with another
        value. One range query per chunk over the chunk's points."""
        first, last = readings[0].at, readings[0].at
        for r in readings:
            first, last = min(first, r.at), max(last, r.at)
        points = sorted({r.point for r in readings})
        stored: dict[tuple[str, datetime], float] = {}
        for part in _chunks(points, 500):
            query = select(_R.c.point_code, _R.c.at, _R.c.value).where(
                _R.c.point_code.in_(part), _R.c.at >= first, _R.c.at <= last
            )
            stored.update({(p, at): v for p, at, v in self.conn.execute(query)})
        fresh: list[Reading] = []
        seen: dict[tuple[str, datetime], Reading] = {}
        for r in readings:
            key = (r.point, r.at)
            earlier = seen.get(key)
            known = stored.get(key) if earlier is None else earlier.value
            if earlier is None and key not in stored:
                seen[key] = r
                fresh.append(r)
            elif known == r.value:
                self.report.duplicates += 1
            else:
                where = f"line {earlier.line}" if earlier is not None else "an earlier file"
                self.problems.append(
                    Problem(
                        f"point {r.point} already has a reading at {r.at.isoformat()} (value {known:g}, from {where}); "
                        "a point has one reading per instant",
                        source=self.source,
                        line=r.line,
                        field="value",
                    )
                )
        return fresh

    def _step(
        self,
        r: Reading,
        point: Point,
        ind: Indicator,
        level: str,
        state: _PointState,
        episodes: dict[str, _Episode],
        touched: dict[str, _Episode],
        warnings: list[NoticeIntent],
        events: list[dict[str, Any]],
    ) -> None:
        state.changed = True
        episode = episodes.get(r.point)
        if episode is not None:
            episode.last_at, episode.last_value = r.at, r.value
            touched[episode.ref] = episode
            if level == "normal":
                episode.ended_at, episode.recovery = r.at, r
                del episodes[r.point]
                state.episode_started_at = state.warning_since = None
                self.report.recovered += 1
            else:
                episode.readings += 1
                episode.added += 1
                episode.added_at = r.at
                episode.peak = _worse(ind, episode.peak, r.value)
                self.report.continued += 1
        elif level == "breach":
            started = _Episode(
                r.point, r.at, hazard_ref(r.point, r.at), 1, r.value, r.at, r.value, new=True, line=r.line
            )
            episodes[r.point] = touched[started.ref] = started
            state.episode_started_at, state.warning_since = r.at, None
            events.extend(self._detection(r, point, ind, started.ref))
        elif level == "warning":
            if state.warning_since is None:
                state.warning_since = r.at
                warnings.append(self._warning(r, point, ind))
        else:
            state.warning_since = None
        state.last_at, state.last_value, state.last_level = r.at, r.value, level

    def _detection(self, r: Reading, point: Point, ind: Indicator, ref: str) -> list[dict[str, Any]]:
        at = r.at.isoformat()
        uom = ind.unit_of_measure
        word = "高于" if ind.direction == "higher_is_worse" else "低于"
        local = _cn_time(r.at.astimezone(self.rules.policy.tz))
        description = (
            f"监测点{point.name}（{point.code}）{ind.name}读数{r.value:g}{uom}（{local}），{word}报警阈值"
            f"{ind.breach:g}{uom}。应采取措施：{ind.measure}"
        )
        detected = {
            "type": "hazard.detected",
            "event_id": f"{ref}:detected",
            "at": at,
            "actor": self.actor,
            "hazard": {
                "ref": ref,
                "title": f"{point.name}{ind.name}超出报警阈值"[:200],
                "description": description,
                "field": ind.field,
                "severity": ind.severity,
                "township": point.township,
                "source": SOURCE,
                "unit": ind.responsible_unit,  # 一指标一举措: the indicator names who answers for it
            },
        }
        events = [detected]
        for e in events:
            e["_line"] = r.line
        return events

    def _warning(self, r: Reading, point: Point, ind: Indicator) -> NoticeIntent:
        tree = self.rules.tree
        local = r.at.astimezone(self.rules.policy.tz)
        cc = () if point.township == ind.responsible_unit else (point.township,)
        return NoticeIntent(
            kind="indicator_warning",
            key=f"indicator_warning:{point.code}:{r.at.astimezone(UTC).isoformat()}",
            hazard_id=None,
            township_code=point.township,
            recipient_code=ind.responsible_unit,
            cc_codes=cc,
            issuer_code=tree.city.code,
            at=r.at,
            extra={
                "indicator": {
                    "code": ind.code,
                    "name": ind.name,
                    "unit_of_measure": ind.unit_of_measure,
                    "direction": ind.direction,
                    "warning": ind.warning,
                    "breach": ind.breach,
                    "measure": ind.measure,
                    "project": self.indicators.project[ind.project].name,
                },
                "point": {"code": point.code, "name": point.name, "township": tree.get(point.township).name},
                "reading": {"value": r.value, "at": self.rules.local_iso(r.at), "at_cn": _cn_time(local)},
            },
        )

    # --- reading and writing --------------------------------------------------------------------------------
    def _lock_points(self, points: list[str]) -> dict[str, _PointState]:
        """Each point's running state, its row locked until the chunk's transaction ends (PostgreSQL; SQLite's
        writers are serialised by ``BEGIN IMMEDIATE``). Rows are made on first use, in code order."""
        existing = set()
        for part in _chunks(points, 500):
            existing |= set(self.conn.scalars(select(_P.c.code).where(_P.c.code.in_(part))))
        missing = [{"code": p} for p in points if p not in existing]
        if missing:
            if self.conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                self.conn.execute(pg_insert(_P).on_conflict_do_nothing(index_elements=["code"]), missing)
            else:
                self.conn.execute(insert(_P), missing)
        states: dict[str, _PointState] = {}
        for part in _chunks(points, 500):
            query = select(_P).where(_P.c.code.in_(part)).order_by(_P.c.code)
            if self.conn.dialect.name == "postgresql":
                query = query.with_for_update()
            for row in self.conn.execute(query):
                states[row.code] = _PointState(
                    row.code, row.last_at, row.last_value, row.last_level, row.episode_started_at, row.warning_since
                )
        return states

    def _open_episodes(self, points: list[str]) -> dict[str, _Episode]:
        found: dict[str, _Episode] = {}
        for part in _chunks(points, 500):
            query = select(_E).where(_E.c.point_code.in_(part), _E.c.ended_at.is_(None))
            for row in self.conn.execute(query):
                found[row.point_code] = _Episode(
                    row.point_code, row.started_at, row.hazard_ref, row.readings, row.peak, row.last_at, row.last_value
                )
        return found

    def _apply_events(self, events: list[dict[str, Any]], touched: dict[str, _Episode]) -> None:
        """The detections and assignments through the engine's own apply path, on this transaction."""
        lines = [(e.pop("_line"), json.dumps(e, ensure_ascii=False)) for e in events]
        problems: list[Problem] = []
        parsed = parse_lines(lines, self.source, self.now, problems)
        applied = ApplyReport(lines=len(lines))
        problems.extend(_Batch(self.conn, self.rules, self.now, self.source, applied).run(parsed))
        for p in problems:  # the file's own line, with the engine's reason
            self.problems.append(Problem(p.message, source=self.source, line=p.line, field="point"))
        self.report.hazards.extend(applied.created)
        self.report.notices += applied.notices

    def _write_effects(self, touched: dict[str, _Episode], warnings: list[NoticeIntent]) -> None:
        writer = EffectWriter(self.conn, self.rules, self.now)
        notes = [e for e in touched.values() if e.added or e.recovery is not None]
        if notes:
            refs = [e.ref for e in notes]
            hazards: dict[str, tuple[str, str, str]] = {}
            for part in _chunks(refs, 500):
                query = select(HazardRow.id, HazardRow.ref, HazardRow.state, HazardRow.township_code).where(
                    HazardRow.ref.in_(part)
                )
                hazards.update({ref: (hid, state, town) for hid, ref, state, town in self.conn.execute(query)})
            for e in notes:
                if e.ref in hazards:
                    writer.transitions.extend(self._notes(e, *hazards[e.ref]))
        writer.record(Effects([], warnings), {})
        self.report.warnings += len(warnings)
        self.report.notices += writer.flush()

    def _notes(self, e: _Episode, hazard_id: str, state: str, township: str) -> list[Transition]:
        point = self.indicators.point[e.point]
        ind = self.indicators.indicator[point.indicator]
        uom = ind.unit_of_measure
        out: list[Transition] = []
        if e.added and e.added_at is not None:
            out.append(
                Transition(
                    hazard_id, township, "reading.breach", state, state,
                    e.added_at, self.actor,
                    reason=f"监测点{point.name}又有{e.added}条读数超出预警或报警阈值，峰值{e.peak:g}{uom}",
                    details={"point": e.point, "readings": e.added, "peak": e.peak},
                )
            )  # fmt: skip
        if e.recovery is not None:
            r = e.recovery
            out.append(
                Transition(
                    hazard_id, township, "reading.recovered", state, state, r.at, self.actor,
                    reason=f"监测点{point.name}读数{r.value:g}{uom}（{_cn_time(r.at.astimezone(self.rules.policy.tz))}），"
                    "已恢复至预警阈值以内",
                    details={"point": e.point, "value": r.value, "readings": e.readings, "peak": e.peak},
                )
            )  # fmt: skip
        return out

    def _write_states(self, states: dict[str, _PointState], touched: dict[str, _Episode]) -> None:
        changed = [s for s in states.values() if s.changed]
        if changed:
            self.conn.execute(
                update(_P).where(_P.c.code == _bind("b_code")),
                [{"b_code": s.code, "last_at": s.last_at, "last_value": s.last_value, "last_level": s.last_level,
                  "episode_started_at": s.episode_started_at, "warning_since": s.warning_since} for s in changed],
            )  # fmt: skip
        new = [e for e in touched.values() if e.new]
        if new:
            self.conn.execute(
                insert(_E),
                [{"point_code": e.point, "started_at": e.started_at, "indicator_code": self._indicator(e.point),
                  "hazard_ref": e.ref, "ended_at": e.ended_at, "readings": e.readings, "peak": e.peak,
                  "last_at": e.last_at, "last_value": e.last_value} for e in new],
            )  # fmt: skip
        old = [e for e in touched.values() if not e.new]
        if old:
            self.conn.execute(
                update(_E).where(and_(_E.c.point_code == _bind("b_point"), _E.c.started_at == _bind("b_started"))),
                [{"b_point": e.point, "b_started": e.started_at, "ended_at": e.ended_at, "readings": e.readings,
                  "peak": e.peak, "last_at": e.last_at, "last_value": e.last_value} for e in old],
            )  # fmt: skip

    def _indicator(self, point: str) -> str:
        return self.indicators.point[point].indicator


def _cn_time(local: datetime) -> str:
    return f"{local.year}年{local.month}月{local.day}日 {local.hour:02d}:{local.minute:02d}"


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)


def _worse(ind: Indicator, a: float, b: float) -> float:
    return max(a, b) if ind.direction == "higher_is_worse" else min(a, b)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def ingest_lines(
    engine: Engine,
    rules: Rules,
    indicators: IndicatorSet,
    lines: Sequence[tuple[int, str]],
    *,
    source: str,
    now: datetime,
    partial: bool = False,
    chunk_readings: int = CHUNK_READINGS,
    progress: Callable[[int], None] | None = None,
) -> ReadingsReport:
    """Ingest reading lines ``(line number, text)``. All-or-nothing raises ``Rejections`` naming every bad line
    and writes nothing; ``partial`` commits chunk by chunk and returns the bad lines in the report."""
    for attempt in range(_RETRIES):
        try:
            return _ingest_once(engine, rules, indicators, lines, source, now, partial, chunk_readings, progress)
        except Exception as exc:
            if attempt + 1 < _RETRIES and retryable(exc):
                continue
            if isinstance(exc, IntegrityError | ConflictError):
                raise ConflictError(
                    "the database changed under this file while it was being read in "
                    f"({type(exc).__name__}); nothing was written — run the command again"
                ) from exc
            raise
    raise AssertionError("unreachable")


def _ingest_once(
    engine: Engine,
    rules: Rules,
    indicators: IndicatorSet,
    lines: Sequence[tuple[int, str]],
    source: str,
    now: datetime,
    partial: bool,
    chunk_readings: int,
    progress: Callable[[int], None] | None,
) -> ReadingsReport:
    report = ReadingsReport(lines=len(lines))
    problems: list[Problem] = []
    parser = ReadingParser(indicators, source, now)
    if partial:
        for start in range(0, len(lines), chunk_readings):
            part = lines[start : start + chunk_readings]
            with collector_paused():
                readings = parser.parse(part, problems)
                problems.extend(_partial_chunk(engine, rules, indicators, readings, source, now, report))
            if progress:
                progress(len(part))
        report.rejected = sorted(problems, key=lambda p: p.line or 0)
        return report
    with unit_of_work(engine) as conn:
        prefer_indexes(conn)
        for start in range(0, len(lines), chunk_readings):
            part = lines[start : start + chunk_readings]
            with collector_paused():
                readings = parser.parse(part, problems)
                problems.extend(_Chunk(conn, rules, indicators, now, source, report).run(readings))
            if progress:
                progress(len(part))
        if problems:
            raise Rejections(sorted(problems, key=lambda p: p.line or 0))  # rolls the whole file back
    return report


def _partial_chunk(
    engine: Engine,
    rules: Rules,
    indicators: IndicatorSet,
    readings: list[Reading],
    source: str,
    now: datetime,
    report: ReadingsReport,
) -> list[Problem]:
    """One chunk in its own transaction. A chunk is written whole or not at all: when some of its lines are
    refused, it is rolled back and its other lines go again without them."""
    rejected: list[Problem] = []
    while True:
        attempt = ReadingsReport()
        try:
            with unit_of_work(engine) as conn:
                prefer_indexes(conn)
                problems = _Chunk(conn, rules, indicators, now, source, attempt).run(list(readings))
                if problems:
                    raise _RolledBack(problems)
        except _RolledBack as exc:
            problems = exc.problems
        else:
            report.merge(attempt)
            return rejected
        rejected.extend(problems)
        bad = {p.line for p in problems}
        readings = [r for r in readings if r.line not in bad]


class _RolledBack(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
