"""A supervisor's manual actions as services, on SQLite and PostgreSQL: each records one event as the principal
declares or proves it, answers with a typed result, and meets the same lifecycle rules whoever calls it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hazardloop.config.bootstrap import Clock
from hazardloop.models.core.authz import account_principal
from hazardloop.models.core.errors import InvalidInput, Refused, Rejections
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.queries import list_listings
from hazardloop.services import supervision
from hazardloop.services.hazards import apply_events
from hazardloop.services.identity import cli_principal
from hazardloop.services.notices import requeue_many
from hazardloop.services.sweep import run_sweep
from tests.support.factories import detected, eid

DETECTED = "2025-03-03T08:00:00+08:00"


def _detect(app: Any, *refs: str) -> None:
    import json

    app.clock = Clock(datetime.fromisoformat("2025-03-03T12:00:00+08:00"))
    lines = [(i, json.dumps(detected(ref, DETECTED), ensure_ascii=False)) for i, ref in enumerate(refs, start=1)]
    report = apply_events(app, cli_principal(app), lines, source="test")
    assert report.applied == len(refs)


def test_an_escalation_records_the_declared_actor_and_queues_its_notice(app: Any) -> None:
    _detect(app, "SV-1")
    app.clock = Clock(datetime.fromisoformat("2025-03-05T10:00:00+08:00"))
    done = supervision.escalate(app, cli_principal(app, "SX/市平安办"), "SV-1", "city", "市级重点督办")
    assert (done.type, done.target, done.applied, done.duplicates) == ("hazard.escalated", "SV-1", 1, 0)
    assert done.notices >= 1 and done.hazard is not None and done.hazard.startswith("HZ-")
    assert done.as_dict() == {"applied": 1, "notices": done.notices, "hazard": done.hazard}


def test_an_escalation_to_an_unknown_level_names_the_field_and_writes_nothing(app: Any) -> None:
    _detect(app, "SV-2")
    with pytest.raises(InvalidInput) as caught:
        supervision.escalate(app, cli_principal(app, "SX"), "SV-2", "province", "越级")
    assert caught.value.problems[0].field == "to"


def test_an_actor_without_jurisdiction_is_refused_by_the_lifecycle_rules(app: Any) -> None:
    _detect(app, "SV-3")
    with pytest.raises(Rejections, match="no jurisdiction"):
        supervision.escalate(app, cli_principal(app, "SX-KQ"), "SV-3", "county", "越权")  # 柯桥区 over 越城区


def test_a_delisting_can_be_confirmed_only_once_the_sweep_proposed_it(app: Any) -> None:
    with pytest.raises(Refused, match="not listed"):
        supervision.confirm_delisting(app, cli_principal(app, "SX"), "府山街道", "无提议")
    app.clock = Clock(datetime.fromisoformat("2025-03-05T10:00:00+08:00"))
    listed = supervision.list_township(app, cli_principal(app, "SX"), "府山街道", "隐患整改滞后")
    assert listed.applied == 1 and listed.notices == 1
    with pytest.raises(Refused, match="no delisting proposal"):
        supervision.confirm_delisting(app, cli_principal(app, "SX"), "SX-YC-FS", "尚无提议")
    # nothing open and figures within bounds: the next sweep proposes delisting once the listing's term is served
    app.clock = Clock(datetime.fromisoformat("2025-06-30T10:00:00+08:00"))
    run_sweep(app, cli_principal(app))
    with unit_of_work(app.engine, write=False) as conn:
        proposed = [r for r in list_listings(conn, app.rules, active_only=True) if r["delist_proposed_at"]]
    assert [r["township_code"] for r in proposed] == ["SX-YC-FS"]
    done = supervision.confirm_delisting(app, cli_principal(app, "SX"), "府山街道", "整改到位")
    assert done.type == "township.delisted" and done.applied == 1
    with unit_of_work(app.engine, write=False) as conn:
        assert list_listings(conn, app.rules, active_only=True) == []


def test_an_extension_is_decided_by_the_supervisor_and_refused_when_none_was_asked(app: Any) -> None:
    import json

    _detect(app, "SV-4", "SV-5")
    app.clock = Clock(datetime.fromisoformat("2025-03-04T09:00:00+08:00"))
    ask = {
        "type": "extension.requested",
        "event_id": eid("ext"),
        "at": "2025-03-04T08:00:00+08:00",
        "actor": "SX-YC-XF",
        "hazard": "SV-4",
        "days": 5,
        "reason": "需采购设备",
    }
    assert apply_events(app, cli_principal(app), [(1, json.dumps(ask, ensure_ascii=False))], source="t").applied == 1
    done = supervision.decide_extension(app, cli_principal(app, "SX-YC"), "SV-4", True, "同意延期")
    assert done.type == "extension.decided" and done.applied == 1
    with pytest.raises(Rejections):
        supervision.decide_extension(app, cli_principal(app, "SX-YC"), "SV-5", True, "未申请")


def test_sending_notices_again_needs_a_role_that_may(app: Any) -> None:
    viewer = account_principal(
        app.tree,
        account_id=1,
        login="viewer",
        name="某人",
        unit_code="SX",
        roles=["viewer"],
        via="token",
        credential_id="tok_test",
        client="127.0.0.1",
    )
    with pytest.raises(Refused):
        requeue_many(app, viewer, kind="assignment")
    assert requeue_many(app, cli_principal(app), kind="assignment", dry_run=True).ids == []
