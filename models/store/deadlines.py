"""Provisional deadlines: a deadline that runs into a year whose holiday schedule is not published is counted
on weekdays and marked provisional; once a newer calendar is installed, recompute them from the original
assignment (or last extension) instant and working-day count. Listings in force are recomputed the same way from
the instant the township was listed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select, update

from hazardloop.models.core.calendar import end_of_day
from hazardloop.models.core.escalation import next_action_at
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.listing import forget_evaluation
from hazardloop.models.store.repository import load_hazards_where, update_hazards
from hazardloop.models.store.tables import HazardRow, ListingRow

_H = HazardRow.__table__
_L = ListingRow.__table__


def recompute_provisional(engine: Engine, rules: Rules, now: datetime) -> dict[str, int]:
    examined = changed = still = 0
    with unit_of_work(engine) as conn:
        hazards = load_hazards_where(conn, _H.c.deadline_provisional.is_(True), lock=True)
        dirty = []
        for h in hazards:
            if h.due_at is None or h.deadline_set_at is None:
                continue
            examined += 1
            start = rules.local_day(h.deadline_set_at)
            old_due = rules.local_day(h.due_at)
            # The same number of working days as was counted when the deadline was set, on today's calendar.
            new_due = rules.calendar.add_working_days(start, h.deadline_days)
            provisional = rules.calendar.span_provisional(start, new_due)
            if new_due != old_due or provisional != h.deadline_provisional:
                h.due_at = end_of_day(new_due, rules.policy.tz)
                h.deadline_provisional = provisional
                h.next_action_at = next_action_at(rules, h)
                dirty.append(h)
                changed += new_due != old_due
            still += provisional
        update_hazards(conn, dirty, now)
        if dirty:
            # deadlines moved without a transition: the township figures' mark cannot vouch for them any more
            forget_evaluation(conn)
        # listings in force: the same count of working days from the day the township was listed
        listings = conn.execute(
            select(_L.c.id, _L.c.listed_at, _L.c.deadline, _L.c.deadline_days).where(
                _L.c.deadline_provisional.is_(True), _L.c.delisted_at.is_(None)
            )
        ).all()
        for row in listings:
            examined += 1
            start = rules.local_day(row.listed_at)
            new_due = rules.calendar.add_working_days(start, row.deadline_days)
            provisional = rules.calendar.span_provisional(start, new_due)
            moved = row.deadline is None or rules.local_day(row.deadline) != new_due
            conn.execute(
                update(_L)
                .where(_L.c.id == row.id)
                .values(deadline=end_of_day(new_due, rules.policy.tz), deadline_provisional=provisional)
            )
            changed += moved
            still += provisional
    return {"examined": examined, "changed": changed, "still_provisional": still}
