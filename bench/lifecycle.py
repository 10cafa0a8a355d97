"""Benchmark: N hazards through the full loop (detect → acknowledge → submit → verify, 10 % failing once and
resubmitted, then cleared) through the same code path as `hazardloop apply`, on SQLite and PostgreSQL.

Prints one JSON line per run: events/s, hazards/s, peak RSS, database size; and a per-event mode (one event
per transaction, as an interactive user causes them) with events/s and p50/p99 latency.

    python bench/lifecycle.py --hazards 10000 [--backend sqlite|postgres|both] [--per-event 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.store.db import upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units

CONFIG = Path(__file__).resolve().parents[1] / "config"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def loop_events(n: int, start: datetime, tag: str) -> list[str]:
    """Every hazard's whole life, in time order across hazards (as a day's file would be)."""
    lines: list[str] = []
    townships = ["府山街道", "柯桥街道", "百官街道", "暨阳街道", "剡湖街道", "南明街道"]
    actors = {"府山街道": ("SX-YC-XF", "SX-YC-FS"), "柯桥街道": ("SX-KQ-XF", "SX-KQ-KQ")}
    for i in range(n):
        township = townships[i % 2]
        unit, verifier = actors[township]
        ref = f"{tag}-{i}"
        t0 = start + timedelta(seconds=i)
        hz = json.dumps(
            {
                "ref": ref,
                "title": "电动自行车违规室内充电",
                "description": "楼道内有电动自行车违规充电",
                "field": "fire",
                "severity": "general",
                "township": township,
            },
            ensure_ascii=False,
        )
        stamp = lambda hours, t0=t0: (t0 + timedelta(hours=hours)).isoformat()  # noqa: E731
        lines.append(
            f'{{"type":"hazard.detected","event_id":"{ref}-d","at":"{stamp(0)}","actor":"{verifier}","hazard":{hz}}}'
        )
        lines.append(
            f'{{"type":"hazard.acknowledged","event_id":"{ref}-a","at":"{stamp(1)}","actor":"{unit}","hazard":"{ref}"}}'
        )
        lines.append(
            f'{{"type":"rectification.submitted","event_id":"{ref}-s","at":"{stamp(2)}","actor":"{unit}",'
            f'"hazard":"{ref}","note":"已整改","evidence":["p.jpg"]}}'
        )
        if i % 10 == 0:
            lines.append(
                f'{{"type":"verification.failed","event_id":"{ref}-f","at":"{stamp(3)}","actor":"{verifier}",'
                f'"hazard":"{ref}","reason":"整改不到位"}}'
            )
            lines.append(
                f'{{"type":"rectification.submitted","event_id":"{ref}-s2","at":"{stamp(4)}","actor":"{unit}",'
                f'"hazard":"{ref}","note":"再次整改","evidence":[]}}'
            )
        lines.append(
            f'{{"type":"verification.passed","event_id":"{ref}-p","at":"{stamp(5)}","actor":"{verifier}",'
            f'"hazard":"{ref}","note":"合格"}}'
        )
    return lines


def fresh_db(backend: str, workdir: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: sum(p.stat().st_size for p in workdir.glob(path.name + "*"))
    import psycopg

    name = f"hz_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def size() -> int:
        with psycopg.connect(PG_ADMIN) as conn:
            return conn.execute("select pg_database_size(%s)", (name,)).fetchone()[0]

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", size


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_batch(backend: str, n: int, workdir: Path) -> dict[str, object]:
    url, size = fresh_db(backend, workdir)
    app = bootstrap(db=url, config_dir=CONFIG)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    start = datetime.fromisoformat("2025-03-03T08:00:00+08:00")
    lines = list(enumerate(loop_events(n, start, "B"), start=1))
    now = start + timedelta(days=3)
    began = time.perf_counter()
    report = apply_lines(app.engine, app.rules, lines, source="bench", now=now)
    elapsed = time.perf_counter() - began
    assert not report.rejected and report.applied == len(lines)
    result = {
        "bench": "lifecycle",
        "mode": "batch",
        "backend": backend,
        "hazards": n,
        "events": len(lines),
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(lines) / elapsed),
        "hazards_per_s": round(n / elapsed),
        "notices": report.notices,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "db_mb": round(size() / 2**20, 1),
    }
    app.close()
    drop(url)
    return result


def run_per_event(backend: str, n: int, workdir: Path) -> dict[str, object]:
    url, _ = fresh_db(backend, workdir)
    app = bootstrap(db=url, config_dir=CONFIG)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    start = datetime.fromisoformat("2025-03-03T08:00:00+08:00")
    lines = loop_events(max(1, n // 4), start, "P")[:n]
    now = start + timedelta(days=3)
    latencies = []
    for number, line in enumerate(lines, start=1):
        t0 = time.perf_counter()
        apply_lines(app.engine, app.rules, [(number, line)], source="bench", now=now)
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    total = sum(latencies)
    result = {
        "bench": "lifecycle",
        "mode": "per-event",
        "backend": backend,
        "events": len(lines),
        "events_per_s": round(len(lines) / total),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    app.close()
    drop(url)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--per-event", type=int, default=2000, help="events in per-event mode (0: skip)")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            print(json.dumps(run_batch(backend, args.hazards, Path(tmp))), flush=True)
            if args.per_event:
                print(json.dumps(run_per_event(backend, args.per_event, Path(tmp))), flush=True)
    os.environ.get("HAZARDLOOP_BENCH_QUIET")


if __name__ == "__main__":
    main()
