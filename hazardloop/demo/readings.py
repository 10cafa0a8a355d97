"""The demo's monitoring platform: every point of ``indicators.yaml`` reports every three hours: a value that
mostly stays calm, now and then an incident that rises past the warning threshold (about a third of them past
the breach threshold too) and falls back, and now and then a point that falls silent for a week or two. Each
simulated day's readings go through the real intake (``ingest_lines``), so breaches raise hazards that live
their lives like any other."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from hazardloop.config.bootstrap import App
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.monitoring import ReadingsReport, ingest_lines
from hazardloop.models.store.tables import HazardRow

EVERY_HOURS = 3
# per reading: a point's chance to start an incident, and an incident's chance to go past the breach threshold
# (about 400 incidents and 140 breaches a year over 110 points); a point's chance to fall silent
INCIDENT_CHANCE, BREACH_SHARE, SILENCE_CHANCE = 0.00125, 0.35, 0.00003


class ReadingFeed:
    def __init__(self, app: App, seed: int) -> None:
        self.app, self.rng = app, random.Random(seed * 7 + 1)
        self.points = app.indicators.points
        self.incidents: dict[str, list[float]] = {}  # point -> the levels still to come of its running incident
        self.silent_until: dict[str, date] = {}

    def _level(self, code: str) -> float:
        """0 calm … 1 at the warning threshold … 2 at the breach threshold."""
        rng = self.rng
        ahead = self.incidents.get(code)
        if not ahead and rng.random() < INCIDENT_CHANCE:
            peak = rng.uniform(2.1, 2.6) if rng.random() < BREACH_SHARE else rng.uniform(1.2, 1.8)
            up, hold, down = rng.randint(1, 3), rng.randint(1, 6), rng.randint(2, 4)
            ahead = self.incidents[code] = (
                [peak * (i + 1) / up for i in range(up)]
                + [peak + rng.gauss(0, 0.05) for _ in range(hold)]
                + [peak * (down - i - 1) / down for i in range(down)]
            )
        if ahead:
            return max(0.0, ahead.pop(0))
        return min(0.9, max(0.0, rng.gauss(0.35, 0.15)))

    def lines_for(self, day: date) -> list[tuple[int, str]]:
        rng, tz = self.rng, self.app.policy.tz
        lines = [(1, "point,instant,value")]
        for hour in range(0, 24, EVERY_HOURS):
            at = datetime.combine(day, time(hour), tzinfo=tz).isoformat()
            for p in self.points:
                if self.silent_until.get(p.code, day) > day:
                    continue
                if rng.random() < SILENCE_CHANCE:  # a sensor or an interface fails for a week or two
                    self.silent_until[p.code] = day + timedelta(days=rng.randint(7, 15))
                ind = self.app.indicators.indicator[p.indicator]
                warning = ind.warning if ind.warning is not None else ind.breach
                calm = warning - (ind.breach - warning)
                value = calm + (ind.breach - calm) * self._level(p.code) / 2
                lines.append((len(lines) + 1, f"{p.code},{at},{value:.3f}"))
        return lines

    def feed(self, day: date) -> ReadingsReport:
        app = self.app
        now = datetime.combine(day, time(23, 59, 59), tzinfo=app.policy.tz)
        return ingest_lines(
            app.engine, app.rules, app.indicators, self.lines_for(day), source=f"demo readings {day}", now=now
        )


def raised(app: App, hazard_ids: list[str]) -> list[Any]:
    """The hazards a day's readings raised, for the demo to plan the responsible unit's work on them."""
    if not hazard_ids:
        return []
    h = HazardRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        return list(
            conn.execute(
                select(h.c.ref, h.c.township_code, h.c.field, h.c.severity, h.c.detected_at, h.c.unit_code).where(
                    h.c.id.in_(hazard_ids)
                )
            )
        )
