"""The flows as real Prefect flow runs (one temporary Prefect server for the session): intake, the
escalation sweep, notice dispatch and a supervisor's escalation, all on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_the_supervisors_forms_name_no_database_configuration_or_instant() -> None:
    from hazardloop.flows.supervision import delist, escalate, supervise

    for form in (escalate, supervise, delist):
        assert not {"db", "config", "now"} & set(form.parameters.properties), form.name


def test_intake_sweep_dispatch_and_escalate_run_as_prefect_flows(
    harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime

    from prefect.client.orchestration import get_client
    from typer.testing import CliRunner

    from hazardloop.cli import app
    from hazardloop.flows.escalation import escalation_sweep
    from hazardloop.flows.intake import intake
    from hazardloop.flows.notices import dispatch_notices
    from hazardloop.flows.supervision import escalate

    db = f"sqlite:///{tmp_path / 'flows.db'}"
    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    # the supervisors' forms name no database or instant: the run uses the worker's environment and the real time
    monkeypatch.setenv("HAZARDLOOP_DATABASE_URL", db)
    monkeypatch.setenv("HAZARDLOOP_CONFIG", str(CONFIG_DIR))
    assert CliRunner().invoke(app, ["--db", db, "--config", str(CONFIG_DIR), "init"]).exit_code == 0
    events = [json.dumps(detected(f"PF-{i}", "2025-03-03T08:00:00+08:00"), ensure_ascii=False) for i in range(20)]
    detected_at = datetime.fromisoformat("2025-03-03T12:00:00+08:00")

    async def scenario() -> tuple[dict, dict, dict, dict]:
        applied = await intake(events=events, source_name="test", db=db, config=str(CONFIG_DIR), now=detected_at)
        late = datetime.fromisoformat("2025-03-14T09:00:00+08:00")
        swept = await escalation_sweep(now=late, db=db, config=str(CONFIG_DIR))
        raised = await escalate(hazard="PF-0", to="city", reason="市级重点督办", actor="SX/市平安办")
        sent = await dispatch_notices(db=db, config=str(CONFIG_DIR))
        return applied, swept, raised, sent

    applied, swept, raised, sent = asyncio.run(scenario())
    assert applied["created"] == 20 and applied["notices"] == 20
    assert swept["supervisions"] == 20
    assert swept["listed"] == ["SX-YC-FS"]  # 20 overdue in one township breaks max_overdue (10)
    assert raised["applied"] == 1
    # 20 assignment + 20 supervision + 1 listing + 1 elevation notices, all written as .eml files
    assert sent["sent"] == 42
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 42

    async def runs() -> list[str]:
        async with get_client() as client:
            flow_runs = await client.read_flow_runs()
            return sorted({r.state_name for r in flow_runs if r.state_name})

    assert asyncio.run(runs()) == ["Completed"]
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.connect() as conn:
        via, client = conn.execute(
            text("SELECT principal_via, principal_client FROM transitions WHERE action = 'hazard.escalated'")
        ).one()
    engine.dispose()
    assert via == "flow" and client.startswith("flow-run:") and client != "flow-run:local"


def test_a_refused_escalation_fails_the_flow_run_with_the_reason(
    harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime

    from typer.testing import CliRunner

    from hazardloop.cli import app
    from hazardloop.flows.intake import intake
    from hazardloop.flows.supervision import escalate

    db = f"sqlite:///{tmp_path / 'refused.db'}"
    monkeypatch.setenv("HAZARDLOOP_DATABASE_URL", db)
    monkeypatch.setenv("HAZARDLOOP_CONFIG", str(CONFIG_DIR))
    assert CliRunner().invoke(app, ["--db", db, "--config", str(CONFIG_DIR), "init"]).exit_code == 0
    at = datetime.fromisoformat("2025-03-03T12:00:00+08:00")
    events = [json.dumps(detected("PF-R", "2025-03-03T08:00:00+08:00"), ensure_ascii=False)]

    async def scenario() -> None:
        await intake(events=events, db=db, config=str(CONFIG_DIR), now=at)
        # 柯桥区 has no jurisdiction over 府山街道 (越城区)
        await escalate(hazard="PF-R", to="county", reason="越权", actor="SX-KQ")

    with pytest.raises(Exception, match="no jurisdiction"):
        asyncio.run(scenario())
