"""Benchmark: the HTTP API under load. ``hazardloop web`` serves a generated database on loopback; a load generator
in a second process (asyncio + httpx, 50 concurrent clients, authenticated with API tokens) measures the hazard
list and the hazard page (reads/s), single actions (acknowledge, writes/s) with p50/p99 latency, and a 10,000-event
batch POST against ``hazardloop apply`` of the same file. SQLite and PostgreSQL. One JSON line per measurement.

    python bench/api.py [--backend sqlite|postgres|both] [--hazards 20000] [--seconds 10] [--clients 50]
                        [--workers 2] [--batch 10000]

Targets: ≥ 1,000 authenticated reads/s, ≥ 300 writes/s, p99 ≤ 100 ms at 50 clients, batch POST ≤ 1.5 × apply.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CONFIG = REPO / "config"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TOWNSHIPS = ["府山街道", "塔山街道", "北海街道", "柯桥街道", "百官街道", "暨阳街道"]
STAFF_ACTOR = "SX-YC-FS/张三"


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDLOOP_")}
    e["PYTHONPATH"] = str(REPO)
    e["HAZARDLOOP_CONSOLE"] = "false"
    e["HAZARDLOOP_AUTH_FAILURES_PER_MINUTE"] = "1000000"
    e["HAZARDLOOP_BODY_LIMIT"] = str(64 * 1024 * 1024)
    e["PREFECT_LOGGING_LEVEL"] = "WARNING"
    return e


def cli(db: str, *args: str, input: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hazardloop.cli", "--db", db, "--config", str(CONFIG), *args],
        input=input,
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"hazardloop {' '.join(args[:2])} failed: {done.stderr}")
    return done.stdout


def field_of(i: int) -> str:
    """Two thirds of each township's hazards are 'other' (the township answers for them), a third 'fire'."""
    return "other" if (i // len(TOWNSHIPS)) % 3 else "fire"


def detections(n: int, tag: str, start: datetime, township: str | None = None) -> list[str]:
    out = []
    for i in range(n):
        town = township or TOWNSHIPS[i % len(TOWNSHIPS)]
        hz = {
            "ref": f"{tag}-{i}",
            "title": f"楼道堆放杂物 {i}",
            "description": "楼道内堆放杂物，影响疏散",
            "field": field_of(i),
            "severity": "general",
            "township": town,
        }
        at = (start + timedelta(seconds=i)).isoformat()
        out.append(
            json.dumps(
                {"type": "hazard.detected", "event_id": f"{tag}-d-{i}", "at": at, "actor": STAFF_ACTOR, "hazard": hz},
                ensure_ascii=False,
            )
        )
    return out


def generate(db: str, hazards: int, tmp: Path) -> dict[str, str]:
    """A database with ``hazards`` hazards (a third of them acknowledged) and the bench's accounts."""
    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.models.store.db import upgrade
    from hazardloop.models.store.intake import apply_lines
    from hazardloop.models.store.org_sync import sync_units

    app = bootstrap(db=db, config_dir=CONFIG)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    start = datetime.now(UTC) - timedelta(days=60)
    lines = detections(hazards, "G", start)
    lines += [
        json.dumps(
            {
                "type": "hazard.acknowledged",
                "event_id": f"G-a-{i}",
                "hazard": f"G-{i}",
                "actor": "SX-YC-FS",
                "at": (start + timedelta(days=1, seconds=i)).isoformat(),
            }
        )
        for i in range(0, hazards, len(TOWNSHIPS))  # 府山街道's
        if field_of(i) == "other" and (i // len(TOWNSHIPS)) % 3 == 1  # half of its own: acknowledged
    ]
    apply_lines(app.engine, app.rules, list(enumerate(lines, 1)), source="bench", now=datetime.now(UTC))
    app.close()
    tokens = {}
    for login, unit, roles, name in (("city", "SX", "viewer", "市平安办"), ("fs", "SX-YC-FS", "staff", "张三")):
        cli(
            db,
            "users",
            "add",
            login,
            "--unit",
            unit,
            "--role",
            roles,
            "--name",
            name,
            "--password-stdin",
            input="bench password\n",
        )
        tokens[login] = cli(db, "tokens", "create", login).strip().splitlines()[-1]
    return tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebServer:
    def __init__(self, db: str, workers: int, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (tmp / f"web-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hazardloop.cli",
                "--db",
                db,
                "--config",
                str(CONFIG),
                "web",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env(),
            cwd=tmp,
        )
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit("the server did not start")

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its worker processes (from /proc): what a request costs,
        whatever else the shared machine is doing."""
        tick = os.sysconf("SC_CLK_TCK")
        parents: dict[int, int] = {}
        used: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        tree, changed = {self.proc.pid}, True
        while changed:
            grown = tree | {pid for pid, parent in parents.items() if parent in tree}
            changed, tree = grown != tree, grown
        return sum(used.get(pid, 0.0) for pid in tree)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


# --- the load generator (a second process) -----------------------------------------------------------------------


async def _load(url: str, token: str, mode: str, clients: int, seconds: float, ids: list[str]) -> dict[str, object]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    queue = list(ids)
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=300
    ) as client:

        async def worker(n: int) -> None:
            i = n
            while time.perf_counter() < stop_at:
                if mode == "list":
                    request = client.get("/api/v1/hazards", params={"limit": 50, "township": TOWNSHIPS[i % 6]})
                elif mode == "show":
                    request = client.get(f"/api/v1/hazards/{ids[i % len(ids)]}")
                else:
                    if not queue:
                        return
                    request = client.post(f"/api/v1/hazards/{queue.pop()}/acknowledge")
                t0 = time.perf_counter()
                try:
                    status: int | str = (await request).status_code
                except httpx.HTTPError as exc:  # counted, not fatal: a busy server may drop a request
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                i += clients

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    if not latencies:
        return {"requests": 0, "per_second": 0.0, "p50_ms": None, "p99_ms": None, "statuses": statuses}
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)  # noqa: E731
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "statuses": statuses,
    }


def load_main(args: argparse.Namespace) -> None:
    ids = Path(args.ids).read_text().split() if args.ids else []
    result = asyncio.run(_load(args.url, args.token, args.mode, args.clients, args.seconds, ids))
    print(json.dumps(result))


def load(url: str, token: str, mode: str, clients: int, seconds: float, ids: list[str], tmp: Path) -> dict:
    ids_file = tmp / f"ids-{mode}.txt"
    ids_file.write_text("\n".join(ids))
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "load",
            "--url",
            url,
            "--token",
            token,
            "--mode",
            mode,
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
            "--ids",
            str(ids_file),
        ],
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed ({mode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- a run per backend ------------------------------------------------------------------------------------------


def ids_in(db: str, state: str, unit: str | None = None) -> list[str]:
    args = ["hazards", "--json", "--state", state]
    if unit:
        args += ["--unit", unit]
    return [h["id"] for h in json.loads(cli(db, *args))]


def copy_db(backend: str, db: str, tmp: Path, name: str) -> str:
    if backend == "sqlite":
        src = Path(db.removeprefix("sqlite:///"))
        dst = tmp / f"{name}.db"
        shutil.copy(src, dst)
        return f"sqlite:///{dst}"
    import psycopg

    target = f"hzbench_{uuid.uuid4().hex[:8]}"
    source = db.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{source}'")
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{target}"


def run(backend: str, args: argparse.Namespace, tmp: Path) -> None:
    if backend == "sqlite":
        db = f"sqlite:///{tmp / 'bench.db'}"
    else:
        import psycopg

        name = f"hzbench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        db = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    t0 = time.perf_counter()
    tokens = generate(db, args.hazards, tmp)
    base = {
        "bench": "api",
        "backend": backend,
        "hazards": args.hazards,
        "clients": args.clients,
        "workers": args.workers,
        "cpus": os.cpu_count(),
    }
    print(json.dumps({**base, "measure": "generate", "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    batch_file = tmp / "batch.jsonl"
    batch_file.write_text(
        "\n".join(detections(args.batch, "B", datetime.now(UTC) - timedelta(days=2), "府山街道")) + "\n",
        encoding="utf-8",
    )
    apply_db = copy_db(backend, db, tmp, "apply")
    post_db = copy_db(backend, db, tmp, "post")
    shown = ids_in(db, "assigned")[:2000]
    writable = ids_in(db, "assigned", "SX-YC-FS")  # the township answers for them: its staff acknowledges
    server = WebServer(db, args.workers, tmp)
    try:
        for mode, token, ids in (
            ("list", tokens["city"], []),
            ("show", tokens["city"], shown),
            ("write", tokens["fs"], writable),
        ):
            cpu_before = server.cpu_seconds()
            result = load(server.url, token, mode, args.clients, args.seconds, ids, tmp)
            cpu = server.cpu_seconds() - cpu_before
            per_request = cpu * 1000 / max(1, int(result["requests"]))
            result["server_cpu_ms_per_request"] = round(per_request, 2)
            # what the measured CPU cost allows on this machine's cores, had the server them to itself
            result["capacity_per_second_on_idle_cpus"] = round((os.cpu_count() or 1) * 1000 / per_request, 0)
            print(json.dumps({**base, "measure": mode, **result}), flush=True)
    finally:
        server.stop()
    t0 = time.perf_counter()
    cli(apply_db, "apply", str(batch_file))
    apply_seconds = time.perf_counter() - t0
    import httpx

    server = WebServer(post_db, 1, tmp)
    try:
        t0 = time.perf_counter()
        response = httpx.post(
            server.url + "/api/v1/events",
            content=batch_file.read_bytes(),
            headers={"Authorization": f"Bearer {tokens['fs']}", "Content-Type": "application/x-ndjson"},
            timeout=600,
        )
        post_seconds = time.perf_counter() - t0
    finally:
        server.stop()
    print(
        json.dumps(
            {
                **base,
                "measure": "batch",
                "events": args.batch,
                "status": response.status_code,
                "apply_seconds": round(apply_seconds, 2),
                "post_seconds": round(post_seconds, 2),
                "ratio": round(post_seconds / apply_seconds, 2),
            }
        ),
        flush=True,
    )
    if backend == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for url in (db, apply_db, post_db):
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        p = argparse.ArgumentParser()
        p.add_argument("load")
        for name in ("--url", "--token", "--mode", "--ids"):
            p.add_argument(name)
        p.add_argument("--clients", type=int, default=50)
        p.add_argument("--seconds", type=float, default=10)
        load_main(p.parse_args())
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--hazards", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=10000)
    args = p.parse_args()
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        with tempfile.TemporaryDirectory() as tmp:
            run(backend, args, Path(tmp))


if __name__ == "__main__":
    main()
