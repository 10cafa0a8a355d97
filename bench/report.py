"""Benchmark: the monthly analysis over a large audit trail. N hazards (default 1,000,000) with their whole
histories (detected, routed, acknowledged, submitted, verified; some returned once, some still open, some
overdue) are written straight to the tables across 2025, then the monthly report of 2025-09 is built for the
city and every county. Prints one JSON line per backend.

    python bench/report.py [--hazards 1000000] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lifecycle import CONFIG, drop, fresh_db
from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.core.hazard import HAZARD_COLUMNS, Hazard
from hazardloop.models.store.bulk import bulk_insert
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.repository import _TRANSITION_COLUMNS
from hazardloop.models.store.tables import HazardRow, TransitionRow


def populate(app: object, n: int) -> int:
    rules, tree = app.rules, app.tree  # type: ignore[attr-defined]
    rng = random.Random(7)
    townships = tree.townships()
    fields = list(rules.policy.fields)
    start = datetime.fromisoformat("2025-01-01T08:00:00+08:00")
    recorded = datetime.fromisoformat("2026-01-01T00:00:00+08:00")
    hazards: list[dict[str, object]] = []
    transitions: list[dict[str, object]] = []
    written = 0

    def tr(h: Hazard, action: str, frm: str | None, to: str, at: datetime, **details: object) -> None:
        transitions.append(
            {
                "hazard_id": h.id,
                "township_code": h.township_code,
                "action": action,
                "from_state": frm,
                "to_state": to,
                "level": None,
                "at": at,
                "recorded_at": recorded,
                "actor": "bench",
                "event_id": None,
                "reason": None,
                "cause_key": None,
                "details": details,
            }
        )

    with unit_of_work(app.engine) as conn:  # type: ignore[attr-defined]
        for i in range(n):
            township = townships[i % len(townships)]
            detected = start + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
            h = Hazard(
                id=f"HZ-R-{i:07d}",
                ref=f"R-{i}",
                title="隐患",
                description="基准",
                field=rng.choice(fields),
                severity="major" if i % 25 == 0 else "general",
                township_code=township.code,
                county_code=tree.county_of(township.code).code if tree.county_of(township.code) else None,
                detected_at=detected,
                reporter="bench",
            )
            tr(h, "hazard.detected", None, "detected", detected)
            unit = tree.route(h.field, township.code)
            h.state = "assigned"
            rules.assign(h, unit, detected)
            tr(h, "routed", "detected", "assigned", detected, unit=unit.code, due_at=h.due_at.isoformat())
            ack = detected + timedelta(hours=rng.randint(1, 30))
            h.state, h.acknowledged_at = "rectifying", ack
            tr(h, "hazard.acknowledged", "assigned", "rectifying", ack)
            fate = rng.random()
            if fate > 0.03:
                submitted = ack + timedelta(days=rng.randint(1, 14))
                tr(h, "rectification.submitted", "rectifying", "pending_verification", submitted)
                verified = submitted + timedelta(days=1)
                if fate < 0.12:
                    tr(h, "verification.failed", "pending_verification", "rectifying", verified)
                    h.rework_count = 1
                    submitted = verified + timedelta(days=3)
                    tr(h, "rectification.submitted", "rectifying", "pending_verification", submitted)
                    verified = submitted + timedelta(days=1)
                tr(h, "verification.passed", "pending_verification", "cleared", verified)
                h.state, h.cleared_at, h.closed_at = "cleared", verified, verified
            h.version, h.updated_at, h.next_action_at = 1, recorded, None
            hazards.append(h.__dict__)
            if len(hazards) == 20000:
                bulk_insert(conn, HazardRow.__table__, hazards, HAZARD_COLUMNS)
                bulk_insert(conn, TransitionRow.__table__, transitions, _TRANSITION_COLUMNS)
                written += len(transitions)
                hazards, transitions = [], []
        bulk_insert(conn, HazardRow.__table__, hazards, HAZARD_COLUMNS)
        bulk_insert(conn, TransitionRow.__table__, transitions, _TRANSITION_COLUMNS)
        written += len(transitions)
    return written


def run(backend: str, n: int, workdir: Path) -> dict[str, object]:
    from hazardloop.flows.reports import build
    from hazardloop.models.core.figures import report_scopes
    from hazardloop.models.core.periods import resolve_period

    url, size = fresh_db(backend, workdir)
    app = bootstrap(db=url, config_dir=CONFIG)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    t0 = time.perf_counter()
    transitions = populate(app, n)
    if backend == "postgres":
        with app.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    else:
        with app.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    populate_s = time.perf_counter() - t0
    now = datetime.fromisoformat("2025-10-01T08:00:00+08:00")
    period = resolve_period("monthly", now, app.policy.tz)
    t0 = time.perf_counter()
    figures = build(app.engine, app.rules, period, report_scopes(app.rules))
    build_s = time.perf_counter() - t0
    city = figures[app.tree.city.code]
    result = {
        "bench": "report",
        "backend": backend,
        "hazards": n,
        "transitions": transitions,
        "period": period.label,
        "scopes": len(figures),
        "populate_s": round(populate_s, 1),
        "build_s": round(build_s, 2),
        "new": city.get("totals", {}).get("new"),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "db_mb": round(size() / 2**20, 1),
    }
    app.close()
    drop(url)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
            print(json.dumps(run(backend, args.hazards, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
