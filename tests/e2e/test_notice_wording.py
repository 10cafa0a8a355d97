"""Wording a clerk would send back, checked on the mails the engine really sends: copy-to lists, the elevation
sentence, the office that confirms a delisting, place names, a 转办's 交办单, and the periodic report's
rankings and dates. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from tests.support.factories import TOWNSHIP_CODE, detected, event
from tests.support.fixtures import Cli, write_events


def _apply(cli: Cli, events: list[dict[str, Any]], now: str) -> None:
    cli.ok("apply", str(write_events(cli.workdir / "e.jsonl", events)), now=now)


def _mails(cli: Cli, subject: str) -> list[tuple[EmailMessage, str]]:
    found = []
    for path in sorted((cli.workdir / "outbox").rglob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=default)  # type: ignore[misc]
        if subject in str(mail["Subject"]):
            part = mail.get_body(preferencelist=("plain",))
            assert part is not None
            found.append((mail, str(part.get_content())))  # type: ignore[arg-type]
    return found


def _cc_line(text: str) -> list[str]:
    lines = [x for x in text.splitlines() if x.startswith("抄送：")]
    assert len(lines) <= 1
    return lines[0].removeprefix("抄送：").rstrip("。").split("，") if lines else []


def test_listing_copies_each_unit_once_and_never_the_issuer(cli: Cli) -> None:
    cli.ok("supervise", "府山街道", "--reason", "逾期隐患多", "--by", "SX-YC/王五", now="2026-03-02T10:00:00+08:00")
    cli.ok("dispatch", now="2026-03-02T10:01:00+08:00")
    [(mail, text)] = _mails(cli, "挂牌督办通知书")
    assert text.startswith("越城区平安建设办公室")
    # before: 抄送：越城区，越城区。 (the county as the township's county and again as the issuer)
    assert "抄送：" not in text
    assert mail["Cc"] is None


def test_the_automatic_elevation_says_it_once(cli: Cli) -> None:
    _apply(cli, [detected("E-1", "2026-03-02T09:00:00+08:00")], now="2026-03-02T10:00:00+08:00")
    cli.ok("sweep", now="2026-03-20T10:00:00+08:00")
    cli.ok("dispatch", now="2026-03-20T10:01:00+08:00")
    [(_, text)] = _mails(cli, "提级督办通知")
    assert "提级至" not in text
    assert text.count("自即日起提级为县级督办") == 1
    [(_, supervision)] = _mails(cli, "督办通知书")
    # the township issues the supervision: it is not copied to itself (before: 抄送：府山街道。)
    assert supervision.startswith("府山街道平安建设办公室")
    assert "府山街道" not in _cc_line(supervision)


def test_the_delisting_notice_names_the_confirming_office(cli: Cli) -> None:
    cli.ok("supervise", "府山街道", "--reason", "逾期隐患多", "--by", "SX/孙八", now="2026-03-02T10:00:00+08:00")
    cli.ok(
        "delist",
        "府山街道",
        "--reason",
        "问题已整改到位",
        "--by",
        "SX/孙八",
        "--force",
        now="2026-03-09T10:00:00+08:00",
    )
    cli.ok("dispatch", now="2026-03-09T10:01:00+08:00")
    [(_, text)] = _mails(cli, "摘牌通知")
    assert "经绍兴市平安建设办公室（孙八）确认" in text
    assert "经孙八确认" not in text


def test_an_area_named_after_its_parent_is_not_prefixed_again(cli: Cli) -> None:
    _apply(
        cli,
        [detected("B-1", "2026-03-02T09:00:00+08:00", township="绍兴滨海新区产业园", actor="SX-BH-CYY/网格员")],
        now="2026-03-02T10:00:00+08:00",
    )
    cli.ok("dispatch", now="2026-03-02T10:01:00+08:00")
    [(_, text)] = _mails(cli, "隐患交办单")
    assert "滨海新区绍兴滨海新区产业园" not in text
    assert "经排查，绍兴滨海新区产业园存在以下风险隐患" in text


def test_a_reassignment_says_zhuanban_and_why_and_copies_the_previous_unit(cli: Cli) -> None:
    _apply(
        cli,
        [
            detected("R-1", "2026-03-02T09:00:00+08:00"),
            event(
                "hazard.reassigned",
                "R-1",
                "2026-03-02T11:00:00+08:00",
                "SX-YC",
                unit=TOWNSHIP_CODE,
                reason="不属于消防职责",
            ),
        ],
        now="2026-03-02T12:00:00+08:00",
    )
    cli.ok("dispatch", now="2026-03-02T12:01:00+08:00")
    [(mail, text)] = [m for m in _mails(cli, "隐患交办单") if "转办" in str(m[0]["Subject"])]
    assert "原交由越城区消防救援大队承办。因不属于消防职责，现转办你单位" in text
    assert "xf@yc.sx.example.org" in str(mail["Cc"])  # 越城区消防救援大队, the unit it leaves
    assert "越城区消防救援大队" in _cc_line(text)


def _report_text(cli: Cli, period: str, *scope: str) -> str:
    out = cli.workdir / f"r-{period}-{'-'.join(scope) or 'city'}"
    cli.ok("report", "daily", "--period", period, *scope, "--out", str(out), now="2026-03-20T08:00:00+08:00")
    return (out / "report.txt").read_text(encoding="utf-8")


def test_report_rankings_say_nothing_empty_and_judge_no_rate_from_too_few(cli: Cli) -> None:
    # 府山街道: five open hazards, nothing cleared (rate 0 %, ranked alone); 塔山街道: two (too few to judge)
    events = [detected(f"F-{i}", "2026-03-02T09:00:00+08:00") for i in range(5)]
    events += [detected(f"T-{i}", "2026-03-02T09:00:00+08:00", township="塔山街道") for i in range(2)]
    _apply(cli, events, now="2026-03-02T10:00:00+08:00")
    text = _report_text(cli, "2026-03-02")
    assert "排名靠后的是。" not in text and "是。" not in text
    assert "销号率排名前列的是府山街道" not in text  # a township at 0.0 % is never among the best
    assert re.search(r"2026-\d\d-\d\d发现", text) is None and "2026年3月2日发现" in text
    figures = cli.json("report", "daily", "--period", "2026-03-02", now="2026-03-20T08:00:00+08:00")
    tashan = next(r for r in figures["by_township"] if r["name"] == "塔山街道")
    assert tashan["clearance_rate"] == 0.0 and tashan["sample_too_small"] is True
    html = (cli.workdir / "r-2026-03-02-city" / "report.html").read_text(encoding="utf-8")
    assert "样本不足" in html


def test_a_county_report_with_no_ranked_county_prints_no_empty_ranking(cli: Cli) -> None:
    _apply(cli, [detected("C-1", "2026-03-02T09:00:00+08:00")], now="2026-03-02T10:00:00+08:00")
    text = _report_text(cli, "2026-03-02", "--scope", "SX-YC")
    assert "不参加全市排名" in text
    assert "全市各县（市、区）销号率排名" not in text
    assert "样本不足" in text  # 越城区's own row in the county table: one hazard
