"""The distributed mode against a real Prefect server: `prefect server start` on loopback, the deployments
served by `hazardloop serve`, and the outside world acting only as users and other systems do — through
`prefect deployment run` and `emit_event`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR, Cli, write_events

BIN = Path(sys.executable).parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Served:
    api: str
    env: dict[str, str]
    cli: Cli
    logs: Path

    def prefect(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "prefect"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def flow_run(self, run_id: str) -> dict[str, Any]:
        return httpx.get(f"{self.api}/flow_runs/{run_id}", timeout=10).json()

    def hazards(self) -> dict[str, dict[str, Any]]:
        return {h["ref"]: h for h in self.cli.export()["hazards"]}

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.logs.glob("*.log"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate: Any, seconds: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(step)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        # the server stores received events every second (default 5 s), so a short intake window suffices
        "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "HAZARDLOOP_MAIL_DIR": str(root / "outbox"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HAZARDLOOP_SMTP_URL", None)
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=(root / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    serving = None
    try:
        assert _wait(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, 120), (
            root / "server.log"
        ).read_text()
        db = f"sqlite:///{root / 'engine.db'}"
        cli = Cli(db, root)
        cli.ok("init")
        command = [sys.executable, "-m", "hazardloop.cli", "--db", db, "--config", str(CONFIG_DIR), "serve"]
        serving = subprocess.Popen(
            [*command, "--window", "1", "--settle", "2"],
            env=env,
            stdout=(root / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        names = ["escalate/escalate", "supervise/supervise", "delist/delist", "intake-events/intake-events"]
        assert _wait(
            lambda: all(httpx.get(f"{api}/deployments/name/{n}", timeout=5).status_code == 200 for n in names), 90
        ), (root / "serve.log").read_text()
        yield Served(api, env, cli, root)
    finally:
        # both told to stop at once, then waited for: each takes its time to shut down, no longer one after the other
        for process in (serving, server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
        if serving is not None:
            _stop(serving)
        _stop(server)


def _lately() -> tuple[str, str]:
    """A detection an hour ago and the instant it is applied, on the wall clock: the served sweep runs every quarter
    hour at the real time, and would escalate a hazard dated long ago to the city in the middle of a test."""
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    return (now - timedelta(hours=1)).isoformat(), now.isoformat()


def _run_id(output: str) -> str:
    match = re.search(r"UUID: ([0-9a-f-]{36})", output)
    assert match, output
    return match.group(1)


def test_served_deployments_carry_the_policy_schedules_and_the_event_trigger(served: Served) -> None:
    sweep = httpx.get(f"{served.api}/deployments/name/escalation-sweep/escalation-sweep", timeout=10).json()
    crons = [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in sweep["schedules"]]
    assert crons == [("*/15 * * * *", "Asia/Shanghai")]
    escalate = httpx.get(f"{served.api}/deployments/name/escalate/escalate", timeout=10).json()
    assert escalate["enforce_parameter_schema"] is True
    assert escalate["parameter_openapi_schema"]["properties"]["to"]["enum"] == ["township", "county", "city"]
    automations = httpx.post(f"{served.api}/automations/filter", json={}, timeout=10).json()
    intake = httpx.get(f"{served.api}/deployments/name/intake-events/intake-events", timeout=10).json()
    triggers = [a["trigger"] for a in automations if a["actions"][0].get("deployment_id") == intake["id"]]
    assert triggers and triggers[0]["posture"] == "Reactive" and triggers[0]["threshold"] == 1
    assert "hazard.*" in triggers[0]["expect"]


def test_a_supervisor_escalates_through_a_deployment_and_a_bad_parameter_is_rejected(served: Served) -> None:
    found, now = _lately()
    events = write_events(served.logs / "srv-esc.jsonl", [detected("SRV-ESC", found)])
    served.cli.ok("apply", str(events), now=now)

    bad = served.prefect(
        "deployment", "run", "escalate/escalate", "-p", "hazard=SRV-ESC", "-p", "to=province", "-p", "reason=x",
        "-p", "actor=SX-YC",
    )  # fmt: skip
    assert bad.returncode != 0
    assert "'province' is not one of ['township', 'county', 'city']" in bad.stdout + bad.stderr
    assert served.hazards()["SRV-ESC"]["level"] == "none"

    good = served.prefect(
        "deployment", "run", "escalate/escalate", "-p", "hazard=SRV-ESC", "-p", "to=county",
        "-p", "reason=逾期未整改，提级督办", "-p", "actor=SX-YC/张科长", "--watch", "--watch-timeout", "120",
    )  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr + served.tail()
    hazard = served.hazards()["SRV-ESC"]
    assert hazard["level"] == "county"
    steps = [t for t in served.cli.export()["transitions"] if t["hazard"] == hazard["id"]]
    assert [t["actor"] for t in steps if t["action"] == "hazard.escalated"] == ["SX-YC/张科长"]


def test_a_refused_escalation_fails_the_deployment_run_with_the_reason(served: Served) -> None:
    found, now = _lately()
    events = write_events(served.logs / "srv-ref.jsonl", [detected("SRV-REF", found)])
    served.cli.ok("apply", str(events), now=now)
    # 柯桥区 has no jurisdiction over 府山街道 (越城区)
    run = served.prefect(
        "deployment", "run", "escalate/escalate", "-p", "hazard=SRV-REF", "-p", "to=county", "-p", "reason=越权",
        "-p", "actor=SX-KQ", "--watch", "--watch-timeout", "120",
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    state = served.flow_run(_run_id(run.stdout))["state"]
    assert state["type"] == "FAILED"
    assert "no jurisdiction" in state["message"]
    # the quarter-hourly sweep, run now as its schedule would, leaves a hazard found an hour ago where it was
    sweep = served.prefect(
        "deployment", "run", "escalation-sweep/escalation-sweep", "--watch", "--watch-timeout", "120"
    )
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr + served.tail()
    assert served.hazards()["SRV-REF"]["level"] == "none"


EMIT = """
import json, sys
from prefect.events import emit_event
for name, payload in json.loads(sys.argv[1]):
    emit_event(event=name, resource={"prefect.resource.id": "hazardloop.source.patrol-app"}, payload=payload)
