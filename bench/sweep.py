"""Benchmark: the escalation sweep over a large store. N stored hazards (default 1,000,000), of which D are due
(default 50,000): one sweep, then sweeps with nothing due, then `preview --days 7`. Prints one JSON line per
backend with times and the rows read and written. After loading, the store is settled as it is in service
(``settle``: vacuumed, analysed and checkpointed) before anything is timed.

The sweeps with nothing due come after the first sweep has evaluated the township figures, as in production
(the scheduler sweeps every 15 minutes): one at the same instant (`idle_sweep_ms`), one at the next tick
(`next_tick_sweep_ms`), each with whether it had to evaluate the figures again, and then one that is made to
evaluate them (the mark forgotten: `idle_full_evaluation_ms`, what every idle sweep cost before the mark).

    python bench/sweep.py [--stored 1000000] [--due 50000] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lifecycle import CONFIG, drop, fresh_db
from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.core.escalation import next_action_at
from hazardloop.models.core.hazard import HAZARD_COLUMNS, Hazard
from hazardloop.models.store.bulk import bulk_insert
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.listing import forget_evaluation
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.sweep import preview, sweep
from hazardloop.models.store.tables import HazardRow


def populate(app: object, stored: int, due: int, now: datetime) -> None:
    """Hazards written straight to the table as the rules would have left them: most closed or not yet due."""
    rules = app.rules  # type: ignore[attr-defined]
    townships = [u for u in app.tree.townships() if u.level == "township"]  # type: ignore[attr-defined]
    table = HazardRow.__table__
    batch: list[dict[str, object]] = []
    with unit_of_work(app.engine) as conn:  # type: ignore[attr-defined]
        for i in range(stored):
            township = townships[i % len(townships)]
            is_due = i < due
            detected = now - timedelta(days=30 if is_due else (i % 300) + 1)
            h = Hazard(
                id=f"HZ-B-{i:07d}",
                ref=f"B-{i}",
                title="隐患",
                description="基准测试隐患",
                field="other",
                severity="general",
                township_code=township.code,
                county_code=township.parent,
                detected_at=detected,
                reporter="bench",
            )
            if not is_due and i % 10:
                h.state, h.cleared_at, h.closed_at = (
                    "cleared",
                    detected + timedelta(days=3),
                    detected + timedelta(days=3),
                )
                rules.assign(h, township, detected)
                h.next_action_at = None
            else:
                h.state = "rectifying"
                rules.assign(h, township, detected if is_due else now - timedelta(days=i % 9, hours=1))
                h.acknowledged_at = detected
                h.ack_reminded_seq = h.assignment_seq
                if not is_due:
                    h.reminded_seq = h.deadline_seq  # so nothing is due for these
                h.next_action_at = next_action_at(rules, h)
            h.version, h.updated_at = 1, now
            batch.append(h.__dict__)
            if len(batch) == 20000:
                bulk_insert(conn, table, batch, HAZARD_COLUMNS)
                batch = []
        bulk_insert(conn, table, batch, HAZARD_COLUMNS)


def settle(engine: Engine) -> None:
    """Leave the store as a sweep finds it in service, where the scheduler sweeps a table that has long been
    written, vacuumed and checkpointed: not seconds after a million-row bulk load, with the load's checkpoint
    and PostgreSQL's autovacuum of the new table competing with the sweep for this machine's two cores."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if engine.dialect.name == "postgresql":
            raw.autocommit = True  # type: ignore[union-attr]
            raw.execute("VACUUM ANALYZE hazards")  # type: ignore[union-attr]
            raw.execute("CHECKPOINT")  # type: ignore[union-attr]
            raw.autocommit = False  # type: ignore[union-attr]
        else:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]


def run(backend: str, stored: int, due: int, workdir: Path) -> dict[str, object]:
    url, size = fresh_db(backend, workdir)
    app = bootstrap(db=url, config_dir=CONFIG)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    now = datetime.fromisoformat("2025-06-16T09:00:00+08:00")
    t0 = time.perf_counter()
    populate(app, stored, due, now)
    settle(app.engine)
    populate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = sweep(app.engine, app.rules, now)
    sweep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    idle = sweep(app.engine, app.rules, now)
    idle_s = time.perf_counter() - t0
    tick = now + timedelta(minutes=15)  # no deadline falls between: they are all at 23:59:59 local time
    t0 = time.perf_counter()
    next_tick = sweep(app.engine, app.rules, tick)
    next_tick_s = time.perf_counter() - t0
    with unit_of_work(app.engine) as conn:
        forget_evaluation(conn)
    t0 = time.perf_counter()
    forced = sweep(app.engine, app.rules, tick)
    forced_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = preview(app.engine, app.rules, now, 7)
    preview_s = time.perf_counter() - t0
    result = {
        "bench": "sweep",
        "backend": backend,
        "stored": stored,
        "due": due,
        "populate_s": round(populate_s, 1),
        "sweep_s": round(sweep_s, 2),
        "rows_read": report.examined,
        "transitions_written": report.reminders + report.supervisions + report.elevations,
        "notices_written": report.notices,
        "townships_listed": len(report.listed),
        "idle_sweep_ms": round(idle_s * 1000, 1),
        "idle_rows_read": idle.examined,
        "idle_figures_evaluated": idle.figures_evaluated,
        "next_tick_sweep_ms": round(next_tick_s * 1000, 1),
        "next_tick_figures_evaluated": next_tick.figures_evaluated,
        "idle_full_evaluation_ms": round(forced_s * 1000, 1),
        "idle_full_evaluation_rows_read": forced.examined,
        "preview_7d_s": round(preview_s, 2),
        "preview_rows": len(rows),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "db_mb": round(size() / 2**20, 1),
    }
    app.close()
    drop(url)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=50_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
            print(json.dumps(run(backend, args.stored, args.due, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
