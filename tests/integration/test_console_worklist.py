"""The 工作台 read (services/console_reads.py): a unit's boxes count exactly and show each box's newest deadlines even
when another box crowds the first read; the verifier and supervisor boxes stop at the jurisdiction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.fixtures import Cli, ready_app


def _events(days_ago: int, ref: str, township: str = "SX-YC-FS") -> list[dict[str, object]]:
    at = (datetime.now().astimezone() - timedelta(days=days_ago)).isoformat(timespec="seconds")
    return [
        {
            "type": "hazard.detected",
            "event_id": f"d-{ref}",
            "at": at,
            "actor": "system",
            "hazard": {
                "ref": ref,
                "title": ref,
                "description": "工作台测试。",
                "field": "other",
                "severity": "general",
                "township": township,
            },
        }
    ]


def _returned(ref: str) -> list[dict[str, object]]:
    at = datetime.now().astimezone().isoformat(timespec="seconds")
    return [
        {"type": "hazard.acknowledged", "event_id": f"a-{ref}", "at": at, "actor": "SX-YC-FS", "hazard": ref},
        {
            "type": "rectification.submitted",
            "event_id": f"s-{ref}",
            "at": at,
            "actor": "SX-YC-FS",
            "hazard": ref,
            "note": "已整改",
            "evidence": [],
        },
        {
            "type": "verification.failed",
            "event_id": f"f-{ref}",
            "at": at,
            "actor": "SX-YC",
            "hazard": ref,
            "reason": "不到位",
        },
    ]


def _principal(app: object, unit: str, roles: list[str]) -> object:
    from hazardloop.models.core.authz import account_principal

    return account_principal(
        app.tree,  # type: ignore[attr-defined]
        account_id=1,
        login="t",
        name="测试",
        unit_code=unit,
        roles=roles,
        via="session",
        credential_id="ses_t",
        client="127.0.0.1",
    )


def test_a_units_boxes_count_exactly_and_a_crowded_box_still_shows_its_hazards(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hazardloop.services import console_reads

    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    cli = Cli(db_url, tmp_path)
    cli.ok("init")
    events = _events(20, "OLD-RETURNED") + _returned("OLD-RETURNED")
    for n in range(14):  # fourteen newer deadlines waiting for acknowledgement crowd the first read (limit 12)
        events += _events(n, f"NEW-{n:02d}")
    events += _events(3, "KQ-ELSEWHERE", township="SX-KQ-KQ")
    path = tmp_path / "work.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    cli.ok("apply", str(path))
    monkeypatch.setattr(console_reads, "BOX_ROWS", 1)
    with ready_app(db_url) as app:
        now = app.clock.now()
        boxes = {b.key: b for b in console_reads.worklist(app, _principal(app, "SX-YC-FS", ["staff"]), now).boxes}
        assert {k: b.count for k, b in boxes.items()} == {"acknowledge": 14, "returned": 1, "rectify": 0}
        newest = max(h["due_at"] for h in cli.json("hazards", "--state", "assigned", "--unit", "SX-YC-FS"))
        assert [h["due_at"] for h in boxes["acknowledge"].rows] == [newest]  # the newest deadline first
        assert [h["ref"] for h in boxes["returned"].rows] == ["OLD-RETURNED"]
        monkeypatch.setattr(console_reads, "BOX_ROWS", 50)
        county = console_reads.worklist(app, _principal(app, "SX-YC", ["supervisor", "verifier"]), now)
        overdue = {b.key: b for b in county.boxes}["overdue"]
        assert "KQ-ELSEWHERE" not in {h["ref"] for h in overdue.rows}  # another county's work is not in it
        assert "OLD-RETURNED" in {h["ref"] for h in overdue.rows}
