"""The web console in a real browser: one hazard's whole life by four different accounts, each step checked in the
page and in the database (through the command line's ``show --json``), and a responsible unit's steps on a phone."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.console_browser import (
    PHONE,
    Console,
    console_server,
    copy_to_docs,
    jpeg_bytes,
    png_bytes,
    screenshot,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console-life")
    with console_server(f"sqlite:///{workdir / 'hazardloop.db'}", workdir) as running:
        running.add_account("wangfang", "SX-YC-FS-CQ", "staff", "王芳")  # grid worker of 仓桥社区
        running.add_account("liqiang", "SX-YC-FS", "staff", "李强")  # 府山街道, the responsible unit here
        running.add_account("zhaomin", "SX-YC", "verifier", "赵敏")  # 越城区 verifies what a township rectified
        running.add_account("chengang", "SX-YC", "supervisor", "陈刚")
        yield running


def _file(name: str, data: bytes, mime: str) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


def _hazard_id(page: Any) -> str:
    found = re.search(r"/hazards/(HZ-\d{4}-\d+)$", page.url)
    assert found, page.url
    return found.group(1)


def _flash(page: Any) -> str:
    return page.locator(".flash").first.inner_text()


def test_one_hazard_lives_its_whole_life_through_four_accounts(console: Console, browser: Any) -> None:
    photo = jpeg_bytes((180, 60, 40))
    # 1. the grid worker reports from the field with a photo
    grid = console.login(browser, "wangfang")
    grid.click("nav >> text=上报隐患")
    grid.fill("#title", "仓桥直街电动车违规充电")
    grid.select_option("#field", "other")
    grid.select_option("#township", "SX-YC-FS")
    grid.fill("#description", "居民楼道内私拉电线为电动车充电，存在火灾隐患。")
    grid.fill("#address", "仓桥直街18号")
    grid.fill("#lat", "30.0021")
    grid.fill("#lon", "120.5781")
    grid.set_input_files("#photos", [_file("现场.jpg", photo, "image/jpeg")])
    grid.click("form[action='/report'] button[type=submit]")
    grid.wait_for_url(re.compile(r".*/hazards/HZ-.*"))
    hazard = _hazard_id(grid)
    assert "已上报" in _flash(grid)
    digest = hashlib.sha256(photo).hexdigest()
    assert grid.locator(f"img[src$='{digest}/thumb']").count() == 1
    shown = console.show(hazard)
    assert shown["state"] == "assigned" and shown["unit"] == "SX-YC-FS"
    assert shown["reporter"] == "SX-YC-FS-CQ/王芳"
    detection = shown["history"][0]
    assert detection["action"] == "hazard.detected"
    assert detection["details"]["evidence"] == [f"sha256:{digest}"]
    assert detection["details"]["location"] == {"latitude": 30.0021, "longitude": 120.5781}
    stored = console.workdir / "evidence" / digest[:2] / f"{digest}.jpg"
    assert stored.read_bytes() == photo  # beside the SQLite file, named by its SHA-256
    # the grid worker may not acknowledge or verify: the page offers nothing of the kind
    assert grid.locator("#actions button").count() == 0

    # 2. the responsible unit sees it waiting, acknowledges it and submits its rectification with a photo
    unit = console.login(browser, "liqiang")
    assert unit.locator("#acknowledge").get_by_text(hazard).count() >= 1
    unit.locator("#acknowledge").get_by_role("link", name=hazard).click()
    assert unit.locator("#actions").get_by_role("button", name="核查通过").count() == 0
    unit.get_by_role("button", name="签收").click()
    unit.wait_for_load_state()
    assert "已签收" in _flash(unit)
    assert console.show(hazard)["state"] == "rectifying"
    assert "整改中" in unit.locator("main p").first.inner_text()
    after = jpeg_bytes((60, 160, 60))
    unit.fill("#submit-note", "已拆除私拉电线，楼下设置集中充电桩。")
    unit.set_input_files("#submit-files", [_file("整改后.jpg", after, "image/jpeg")])
    unit.locator("form[action$='/submit'] button[type=submit]").click()
    unit.wait_for_load_state()
    assert "已提交整改" in _flash(unit)
    shown = console.show(hazard)
    assert shown["state"] == "pending_verification"
    submitted = [t for t in shown["history"] if t["action"] == "rectification.submitted"]
    assert submitted[-1]["details"]["evidence"] == [f"sha256:{hashlib.sha256(after).hexdigest()}"]
    assert submitted[-1]["actor"] == "SX-YC-FS/李强"

    # 3. the county's verifier returns it for rework
    verifier = console.login(browser, "zhaomin")
    verifier.locator("#verify").get_by_role("link", name=hazard).click()
    assert verifier.get_by_role("button", name="签收").count() == 0
    verifier.fill("#fail-reason", "充电桩未接入消防报警，请补充。")
    verifier.get_by_role("button", name="退回整改").click()
    verifier.wait_for_load_state()
    assert "退回整改" in _flash(verifier)
    shown = console.show(hazard)
    assert shown["state"] == "rectifying" and shown["rework_count"] == 1
    assert any(n["kind"] == "return" for n in shown["notices"])

    # 4. the unit finds it among what was returned and submits again
    unit.goto(console.base + "/")
    unit.locator("#returned").get_by_role("link", name=hazard).click()
    unit.fill("#submit-note", "充电桩已接入消防报警系统。")
    unit.set_input_files("#submit-files", [_file("报警.png", png_bytes(), "image/png")])
    unit.locator("form[action$='/submit'] button[type=submit]").click()
    unit.wait_for_load_state()
    assert console.show(hazard)["state"] == "pending_verification"

    # 5. the verifier passes it: cleared, with its clearance notice on the timeline
    verifier.goto(console.base + f"/hazards/{hazard}")
    verifier.fill("#pass-note", "现场核查，整改到位。")
    verifier.once("dialog", lambda dialog: dialog.accept())
    verifier.get_by_role("button", name="核查通过").click()
    verifier.wait_for_load_state()
    assert "核查通过" in _flash(verifier)
    shown = console.show(hazard)
    assert shown["state"] == "cleared" and shown["cleared_at"]
    assert [t["actor"] for t in shown["history"] if t["action"].startswith("verification.")] == [
        "SX-YC/赵敏",
        "SX-YC/赵敏",
    ]
    assert "已销号" in verifier.locator("main").inner_text()
    assert verifier.locator(".timeline").get_by_text("销号通知").count() == 1
    assert verifier.locator(".thumbs img").count() == 3  # the report's photo and both rectifications
    screenshot(verifier, "hazard-detail")
    verifier.goto(console.base + "/hazards")
    screenshot(verifier, "hazard-list")
    unit.goto(console.base + "/")
    screenshot(unit, "worklist-unit")
    copy_to_docs("hazard-detail", "console-hazard.png")


def _detect(
    console: Console, title: str, *, days_ago: int = 0, township: str = "SX-YC-FS", field: str = "other"
) -> str:
    at = (datetime.now().astimezone() - timedelta(days=days_ago)).isoformat(timespec="seconds")
    ref = f"T-{title}-{days_ago}"
    event = {
        "type": "hazard.detected",
        "event_id": f"det-{ref}",
        "at": at,
        "actor": "SX-YC-FS-CQ/王芳",
        "hazard": {
            "ref": ref,
            "title": title,
            "description": "测试用隐患。",
            "field": field,
            "severity": "general",
            "township": township,
            "address": "府山路1号",
        },
    }
    path = Path(console.workdir) / f"{ref}.jsonl"
    path.write_text(json.dumps(event, ensure_ascii=False) + "\n", encoding="utf-8")
    console.cli.ok("apply", str(path))
    return str(console.cli.json("show", ref)["id"])


def test_a_phone_completes_the_units_steps(console: Console, browser: Any) -> None:
    hazard = _detect(console, "解放北路窨井盖缺失")
    phone = console.login(browser, "liqiang", viewport=PHONE)
    # the list of hazards becomes cards on a phone: nothing overflows the screen sideways
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.locator("#acknowledge").get_by_role("link", name=hazard).click()
    phone.get_by_role("button", name="签收").click()
    phone.wait_for_load_state()
    assert console.show(hazard)["state"] == "rectifying"
    phone.fill("#submit-note", "已补齐井盖。")
    phone.set_input_files("#submit-files", [_file("井盖.jpg", jpeg_bytes((90, 90, 90), (1080, 1920)), "image/jpeg")])
    phone.locator("form[action$='/submit'] button[type=submit]").click()
    phone.wait_for_load_state()
    assert "已提交整改" in _flash(phone)
    assert console.show(hazard)["state"] == "pending_verification"
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "phone-hazard")
    phone.goto(console.base + "/")
    screenshot(phone, "phone-worklist")


def test_the_list_filters_searches_sorts_pages_and_exports(console: Console, browser: Any) -> None:
    # each hazard at noon of its day in the policy's zone, so that "since a day" counts the same whatever the hour
    # the test runs at (an instant a whole number of days ago can fall on either side of a local midnight)
    zone = ZoneInfo("Asia/Shanghai")
    today = datetime.now(zone).date()
    events = []
    for n in range(60):
        township = "SX-YC-BH" if n % 3 == 0 else "SX-YC-TS"
        events.append(
            {
                "type": "hazard.detected",
                "event_id": f"list-{n}",
                "at": (
                    datetime.combine(today - timedelta(days=60 - n), time(12), zone) - timedelta(minutes=n)
                ).isoformat(timespec="seconds"),
                "actor": "SX-YC",
                "hazard": {
                    "ref": f"LIST-{n:03d}",
                    "title": f"{'桥梁护栏' if n % 2 else '路灯'}损坏{n:03d}号",
                    "description": "列表测试。",
                    "field": "other",
                    "severity": "major" if n == 7 else "general",
                    "township": township,
                },
            }
        )
    path = console.workdir / "list.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    console.cli.ok("apply", str(path))
    page = console.login(browser, "chengang")
    page.goto(console.base + "/hazards?q=LIST-")
    titles = page.locator("table.cards tbody tr td:nth-child(2) a")
    assert titles.count() == 50 and titles.first.inner_text() == "桥梁护栏损坏059号"  # newest first, 50 a page
    page.get_by_role("link", name="下一页").first.click()
    assert page.locator("table.cards tbody tr").count() == 10
    assert "第2页" in page.locator(".pager").first.inner_text()
    page.goto(console.base + "/hazards")
    page.fill("#q", "桥梁护栏")
    page.select_option("#township", "SX-YC-BH")
    page.select_option("#sort", "oldest")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    shown = page.locator("table.cards tbody tr td:nth-child(2) a").all_inner_texts()
    expected = [f"桥梁护栏损坏{n:03d}号" for n in range(60) if n % 2 and n % 3 == 0]
    assert shown == expected
    page.goto(console.base + "/hazards?q=LIST-007")  # the source reference finds it too
    assert page.locator("table.cards tbody tr").count() == 1 and "重大隐患" in page.locator("tbody").inner_text()
    day = (today - timedelta(days=5)).isoformat()
    page.goto(console.base + f"/hazards?q=LIST-&since={day}")
    assert page.locator("table.cards tbody tr").count() == 5
    page.goto(console.base + "/hazards?q=桥梁护栏&township=SX-YC-BH")
    export = page.locator("a", has_text="导出Excel台账").get_attribute("href")
    assert export is not None and "township=SX-YC-BH" in export
    answer = page.request.get(console.base + export)
    assert answer.status == 200 and answer.body()[:2] == b"PK"
    from io import BytesIO

    from openpyxl import load_workbook

    rows = [
        r for ws in load_workbook(BytesIO(answer.body())).worksheets for r in ws.iter_rows(min_row=2, values_only=True)
    ]
    assert len(rows) == len(expected)


def test_reporting_what_repeats_an_open_hazard_warns_before_creating_it(console: Console, browser: Any) -> None:
    first = _detect(console, "府山路路灯不亮")
    grid = console.login(browser, "wangfang")
    grid.goto(console.base + "/report")
    grid.fill("#title", "府山路路灯不亮")
    grid.select_option("#field", "other")
    grid.select_option("#township", "SX-YC-FS")
    grid.fill("#description", "夜间无照明。")
    grid.fill("#address", "府山路1号")
    grid.click("form[action='/report'] button[type=submit]")
    grid.wait_for_load_state()
    warning = grid.locator("#duplicates")
    assert warning.get_by_role("link", name=re.compile(first)).count() == 1
    before = len(console.cli.json("hazards"))
    grid.check("input[name=confirm_duplicate]")
    grid.click("form[action='/report'] button[type=submit]")
    grid.wait_for_url(re.compile(r".*/hazards/HZ-.*"))
    assert _hazard_id(grid) != first and len(console.cli.json("hazards")) == before + 1