"""


def _emit(served: Served, events: list[tuple[str, dict[str, Any]]]) -> None:
    subprocess.run(
        [sys.executable, "-c", EMIT, json.dumps(events, ensure_ascii=False)],
        env=served.env,
        check=True,
        timeout=60,
    )


def test_emitted_events_create_hazards_in_one_batch_once_each(served: Served) -> None:
    first, second = detected("SRV-EV-1", "2025-04-01T08:00:00+08:00"), detected("SRV-EV-2", "2025-04-01T08:05:00+08:00")
    unknown = detected("SRV-EV-3", "2025-04-01T08:10:00+08:00", township="不存在街道")
    no_id = {k: v for k, v in detected("SRV-EV-4", "2025-04-01T08:15:00+08:00").items() if k != "event_id"}
    started = time.monotonic()
    # the first event twice (a retrying sender), one for an unknown township, one without an event_id
    _emit(served, [(e["type"], e) for e in (first, second, first, unknown, no_id)])

    assert _wait(lambda: {"SRV-EV-1", "SRV-EV-2", "SRV-EV-4"} <= served.hazards().keys(), 120), served.tail()
    latency = time.monotonic() - started
    print(f"\nemitted event -> hazard in the database: {latency:.1f} s (window 1 s, settle 2 s)")
    hazards = served.hazards()
    assert "SRV-EV-3" not in hazards
    assert hazards["SRV-EV-1"]["state"] == hazards["SRV-EV-2"]["state"] == "assigned"
    runs = httpx.post(
        f"{served.api}/flow_runs/filter", json={"flows": {"name": {"any_": ["intake-events"]}}}, timeout=10
    ).json()
    assert _wait(lambda: served.flow_run(runs[0]["id"])["state"]["type"] == "COMPLETED", 30)
    # all five fell in one window: one run applied them, the repeated event counted as a duplicate
    assert len(runs) == 1, [r["name"] for r in runs]
    ours = {hazards[ref]["id"] for ref in ("SRV-EV-1", "SRV-EV-2", "SRV-EV-4")}

    def detections() -> list[str]:
        steps = served.cli.export()["transitions"]
        return sorted(t["hazard"] for t in steps if t["action"] == "hazard.detected" and t["hazard"] in ours)

    assert detections() == sorted(ours)
    log = (served.logs / "serve.log").read_text(errors="replace")
    assert re.search(r"event det-\d+ \(hazard.detected\) rejected: .*不存在街道", log), log[-4000:]

    # emitted again later (a sender replaying its log): a new run, nothing doubled
    _emit(served, [(first["type"], first)])
    completed = {
        "flows": {"name": {"any_": ["intake-events"]}},
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    assert _wait(
        lambda: len(httpx.post(f"{served.api}/flow_runs/filter", json=completed, timeout=10).json()) == 2, 120
    ), served.tail()
    assert detections() == sorted(ours)
