"""Benchmark: N hazards through the full loop (detect → acknowledge → submit → verify, 10 % failing once and
resubmitted, then cleared) through the same code path as `hazardloop apply`, on SQLite and PostgreSQL.

Prints one JSON line per run: events/s, hazards/s, peak RSS, database size; and a per-event mode (one event
per transaction, as an interactive user causes them) with events/s and p50/p99 latency.

    python bench/lifecycle.py --hazards 10000 [--backend sqlite|postgres|both] [--per-event 2000]
    python bench/lifecycle.py --compare REV [--rounds 3] [--peers]   # SQLite, side by side in one run

``--compare REV`` checks REV out into a temporary git worktree and runs the same loop (this file's) there and
here, alternating, each run a fresh process with its tree first on the path; it prints both medians, their
ratio and the raw floor (``bench/floor.py``: plain ``sqlite3`` writing the same rows, one transaction per
wave), and with ``--peers`` the peer engines' figures (``bench/peers/``, run ``make bench-peers`` once).
Speed is judged by these ratios: the machines differ by two to three times from day to day.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

# the tree under test: this checkout, or the one ``--compare`` points a child run at
sys.path.insert(0, os.environ.get("HAZARDLOOP_BENCH_TREE") or str(Path(__file__).resolve().parents[1]))

from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.store.db import upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units

TREE = Path(sys.path[0])
CONFIG = TREE / "config"
HERE = Path(__file__).resolve().parents[1]
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


def _code_tree() -> str:
    """Where the engine's code was imported from (a compared run must measure the tree it names)."""
    import hazardloop.models.store.intake as intake

    return str(Path(intake.__file__).resolve().parents[2])


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
    began, began_cpu = time.perf_counter(), time.process_time()
    report = apply_lines(app.engine, app.rules, lines, source="bench", now=now)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    assert not report.rejected and report.applied == len(lines)
    result = {
        "bench": "lifecycle",
        "mode": "batch",
        "backend": backend,
        "hazards": n,
        "events": len(lines),
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(lines) / elapsed),
        # this process's own CPU time: on a machine loaded by others, wall time says more about them than us
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_s": round(len(lines) / cpu),
        "hazards_per_s": round(n / elapsed),
        "notices": report.notices,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "db_mb": round(size() / 2**20, 1),
        "code": _code_tree(),
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
        "code": _code_tree(),
    }
    app.close()
    drop(url)
    return result


def child_run(tree: Path, hazards: int, per_event: int) -> list[dict[str, object]]:
    """One run of this file's loop in a fresh process on ``tree``'s code (SQLite)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "HAZARDLOOP_BENCH_TREE": str(tree)}
    argv = [sys.executable, __file__, "--hazards", str(hazards), "--backend", "sqlite", "--per-event", str(per_event)]
    done = subprocess.run(argv, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the run on {tree} failed:\n{done.stderr[-3000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for r in results:
        if not str(r.get("code", "")).startswith(str(tree)):
            raise SystemExit(f"the run on {tree} imported hazardloop from {r.get('code')}")
    return results


def _median(values: list[float]) -> float:
    return statistics.median(values)


def compare(rev: str, rounds: int, hazards: int, per_event: int, peers: int) -> dict[str, object]:
    """This tree against ``rev``, alternating, ``rounds`` runs each, plus the floor (and the peers) in the same
    run. Ratios are of medians; the per-round ratios show how much the machine drifted meanwhile."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=HERE, capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory(prefix="hz-compare-") as tmp:
        other = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(other), rev], cwd=HERE, check=True, capture_output=True
        )
        try:
            runs: dict[str, list[dict[str, dict[str, object]]]] = {"here": [], "base": []}
            floors: list[dict[str, object]] = []
            for _ in range(rounds):
                for name, tree in (("here", HERE), ("base", other)):
                    results = child_run(tree, hazards, per_event)
                    runs[name].append({str(r["mode"]): r for r in results})
                floors.append(floor_run(hazards))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=HERE, check=False)

    def figures(name: str) -> dict[str, object]:
        batch = [float(r["batch"]["events_per_s"]) for r in runs[name]]
        cpu = [float(r["batch"]["events_per_cpu_s"]) for r in runs[name]]
        out: dict[str, object] = {
            "batch_events_per_s": _median(batch),
            "batch_runs": batch,
            "batch_events_per_cpu_s": _median(cpu),
        }
        if per_event:
            out["per_event_p50_ms"] = _median([float(r["per-event"]["p50_ms"]) for r in runs[name]])
            out["per_event_p99_ms"] = _median([float(r["per-event"]["p99_ms"]) for r in runs[name]])
        return out

    here, base = figures("here"), figures("base")
    floor = _median([float(f["events_per_s"]) for f in floors])
    floor_cpu = _median([float(f["events_per_cpu_s"]) for f in floors])
    report: dict[str, object] = {
        "bench": "lifecycle-compare",
        "hazards": hazards,
        "events": runs["here"][0]["batch"]["events"],
        "rounds": rounds,
        "here": {"rev": "working tree", **here},
        "base": {"rev": sha.stdout.strip(), **base},
        "batch_ratio": round(float(here["batch_events_per_s"]) / float(base["batch_events_per_s"]), 2),
        "batch_cpu_ratio": round(float(here["batch_events_per_cpu_s"]) / float(base["batch_events_per_cpu_s"]), 2),
        "batch_ratio_per_round": [
            round(a / b, 2)
            for a, b in zip(here["batch_runs"], base["batch_runs"], strict=True)  # type: ignore[arg-type]
        ],
        "floor": {
            "events_per_s": floor,
            "runs": [f["events_per_s"] for f in floors],
            "events_per_cpu_s": floor_cpu,
            "what": floors[0]["what"],
        },
        "here_vs_floor": round(float(here["batch_events_per_s"]) / floor, 3),
        "base_vs_floor": round(float(base["batch_events_per_s"]) / floor, 3),
        "here_vs_floor_cpu": round(float(here["batch_events_per_cpu_s"]) / floor_cpu, 3),
        "base_vs_floor_cpu": round(float(base["batch_events_per_cpu_s"]) / floor_cpu, 3),
    }
    if per_event:
        report["per_event_p50_ratio"] = round(float(here["per_event_p50_ms"]) / float(base["per_event_p50_ms"]), 2)
        report["per_event_p99_ratio"] = round(float(here["per_event_p99_ms"]) / float(base["per_event_p99_ms"]), 2)
    if peers:
        report["peers"] = peer_runs(peers, float(here["batch_events_per_s"]))
    return report


