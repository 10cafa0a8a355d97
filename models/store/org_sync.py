"""Loading the organisation from ``org.yaml`` into the ``units`` table. Idempotent: a second run with the same
file changes nothing; units that left the file are kept (hazards point at them) but marked inactive."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from hazardloop.models.core.policy import Org
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.tables import UnitRow

_U = UnitRow.__table__


@dataclass
class SyncReport:
    added: int = 0
    changed: int = 0
    deactivated: int = 0
    unchanged: int = 0


def sync_units(engine: Engine, org: Org) -> SyncReport:
    report = SyncReport()
    with unit_of_work(engine) as conn:
        existing = {r.code: r for r in conn.execute(select(_U))}
        wanted = {
            u.code: {
                "code": u.code,
                "name": u.name,
                "level": u.level,
                "parent": u.parent,
                "short": u.short,
                "emails": list(u.emails),
                "fields": list(u.fields),
                "active": True,
            }
            for u in org.units
        }
        # A unit that left the file keeps its row (hazards point at it), inactive, its code after its name so that
        # lists tell it from a unit of the file that took its name.
        for code, row in existing.items():
            if code not in wanted and row.active:
                conn.execute(update(_U).where(_U.c.code == code).values(active=False, name=f"{row.name} ({code})"))
                report.deactivated += 1
        for code, values in wanted.items():
            row = existing.get(code)
            if row is None:
                conn.execute(insert(_U).values(**values))
                report.added += 1
            elif {k: getattr(row, k) for k in values} != values:
                conn.execute(update(_U).where(_U.c.code == code).values(**values))
                report.changed += 1
            else:
                report.unchanged += 1
    return report
