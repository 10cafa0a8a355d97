"""The escalation sweep: reminders, supervision and elevation for the hazards that are due, then the
township figures for listing. Reads only hazards whose next-action instant has passed (indexed), in
batches, each batch one transaction; on PostgreSQL batches are claimed with ``FOR UPDATE SKIP LOCKED`` so
several sweepers share the work. Unique cause keys make a doubled sweep harmless. The township figures are
evaluated only when something they depend on may have changed since the last evaluation (``models.listing``),
so a sweep with nothing due costs a few indexed reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine

from models import listing
from models.collector import collector_paused
from models.db import unit_of_work
from models.escalation import sweep_hazard
from models.intake import EffectWriter, retryable
from models.lifecycle import CLOCK_RUNNING
from models.repository import load_hazards_where
from models.rules import Rules
from models.store import HazardRow

_H = HazardRow.__table__
_T = TypeVar("_T")
_RETRIES = 5


@dataclass
class SweepReport:
    examined: int = 0
    reminders: int = 0
    supervisions: int = 0
    elevations: int = 0
    notices: int = 0
    batches: int = 0
    listed: list[str] = field(default_factory=list)
    delist_proposed: list[str] = field(default_factory=list)
    figures_evaluated: bool = False  # False: the listing mark showed the township figures unchanged

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def sweep(
    engine: Engine,
    rules: Rules,
    now: datetime,
    *,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
    fault_after_batches: int | None = None,
) -> SweepReport:
    report = SweepReport()
    seen: set[str] = set()
    while True:
        due = _retrying(lambda: _sweep_batch(engine, rules, now, batch_size, seen, report))
        if not due:
            break
        report.examined += due
        report.batches += 1
        if progress:
            progress(due)
        if fault_after_batches is not None and report.batches >= fault_after_batches:
            raise RuntimeError(f"injected fault after {report.batches} batch(es)")
    outcome = _retrying(lambda: _sweep_townships(engine, rules, now, report))
    report.listed, report.delist_proposed = outcome.listed, outcome.delist_proposed
    report.figures_evaluated = outcome.evaluated
    return report


def _retrying(step: Callable[[], _T]) -> _T:
    """Run one batch transaction, again if it lost a race (deadlock, serialization failure, a unique key another
    sweeper just took): the batch rolled back whole, and the retry reads the state the winner left."""
    for attempt in range(_RETRIES):
        try:
            return step()
        except Exception as exc:
            if attempt + 1 == _RETRIES or not retryable(exc):
                raise
    raise AssertionError("unreachable")


def _sweep_batch(
    engine: Engine, rules: Rules, now: datetime, batch_size: int, seen: set[str], report: SweepReport
) -> int:
    with collector_paused(), unit_of_work(engine) as conn:
        # SQLite keeps no statistics and prefers the equality on ``state`` (every open hazard: 145,000 rows at a
        # million stored) to the range on ``next_action_at`` (nothing, in a sweep with nothing due). ``state || ''``
        # can use no index, so the range is read. PostgreSQL's statistics choose the range by themselves.
        state = _H.c.state.concat("") if conn.dialect.name == "sqlite" else _H.c.state
        due = load_hazards_where(
            conn,
            _H.c.next_action_at <= now,
            state.in_([str(s) for s in CLOCK_RUNNING]),
            lock=True,
            skip_locked=True,
            limit=batch_size,
            order_by=(_H.c.next_action_at, _H.c.id),
        )
        due = [h for h in due if h.id not in seen]
        if not due:
            return 0
        writer = EffectWriter(conn, rules, now)
        by_id = {h.id: h for h in due}
        counts = {"reminded": 0, "supervised": 0, "elevated": 0}
        for h in due:
            effects = sweep_hazard(rules, h, now)
            writer.touch(h)
            writer.record(effects, by_id)
            for t in effects.transitions:
                if t.action in counts:
                    counts[t.action] += 1
        notices = writer.flush()
    # Counted only once the batch has committed, so a retried batch is not counted twice.
    seen.update(by_id)
    report.reminders += counts["reminded"]
    report.supervisions += counts["supervised"]
    report.elevations += counts["elevated"]
    report.notices += notices
    return len(due)


def _sweep_townships(engine: Engine, rules: Rules, now: datetime, report: SweepReport) -> listing.ListingSweep:
    with unit_of_work(engine) as conn:
        writer = EffectWriter(conn, rules, now)
        outcome = listing.sweep_listings(conn, rules, now, writer)
        notices = writer.flush()
    report.notices += notices
    return outcome


def preview(engine: Engine, rules: Rules, now: datetime, days: int) -> list[dict[str, object]]:
    """What the sweep would do over the next ``days`` days if nothing changed, day by day. Writes nothing."""
    from datetime import timedelta

    from models.escalation import pending_rungs

    horizon = now + timedelta(days=days)
    with unit_of_work(engine, write=False) as conn:
        hazards = load_hazards_where(
            conn, _H.c.next_action_at <= horizon, _H.c.state.in_([str(s) for s in CLOCK_RUNNING])
        )
    rows: list[dict[str, object]] = []
    for h in hazards:
        for rung in pending_rungs(rules, h):
            if rung.at > horizon:
                break
            rows.append(
                {
                    "day": rules.local_day(max(rung.at, now)).isoformat(),
                    "at": rung.at.isoformat(),
                    "action": rung.action,
                    "level": rung.level,
                    "hazard": h.id,
                    "title": h.title,
                    "unit": h.unit_code,
                    "township": h.township_code,
                    "overdue_now": rung.at <= now,
                }
            )
    rows.sort(key=lambda r: (str(r["at"]), str(r["hazard"])))
    return rows
