"""The escalation sweep: reminders, supervision and elevation for the hazards that are due, then the
township figures for listing. Reads only hazards whose next-action instant has passed (indexed), in
batches, each batch one transaction; on PostgreSQL batches are claimed with ``FOR UPDATE SKIP LOCKED`` so
several sweepers share the work. Unique cause keys make a doubled sweep harmless. The township figures are
evaluated only when something they depend on may have changed since the last evaluation (``models.listing``),
so a sweep with nothing due costs a few indexed reads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine, RootTransaction

from hazardloop.models.core.escalation import sweep_hazard
from hazardloop.models.core.lifecycle import SWEPT
from hazardloop.models.core.rules import Rules
from hazardloop.models.store import listing
from hazardloop.models.store.collector import collector_paused
from hazardloop.models.store.db import open_unit_of_work, unit_of_work
from hazardloop.models.store.effects import EffectWriter
from hazardloop.models.store.intake import retryable
from hazardloop.models.store.repository import load_hazards_where
from hazardloop.models.store.tables import HazardRow

_H = HazardRow.__table__
_SWEPT_STATES = sorted(str(s) for s in SWEPT)  # the unit's clock, and the verifier's while waiting for it
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
    pipelined: bool | None = None,
) -> SweepReport:
    """Sweep every hazard due at ``now``, batch by batch, then the township figures. ``pipelined`` (by default on
    PostgreSQL): decide the next batch while the last one is written (see ``_pipelined_batches``)."""
    report = SweepReport()
    run = _Run(engine, rules, now, batch_size, report, progress, fault_after_batches)
    if pipelined is None:
        pipelined = engine.dialect.name == "postgresql"
    if pipelined:
        _pipelined_batches(run)
    else:
        while _retrying(lambda: _sweep_batch(run)):
            run.check_fault()
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


@dataclass
class _Run:
    """One sweep's settings and what it has done so far."""

    engine: Engine
    rules: Rules
    now: datetime
    batch_size: int
    report: SweepReport
    progress: Callable[[int], None] | None
    fault_after_batches: int | None
    seen: set[str] = field(default_factory=set)  # hazards of the batches committed so far

    def check_fault(self) -> None:
        if self.fault_after_batches is not None and self.report.batches >= self.fault_after_batches:
            raise RuntimeError(f"injected fault after {self.report.batches} batch(es)")


@dataclass
class _Decided:
    """A batch claimed and decided on its (still open) transaction, not yet written."""

    writer: EffectWriter
    ids: list[str]
    counts: dict[str, int]


def _decide(conn: Connection, run: _Run) -> _Decided | None:
    rules, now = run.rules, run.now
    # SQLite keeps no statistics and prefers the equality on ``state`` (every open hazard: 145,000 rows at a
    # million stored) to the range on ``next_action_at`` (nothing, in a sweep with nothing due). ``state || ''``
    # can use no index, so the range is read. PostgreSQL's statistics choose the range by themselves.
    state = _H.c.state.concat("") if conn.dialect.name == "sqlite" else _H.c.state
    due = load_hazards_where(
        conn,
        _H.c.next_action_at <= now,
        state.in_(_SWEPT_STATES),
        lock=True,
        skip_locked=True,
        limit=run.batch_size,
        order_by=(_H.c.next_action_at, _H.c.id),
    )
    due = [h for h in due if h.id not in run.seen]
    if not due:
        return None
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
    return _Decided(writer, list(by_id), counts)


def _account(run: _Run, decided: _Decided, notices: int) -> None:
    """Count a batch once it has committed, so a batch that was rolled back and done again counts once."""
    report = run.report
    run.seen.update(decided.ids)
    report.examined += len(decided.ids)
    report.batches += 1
    report.reminders += decided.counts["reminded"]
    report.supervisions += decided.counts["supervised"]
    report.elevations += decided.counts["elevated"]
    report.notices += notices
    if run.progress:
        run.progress(len(decided.ids))


def _sweep_batch(run: _Run) -> int:
    with collector_paused(), unit_of_work(run.engine) as conn:
        decided = _decide(conn, run)
        if decided is None:
            return 0
        notices = decided.writer.flush()
    _account(run, decided, notices)
    return len(decided.ids)


@dataclass
class _Open:
    conn: Connection
    transaction: RootTransaction
    decided: _Decided


def _open_batch(run: _Run) -> _Open | None:
    conn, transaction = open_unit_of_work(run.engine)
    try:
        with collector_paused():
            decided = _decide(conn, run)
    except BaseException:
        conn.close()  # rolls back
        raise
    if decided is None:
        conn.close()
        return None
    return _Open(conn, transaction, decided)


def _write_and_commit(batch: _Open) -> int:
    try:
        with collector_paused():
            notices = batch.decided.writer.flush()
        batch.transaction.commit()
        return notices
    finally:
        batch.conn.close()  # rolls back unless committed


def _pipelined_batches(run: _Run) -> None:
    """Decide batch k+1 while a second thread writes and commits batch k, on two connections. Measured at a
    million stored hazards, about a third of a sweep's time is the server writing; this way the deciding goes on
    meanwhile. Batch k's hazards stay locked until it commits, so claiming batch k+1 with ``SKIP LOCKED`` passes
    them by, and once k has committed they are no longer due. The offices' document sequences are locked only when
    a batch is written (``EffectWriter``), so deciding waits for nothing. A batch whose write fails on a race is
    rolled back whole: its hazards are due again and the next claims take them; after ``_RETRIES`` failures in a
    row the sweep gives up with the error, as a sequential sweep does."""
    failures = 0
    decided: _Open | None = None
    writing: tuple[Future[int], _Open] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-writer") as pool:
        try:
            while True:
                decided = _retrying(lambda: _open_batch(run))
                written = True
                if writing is not None:
                    future, batch = writing
                    writing = None
                    try:
                        notices = future.result()
                    except Exception as exc:
                        failures += 1
                        if failures >= _RETRIES or not retryable(exc):
                            raise
                        written = False
                    else:
                        failures = 0
                        _account(run, batch.decided, notices)
                        run.check_fault()
                if decided is None:
                    if written:
                        return
                    continue  # the batch that failed is due again: claim it afresh
                writing = (pool.submit(_write_and_commit, decided), decided)
                decided = None
        finally:
            if decided is not None:
                decided.conn.close()
            if writing is not None:
                wait([writing[0]])


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

    from hazardloop.models.core.escalation import pending_rungs

    horizon = now + timedelta(days=days)
    with unit_of_work(engine, write=False) as conn:
        hazards = load_hazards_where(conn, _H.c.next_action_at <= horizon, _H.c.state.in_(_SWEPT_STATES))
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
                    "duty": rung.duty,
                    "level": rung.level,
                    "hazard": h.id,
                    "title": h.title,
                    # the unit chased: the responsible unit, or the verifier / deciding unit for their duty
                    "unit": h.unit_code if rung.duty == "rectification" else rules.verifier_of(h).code,
                    "township": h.township_code,
                    "overdue_now": rung.at <= now,
                }
            )
    rows.sort(key=lambda r: (str(r["at"]), str(r["hazard"])))
    return rows