def floor_run(hazards: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(HERE), "HAZARDLOOP_BENCH_TREE": str(HERE)}
    argv = [sys.executable, str(HERE / "bench" / "floor.py"), "--hazards", str(hazards)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


PEERS = {
    "spiffworkflow": (HERE / "bench/peers/.venv-spiff/bin/python", HERE / "bench/peers/spiff_loop.py"),
    "dbos": (HERE / "bench/peers/.venv-dbos/bin/python", HERE / "bench/peers/dbos_loop.py"),
}


def peer_runs(hazards: int, ours: float) -> dict[str, object]:
    """Each peer engine once on the same loop, in its own venv (``make bench-peers`` creates them). The peers
    are two orders of magnitude slower: they run fewer hazards (``--peer-hazards``) and their rate is compared."""
    out: dict[str, object] = {}
    for name, (python, script) in PEERS.items():
        if not python.exists():
            out[name] = {"error": f"{python} missing: run `make bench-peers` first"}
            continue
        done = subprocess.run(
            [str(python), str(script), "--hazards", str(hazards)], capture_output=True, text=True, check=False
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            out[name] = {"error": done.stderr[-1500:]}
            continue
        figure = json.loads(lines[-1])
        figure["ours_ratio"] = round(ours / float(figure["events_per_s"]), 1)
        out[name] = figure
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--per-event", type=int, default=2000, help="events in per-event mode (0: skip)")
    parser.add_argument("--compare", metavar="REV", help="run this tree and REV alternately (SQLite), print ratios")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tree with --compare")
    parser.add_argument("--peers", action="store_true", help="also run the peer engines (bench/peers/)")
    parser.add_argument("--peer-hazards", type=int, default=500, help="hazards the peer engines run")
    args = parser.parse_args()
    if args.compare:
        peers = args.peer_hazards if args.peers else 0
        print(json.dumps(compare(args.compare, args.rounds, args.hazards, args.per_event, peers)), flush=True)
        return
    if args.peers:
        ours = run_batch("sqlite", args.hazards, Path(tempfile.mkdtemp()))
        floor = floor_run(args.hazards)
        print(
            json.dumps(
                {"ours": ours, "floor": floor, "peers": peer_runs(args.peer_hazards, float(ours["events_per_s"]))}
            )
        )
        return
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            print(json.dumps(run_batch(backend, args.hazards, Path(tmp))), flush=True)
            if args.per_event:
                print(json.dumps(run_per_event(backend, args.per_event, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
