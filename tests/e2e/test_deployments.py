"""The deployments of the distributed mode, without a server: `prefect.yaml` (for `prefect deploy --all`) and
`hazardloop serve` declare the same flows on the same schedules as the policy, and a Prefect event becomes the
contract event it carries."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from hazardloop.config.loading import load_policy
from hazardloop.flows.deployments import build_deployments, deployment_cron
from hazardloop.flows.event_intake import contract_line
from hazardloop.models.core.events import EVENT_ADAPTER
from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> dict[str, dict[str, object]]:
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in document["deployments"]}


def test_prefect_yaml_and_serve_declare_the_same_deployments_on_the_policy_schedules() -> None:
    policy = load_policy(CONFIG_DIR)
    served = {d.name: d for d in build_deployments(policy)}
    declared = _declared()
    assert declared.keys() == served.keys()
    for name, deployment in served.items():
        module, function = declared[name]["entrypoint"].split(":")  # type: ignore[union-attr]
        assert (ROOT / module).is_file(), name
        assert deployment.entrypoint is not None and deployment.entrypoint.endswith(f"{Path(module).name}:{function}")
        yaml_crons = [(s["cron"], s["timezone"]) for s in declared[name].get("schedules", [])]  # type: ignore[union-attr]
        served_crons = [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules or []]
        assert yaml_crons == served_crons, name
    jobs = {"escalation-sweep": "sweep", "dispatch-notices": "dispatch", "daily-report": "daily_report"}
    for name, job in jobs.items():
        assert served[name].schedules[0].schedule.cron == policy.schedules[job]  # type: ignore[index,union-attr]
    for name in ("escalate", "supervise", "delist"):
        assert declared[name]["enforce_parameter_schema"] is True
        assert served[name].enforce_parameter_schema is True
    trigger = declared["intake-events"]["triggers"][0]  # type: ignore[index]
    served_trigger = served["intake-events"].triggers[0]
    assert set(trigger["expect"]) == served_trigger.expect
    assert trigger["parameters"]["first_event_at"] == served_trigger.parameters["first_event_at"]


def test_a_seconds_first_policy_schedule_becomes_a_minute_schedule_for_prefect() -> None:
    assert deployment_cron("*/2 * * * * *") == "* * * * *"
    assert deployment_cron("0 8 * * 1") == "0 8 * * 1"


def test_a_prefect_event_carries_its_contract_event() -> None:
    from prefect.events.schemas.events import Event

    occurred = datetime(2025, 4, 1, 0, 5, tzinfo=UTC)
    full = detected("EV-FULL", "2025-04-01T08:00:00+08:00")
    event = Event(event="hazard.detected", resource={"prefect.resource.id": "hazardloop.x"}, payload=full)
    assert json.loads(contract_line(event)) == full

    bare = {k: v for k, v in full.items() if k not in ("type", "event_id", "at")}
    event_id = uuid.uuid4()
    event = Event(
        id=event_id, occurred=occurred, event="hazard.detected", resource={"prefect.resource.id": "hazardloop.x"},
        payload=bare,
    )  # fmt: skip
    parsed = EVENT_ADAPTER.validate_json(contract_line(event))
    assert parsed.type == "hazard.detected"
    assert parsed.event_id == f"prefect:{event_id}"
    assert parsed.at == occurred


def test_serve_without_a_prefect_server_says_how_to_start_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.fixtures import initialised_cli

    cli = initialised_cli(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path, monkeypatch)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = cli("serve")
    assert result.exit_code == 4
    assert "PREFECT_API_URL is not set" in result.stderr and "prefect server start" in result.stderr
