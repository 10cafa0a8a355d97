"""Benchmark: unattended operation. Prints one JSON line per part.

- ``run``: `hazardloop run` as a real process on SQLite — start-up time (launch to holding the scheduler lease),
  resident memory idle, and resident memory (now and peak) after its sweep of N due hazards (default 100,000).
- ``events`` (with ``--prefect``): a real `prefect server` on loopback and `hazardloop serve`; the time from an
  emitted ``hazard.detected`` event to the hazard in the engine's database, for one event and for a burst, and
  how many intake flow runs the burst cost.

    python bench/unattended.py [--hazards 100000] [--prefect] [--burst 1000] [--window 5] [--settle 6]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from hazardloop.config.bootstrap import bootstrap  # noqa: E402
from hazardloop.models.store.db import upgrade  # noqa: E402
from hazardloop.models.store.intake import apply_lines  # noqa: E402
from hazardloop.models.store.org_sync import sync_units  # noqa: E402

CONFIG = ROOT / "config"
BIN = Path(sys.executable).parent
DETECTED_AT = datetime.fromisoformat("2025-03-03T08:00:00+08:00")
SWEEP_AS_OF = "2025-03-14T09:00:00+08:00"  # every general hazard detected on 03-03 is overdue


def detection(ref: str, at: datetime, township: str) -> dict[str, Any]:
    return {
        "type": "hazard.detected",
        "event_id": f"{ref}-d",
        "at": at.isoformat(),
        "actor": "SX-YC/网格员",
        "hazard": {
            "ref": ref,
            "title": "消防通道堵塞",
            "description": "楼道堆放杂物，堵塞消防通道",
            "field": "fire",
            "severity": "general",
            "township": township,
        },
    }


def vm(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def config_with(folder: Path, schedules: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG / "org.yaml", folder / "org.yaml")
    policy = yaml.safe_load((CONFIG / "policy.yaml").read_text(encoding="utf-8"))
    policy["schedules"] = schedules
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return folder


def start_run(db: str, config: Path, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "HAZARDLOOP_MAIL_DIR": str(log.parent / "outbox"), "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    began = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "hazardloop"), "--db", db, "--config", str(config), "--now", SWEEP_AS_OF, "run"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    while "holding the scheduler lease" not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise SystemExit(f"`run` exited with {process.returncode}:\n{log.read_text()}")
        time.sleep(0.02)
    return process, time.perf_counter() - began


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(60)


def bench_run(hazards: int, workdir: Path) -> dict[str, Any]:
    db = f"sqlite:///{workdir / 'run.db'}"
    app = bootstrap(db=db, config_dir=CONFIG)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    townships = ["SX-YC-FS", "SX-YC-TS", "SX-YC-BH", "SX-YC-CN", "SX-YC-JS"]
    lines = [
        (n, json.dumps(detection(f"U-{n}", DETECTED_AT + timedelta(seconds=n % 3600), townships[n % 5])))
        for n in range(1, hazards + 1)
    ]
    apply_lines(app.engine, app.rules, lines, source="bench", now=DETECTED_AT + timedelta(hours=2))
    app.close()

    # idle: the sweep is scheduled once a year, so nothing runs while we look
    idle_log = workdir / "idle.log"
    process, startup = start_run(db, config_with(workdir / "idle-config", {"sweep": "0 0 1 1 *"}), idle_log)
    time.sleep(5)
    idle = vm(process.pid)
    assert stop(process) == 0

    # a sweep every 20 seconds: wait for the first one to finish
    sweep_log = workdir / "sweep.log"
    process, _ = start_run(db, config_with(workdir / "sweep-config", {"sweep": "*/20 * * * * *"}), sweep_log)
    deadline = time.monotonic() + 900
    while "sweep as of" not in sweep_log.read_text(errors="replace"):
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(sweep_log.read_text())
        time.sleep(0.2)
    after = vm(process.pid)
    line = next(li for li in sweep_log.read_text().splitlines() if "sweep as of" in li)
    assert stop(process) == 0
    return {
        "bench": "unattended",
        "part": "run",
        "backend": "sqlite",
        "hazards": hazards,
        "startup_s": round(startup, 2),
        "idle_rss_mb": idle["VmRSS"],
        "after_sweep_rss_mb": after["VmRSS"],
        "after_sweep_peak_rss_mb": after["VmHWM"],
        "sweep_log": line.split(" INFO ", 1)[-1],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, seconds: float, step: float = 0.05) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        try:
            if predicate():
                return time.perf_counter() - began
        except Exception:
            pass
        time.sleep(step)
    raise SystemExit(f"gave up after {seconds} s")


EMIT = """
import json, sys
from prefect.events import emit_event
for payload in json.load(sys.stdin):
    emit_event(event="hazard.detected", resource={"prefect.resource.id": "hazardloop.source.bench"}, payload=payload)
"""


def bench_events(burst: int, window: float, settle: float, workdir: Path) -> dict[str, Any]:
    import httpx

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(workdir / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "HAZARDLOOP_MAIL_DIR": str(workdir / "outbox"),
    }
    db = f"sqlite:///{workdir / 'events.db'}"
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=(workdir / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    serving = None
    try:
        wait_until(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, 180, 0.5)
        subprocess.run([str(BIN / "hazardloop"), "--db", db, "init"], env=env, check=True, capture_output=True)
        serving = subprocess.Popen(
            [str(BIN / "hazardloop"), "--db", db, "serve", "--window", str(window), "--settle", str(settle)],
            env=env,
            stdout=(workdir / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_until(
            lambda: httpx.get(f"{api}/deployments/name/intake-events/intake-events", timeout=2).status_code == 200,
            120,
            0.5,
        )
        engine = create_engine(db)

        def count() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text("select count(*) from hazards")).scalar_one())

        def emit(payloads: list[dict[str, Any]]) -> None:
            subprocess.run(
                [sys.executable, "-c", EMIT], input=json.dumps(payloads), text=True, env=env, check=True, timeout=600
            )

        now = datetime.now().astimezone()
        began = time.perf_counter()
        emit([detection("EV-ONE", now, "SX-YC-FS")])
        wait_until(lambda: count() == 1, 300)
        single = time.perf_counter() - began
        time.sleep(window + 1)  # let the first window close

        payloads = [detection(f"EV-B-{n}", now, "SX-YC-FS") for n in range(burst)]
        began = time.perf_counter()
        emit(payloads)
        emitted = time.perf_counter() - began
        wait_until(lambda: count() == burst + 1, 900, 0.2)
        whole = time.perf_counter() - began
        runs = httpx.post(
            f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": ["intake-events"]}}}, timeout=10
        ).json()
        engine.dispose()
        return {
            "bench": "unattended",
            "part": "events",
            "window_s": window,
            "settle_s": settle,
            "one_event_to_hazard_s": round(single, 1),
            "burst": burst,
            "burst_emit_s": round(emitted, 1),
            "burst_to_all_hazards_s": round(whole, 1),
            "intake_flow_runs": len(runs),
        }
    finally:
        for process in (serving, server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--prefect", action="store_true", help="also measure event-driven intake on a Prefect server")
    parser.add_argument("--only-events", action="store_true", help="skip the `run` part")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=6.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hz-unattended-") as tmp:
        workdir = Path(tmp)
        if not args.only_events:
            print(json.dumps(bench_run(args.hazards, workdir), ensure_ascii=False), flush=True)
        if args.prefect or args.only_events:
            result = bench_events(args.burst, args.window, args.settle, workdir)
            print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
