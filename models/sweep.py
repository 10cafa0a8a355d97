"""The escalation sweep: reminders, supervision and elevation for the hazards that are due, then the
township figures for listing. Reads only hazards whose next-action instant has passed (indexed), in
batches, each batch one transaction; on PostgreSQL batches are claimed with ``FOR UPDATE SKIP LOCKED`` so
several sweepers share the work. Unique cause keys make a doubled sweep harmless."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from models import listing
from models.db import unit_of_work
from models.escalation import sweep_hazard
from models.intake import EffectWriter
from models.lifecycle import CLOCK_RUNNING
from models.repository import load_hazards_where
from models.rules import Rules
from models.store import HazardRow

_H = HazardRow.__table__


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
        with unit_of_work(engine) as conn:
            due = load_hazards_where(
                conn,
                _H.c.next_action_at <= now,
                _H.c.state.in_([str(s) for s in CLOCK_RUNNING]),
                lock=True,
                skip_locked=True,
                limit=batch_size,
                order_by=(_H.c.next_action_at, _H.c.id),
            )
            due = [h for h in due if h.id not in seen]
            if not due:
                break
            writer = EffectWriter(conn, rules, now)
            by_id = {h.id: h for h in due}
            for h in due:
                seen.add(h.id)
                effects = sweep_hazard(rules, h, now)
                writer.touch(h)
                writer.record(effects, by_id)
                for t in effects.transitions:
                    report.reminders += t.action == "reminded"
                    report.supervisions += t.action == "supervised"
                    report.elevations += t.action == "elevated"
            report.notices += writer.flush()
            report.examined += len(due)
            report.batches += 1
        if progress:
            progress(len(due))
        if fault_after_batches is not None and report.batches >= fault_after_batches:
            raise RuntimeError(f"injected fault after {report.batches} batch(es)")
    with unit_of_work(engine) as conn:
        writer = EffectWriter(conn, rules, now)
        outcome = listing.sweep_listings(conn, rules, now, writer)
        report.notices += writer.flush()
    report.listed, report.delist_proposed = outcome["listed"], outcome["delist_proposed"]
    return report


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
