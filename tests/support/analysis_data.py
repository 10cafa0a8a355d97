"""A generated data set of hazards with known histories, applied week by week through the intake service with
the escalation sweep run after every week: the analysis, the ledger and the report tests count on it."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.models.core.figures import Scope, report_scopes
from hazardloop.models.core.periods import Period
from hazardloop.models.store.analysis import build_figures
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.sweep import sweep
from tests.support.factories import detected, event
from tests.support.fixtures import CONFIG_DIR

TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2025, 6, 2)
LAST_DETECTION = date(2025, 10, 24)
CUTOFF = datetime(2025, 10, 1, 8, 0, tzinfo=TZ)  # the reports of the periods ending by Sept 30 are built here
FINAL = datetime(2025, 11, 3, 0, 0, tzinfo=TZ)
EARLY_PERIODS = [("monthly", "2025-09"), ("weekly", "2025-W39"), ("daily", "2025-09-30"), ("quarterly", "2025-Q3")]
CHECKED_PERIODS = [
    ("monthly", "2025-09"),
    ("monthly", "2025-10"),
    ("weekly", "2025-W38"),
    ("daily", "2025-09-15"),
    ("quarterly", "2025-Q3"),
]
CHECKED_TOWNSHIP = "SX-YC-FS"


# --- the generated data set ----------------------------------------------------------------------------


def _iso(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat()


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=int(rng.uniform(low, high) * 3600))


def generate(app: App, n: int, seed: int) -> list[dict[str, Any]]:
    """Events of ``n`` hazards with varied histories: invalid reports, manual escalations, reassignments,
    never-acknowledged ones, extensions granted and refused, rework, hazards left rectifying or waiting for
    verification; plus township listings and delistings by the city. Deterministic for a seed."""
    rng = random.Random(seed)
    tree = app.tree
    towns = sorted(tree.townships(), key=lambda u: u.code)
    towns = [u for u in towns if u.code == CHECKED_TOWNSHIP] + rng.sample(
        [u for u in towns if u.code != CHECKED_TOWNSHIP], 29
    )
    fields = list(app.policy.fields)
    days = (LAST_DETECTION - FIRST_DAY).days
    out: list[dict[str, Any]] = []
    for i in range(n):
        ref = f"GEN-{seed}-{i:05d}"
        town = rng.choice(towns)
        county = tree.county_of(town.code)
        assert county is not None
        fld = rng.choice(fields)
        severity = "major" if rng.random() < 0.1 else "general"
        day = FIRST_DAY + timedelta(days=rng.randrange(days + 1))
        t0 = datetime(day.year, day.month, day.day, 8, 0, tzinfo=TZ) + _hours(rng, 0, 9)
        unit = tree.route(fld, town.code).code
        evs = [detected(ref, _iso(t0), field=fld, severity=severity, township=town.code, actor=f"{town.code}/网格员")]
        if rng.random() < 0.05:
            evs.append(
                event("hazard.invalidated", ref, _iso(t0 + _hours(rng, 1, 72)), town.code, reason="经核实不属实")
            )
            out.extend(evs)
            continue
        if rng.random() < 0.03:
            evs.append(
                event(
                    "hazard.escalated", ref, _iso(t0 + timedelta(hours=1)), county.code, to="county", reason="重点关注"
                )
            )
        if unit != town.code and rng.random() < 0.05:
            evs.append(
                event(
                    "hazard.reassigned",
                    ref,
                    _iso(t0 + timedelta(hours=2)),
                    county.code,
                    unit=town.code,
                    reason="职责调整",
                )
            )
            unit = town.code
        verifier = town.code if unit != town.code else county.code
        if rng.random() < 0.08:  # never acknowledged
            out.extend(evs)
            continue
        t = t0 + _hours(rng, 3, 96)
        evs.append(event("hazard.acknowledged", ref, _iso(t), unit))
        if rng.random() < 0.12:
            t += _hours(rng, 24, 120)
            evs.append(event("extension.requested", ref, _iso(t), unit, days=rng.randint(3, 10), reason="施工周期长"))
            t += _hours(rng, 4, 48)
            approved = rng.random() < 0.7
            evs.append(event("extension.decided", ref, _iso(t), verifier, approved=approved, reason="审批"))
        if rng.random() < 0.02:
            evs.append(event("hazard.invalidated", ref, _iso(t + _hours(rng, 2, 48)), town.code, reason="重复上报"))
            out.extend(evs)
            continue
        if rng.random() < 0.15:  # still rectifying
            out.extend(evs)
            continue
        t += _hours(rng, 24, 24 * 25)
        evs.append(event("rectification.submitted", ref, _iso(t), unit, note="已整改", evidence=["photo.jpg"]))
        if rng.random() < 0.08:  # waiting for verification
            out.extend(evs)
            continue
        if rng.random() < 0.18:
            t += _hours(rng, 4, 72)
            evs.append(event("verification.failed", ref, _iso(t), verifier, reason="整改不到位"))
            if rng.random() < 0.2:
                out.extend(evs)
                continue
            t += _hours(rng, 24, 24 * 8)
            evs.append(event("rectification.submitted", ref, _iso(t), unit, note="再次整改", evidence=[]))
        t += _hours(rng, 4, 72)
        evs.append(event("verification.passed", ref, _iso(t), verifier, note="核查合格"))
        out.extend(evs)
    day = FIRST_DAY + timedelta(days=3)
    while day < LAST_DETECTION:
        town = rng.choice(towns)
        listed_at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=TZ)
        out.append(
            {"type": "township.listed", "event_id": f"lst-{seed}-{day}", "at": _iso(listed_at),
             "actor": "SX/市平安办", "township": town.code, "reason": "隐患整改推进缓慢"}
        )  # fmt: skip
        out.append(
            {
                "type": "township.delisted",
                "event_id": f"dls-{seed}-{day}",
                "at": _iso(listed_at + timedelta(days=10)),
                "actor": "SX/市平安办",
                "township": town.code,
                "reason": "整改到位",
                "force": True,
            }
        )  # fmt: skip  (forced: whatever the random hazards of the township are doing ten days on)
        day += timedelta(days=13)
    return [e for e in out if datetime.fromisoformat(e["at"]) <= FINAL - timedelta(days=1)]


@dataclass
class Loaded:
    app: App
    events: int
    rejected: int
    early: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)


def scopes_of(app: App) -> list[Scope]:
    unit = app.tree.get(CHECKED_TOWNSHIP)
    return [*report_scopes(app.rules), Scope(unit.code, unit.name, "township")]


def load(url: str, n: int, seed: int, early: bool = True) -> Loaded:
    """Apply the generated events week by week (the sweep runs at the end of every week), building the
    reports of the periods that ended by ``CUTOFF`` at ``CUTOFF``."""
    app = bootstrap(db=url, config_dir=CONFIG_DIR)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    events = generate(app, n, seed)
    order = sorted(range(len(events)), key=lambda i: (datetime.fromisoformat(events[i]["at"]), i))
    monday = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=TZ) + timedelta(days=7)
    bounds = []
    while monday <= FINAL:
        bounds.append(monday)
        monday += timedelta(days=7)
    bounds = sorted({*bounds, CUTOFF})
    loaded = Loaded(app, len(events), 0)
    pos, previous = 0, None
    for bound in bounds:
        chunk = []
        while pos < len(order) and datetime.fromisoformat(events[order[pos]]["at"]) <= bound:
            chunk.append(events[order[pos]])
            pos += 1
        assert previous is None or all(datetime.fromisoformat(e["at"]) > previous for e in chunk)
        lines = [(i + 1, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(chunk)]
        report = apply_lines(app.engine, app.rules, lines, source="generated", now=bound, partial=True)
        loaded.rejected += len(report.rejected)
        # only the city's manual listings of townships the sweep had already listed may be refused
        assert all("listed supervision" in p.message for p in report.rejected), report.rejected
        sweep(app.engine, app.rules, bound)
        if early and bound == CUTOFF:
            for kind, label in EARLY_PERIODS:
                with unit_of_work(app.engine, write=False) as conn:
                    loaded.early[(kind, label)] = build_figures(
                        conn, app.rules, Period.parse(kind, label), scopes_of(app)
                    )
        previous = bound
    assert pos == len(order)
    return loaded
