"""The verifier and the deciding unit are chased like the responsible unit: a 核查通知 on submission and a
verification deadline with its reminder, supervision and elevation, sent to the verifier; a 延期申请 notice to the
deciding unit with a decision deadline, reminded and supervised when late. On SQLite and PostgreSQL."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from tests.support.factories import FIRE_UNIT, TOWNSHIP_CODE, detected, event
from tests.support.fixtures import Cli, write_events

TOWNSHIP_MAIL = "zzzx@fs.yc.sx.example.org"  # 府山街道, the verifier of a fire hazard the county's brigade rectifies


def _apply(cli: Cli, events: list[dict[str, Any]], now: str) -> None:
    cli.ok("apply", str(write_events(cli.workdir / "e.jsonl", events)), now=now)


def _mails(cli: Cli) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=default)  # type: ignore[misc]
        for p in sorted((cli.workdir / "outbox").rglob("*.eml"))
    ]


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _submitted(cli: Cli) -> None:
    # submitted Mon 2026-03-02: three working days to verify, due Thu 03-05 23:59:59
    _apply(
        cli,
        [
            detected("V-1", "2026-02-27T09:00:00+08:00"),
            event("hazard.acknowledged", "V-1", "2026-02-27T10:00:00+08:00", FIRE_UNIT),
            event(
                "rectification.submitted",
                "V-1",
                "2026-03-02T10:00:00+08:00",
                FIRE_UNIT,
                note="已清理",
                evidence=["a.jpg", "b.jpg"],
            ),
        ],
        now="2026-03-02T11:00:00+08:00",
    )


def test_submission_sends_a_verification_notice_with_a_deadline(cli: Cli) -> None:
    _submitted(cli)
    [h] = cli.json("hazards", now="2026-03-02T11:00:00+08:00")
    assert h["state"] == "pending_verification"
    assert h["verify_due_at"] == "2026-03-05T23:59:59+08:00"
    assert h["verification_overdue"] is False
    [request] = [n for n in cli.json("notices", now="2026-03-02T11:00:00+08:00") if n["kind"] == "verification_request"]
    assert request["to"] == [TOWNSHIP_MAIL]
    assert "核〔2026〕" in request["number"]
    cli.ok("dispatch", now="2026-03-02T11:01:00+08:00")
    [mail] = [m for m in _mails(cli) if "核查通知" in m["Subject"]]
    body = _text(mail)
    assert "府山街道：" in body and "于2026年3月5日前完成核查" in body
    assert "附佐证材料2份" in body
    # issued by the office above the verifier, not by the verifier to itself
    assert body.startswith("越城区")


def test_an_overdue_verification_is_reminded_supervised_and_elevated_against_the_verifier(cli: Cli) -> None:
    _submitted(cli)
    preview = cli.json("preview", "--days", "14", now="2026-03-02T11:00:00+08:00")
    assert [(r["action"], r["duty"], r["unit"], r["day"]) for r in preview][:3] == [
        ("reminder", "verification", TOWNSHIP_CODE, "2026-03-04"),  # the working day before the due day
        ("supervision", "verification", TOWNSHIP_CODE, "2026-03-06"),
        ("elevation", "verification", TOWNSHIP_CODE, "2026-03-11"),
    ]
    cli.ok("sweep", now="2026-03-04T00:30:00+08:00")
    cli.ok("sweep", now="2026-03-06T00:30:00+08:00")
    [h] = cli.json("hazards", now="2026-03-09T00:00:00+08:00")
    # the verifier is late, not the unit: its clock stopped at submission
    assert h["verification_overdue"] is True and h["verification_overdue_days"] == 1
    assert h["overdue"] is False and h["level"] == "none"
    cli.ok("sweep", now="2026-03-10T23:00:00+08:00")
    assert cli.json("show", "V-1", now="2026-03-10T23:00:00+08:00")["level"] == "none"
    cli.ok("sweep", now="2026-03-11T00:30:00+08:00")  # 03-06, 03-09 and 03-10 have ended
    shown = cli.json("show", "V-1", now="2026-03-11T00:30:00+08:00")
    assert shown["level"] == "county"
    steps = [(t["action"], t["reason"]) for t in shown["history"] if t["actor"] == "system"]
    assert steps[-3:] == [
        ("reminded", "核查期限即将届满"),
        ("supervised", "已超过核查期限未完成核查"),
        ("elevated", "核查逾期3个工作日未完成核查"),
    ]
    notices = [n for n in cli.json("notices", now="2026-03-11T00:30:00+08:00") if n["kind"] != "assignment"]
    assert {n["kind"]: n["to"] for n in notices} == {
        "verification_request": [TOWNSHIP_MAIL],
        "reminder": [TOWNSHIP_MAIL],
        "supervision": [TOWNSHIP_MAIL],
        "elevation": [TOWNSHIP_MAIL],
    }
    cli.ok("dispatch", now="2026-03-11T00:31:00+08:00")
    texts = {m["Subject"].split("】")[0][1:]: _text(m) for m in _mails(cli)}
    assert "核查期限为2026年3月5日，距核查期限仅剩1个工作日" in texts["催办通知"]
    assert "核查期限已于2026年3月5日届满" in texts["督办通知书"] and "仍未完成核查" in texts["督办通知书"]
    assert "因核查逾期3个工作日未完成核查" in texts["提级督办通知"]
    assert "立即组织核查" in texts["提级督办通知"]
    # nothing fires twice, and the verification puts the clock away
    cli.ok("sweep", now="2026-03-11T01:30:00+08:00")
    assert len(cli.json("notices", now="2026-03-11T01:30:00+08:00")) == len(notices) + 1
    _apply(
        cli,
        [event("verification.passed", "V-1", "2026-03-11T09:00:00+08:00", TOWNSHIP_CODE, note="通过")],
        now="2026-03-11T09:30:00+08:00",
    )
    [h] = cli.json("hazards", now="2026-03-30T00:00:00+08:00")
    assert h["verify_due_at"] is None and h["verification_overdue"] is False
    assert cli.json("preview", "--days", "30", now="2026-03-11T09:30:00+08:00") == []


def test_the_report_counts_overdue_verifications(cli: Cli) -> None:
    _submitted(cli)
    before = cli.json("report", "daily", "--period", "2026-03-04", now="2026-03-09T08:00:00+08:00")
    after = cli.json("report", "daily", "--period", "2026-03-05", now="2026-03-09T08:00:00+08:00")
    assert before["totals"]["verification_overdue"] == 0
    assert after["totals"]["verification_overdue"] == 1 and after["totals"]["overdue"] == 0
    cli.ok(
        "report", "daily", "--period", "2026-03-05", "--out", str(cli.workdir / "r"), now="2026-03-09T08:00:00+08:00"
    )
    assert "待核查超过核查期限1项" in (cli.workdir / "r" / "report.txt").read_text(encoding="utf-8")


def test_an_extension_request_goes_to_the_deciding_unit_and_is_chased_when_late(cli: Cli) -> None:
    _apply(
        cli,
        [
            detected("X-1", "2026-02-27T09:00:00+08:00"),
            event("hazard.acknowledged", "X-1", "2026-02-27T10:00:00+08:00", FIRE_UNIT),
            event("extension.requested", "X-1", "2026-03-02T10:00:00+08:00", FIRE_UNIT, days=5, reason="需采购设备"),
        ],
        now="2026-03-02T11:00:00+08:00",
    )
    [h] = cli.json("hazards", now="2026-03-02T11:00:00+08:00")
    assert h["extension_decision_due_at"] == "2026-03-04T23:59:59+08:00"
    [request] = [n for n in cli.json("notices", now="2026-03-02T11:00:00+08:00") if n["kind"] == "extension_request"]
    assert request["to"] == [TOWNSHIP_MAIL] and "延申〔2026〕" in request["number"]
    cli.ok("sweep", now="2026-03-04T00:30:00+08:00")
    cli.ok("sweep", now="2026-03-05T00:30:00+08:00")
    chased = [
        n for n in cli.json("notices", now="2026-03-05T00:30:00+08:00") if n["kind"] in ("reminder", "supervision")
    ]
    assert sorted((n["kind"], tuple(n["to"])) for n in chased) == [
        ("reminder", (TOWNSHIP_MAIL,)),
        ("supervision", (TOWNSHIP_MAIL,)),
    ]
    cli.ok("dispatch", now="2026-03-05T00:31:00+08:00")
    texts = {m["Subject"].split("】")[0][1:]: _text(m) for m in _mails(cli)}
    assert "申请延期5个工作日整改，申请理由：需采购设备" in texts["延期申请"]
    assert "于2026年3月4日前作出是否同意延期的决定" in texts["延期申请"]
    assert "审批期限已于2026年3月4日届满" in texts["督办通知书"]
    # deciding stops the decision clock; the unit's own deadline runs on
    _apply(
        cli,
        [
            event(
                "extension.decided", "X-1", "2026-03-05T09:00:00+08:00", TOWNSHIP_CODE, approved=False, reason="不同意"
            )
        ],
        now="2026-03-05T09:30:00+08:00",
    )
    [h] = cli.json("hazards", now="2026-03-05T09:30:00+08:00")
    assert h["extension_decision_due_at"] is None
    assert {r["duty"] for r in cli.json("preview", "--days", "30", now="2026-03-05T09:30:00+08:00")} == {
        "rectification"
    }
