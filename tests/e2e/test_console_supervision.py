"""The console's supervision pages in a real browser: a county supervisor escalates an overdue hazard from 督办总览 and
lists a township there, and the listing notice appears under 通知 as the official document; the analysis renders
with its charts and downloads; an admin creates an account; an operator sends a dead notice again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support.console_browser import Console, console_server, copy_to_docs, screenshot

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console-supervision")
    with console_server(f"sqlite:///{workdir / 'hazardloop.db'}", workdir) as running:
        running.add_account("chengang", "SX-YC", "supervisor", "陈刚")
        running.add_account("yc-admin", "SX-YC", "admin", "刘洋")
        running.add_account("zhou", "SX", "supervisor,viewer", "周明")
        _seed(running)
        yield running


SEED_TITLES = (
    "窨井盖破损",
    "消防通道堵塞",
    "广告牌松动",
    "电动车楼道充电",
    "河道护栏缺失",
    "路灯损坏",
    "违章搭建",
    "燃气管道老化",
)


def _seed(console: Console) -> None:
    """Some work of 越城区 (not 府山街道, which the tests watch): hazards of several ages, some overdue, one asking for
    an extension, so that the county's pages have something to show."""
    now = datetime.now().astimezone()
    towns = ("SX-YC-TS", "SX-YC-BH", "SX-YC-CN", "SX-YC-JS", "SX-YC-DD")
    events: list[dict[str, Any]] = []
    for n in range(24):
        events.append(
            {
                "type": "hazard.detected",
                "event_id": f"seed-{n}",
                "at": (now - timedelta(days=1 + n, hours=n % 5)).isoformat(timespec="seconds"),
                "actor": "SX-YC",
                "hazard": {
                    "ref": f"SEED-{n:02d}",
                    "title": f"{towns[n % 5][-2:]}{SEED_TITLES[n % len(SEED_TITLES)]}",
                    "description": "排查发现。",
                    "field": "other",
                    "severity": "major" if n % 7 == 3 else "general",
                    "township": towns[n % 5],
                },
            }
        )
    at = now.isoformat(timespec="seconds")
    events += [
        {
            "type": "hazard.acknowledged",
            "event_id": "seed-ack",
            "at": at,
            "actor": "SX-YC-CN/吴强",
            "hazard": "SEED-02",
        },
        {
            "type": "extension.requested",
            "event_id": "seed-ext",
            "at": at,
            "actor": "SX-YC-CN/吴强",
            "hazard": "SEED-02",
            "days": 5,
            "reason": "需协调产权单位共同整改",
        },
    ]
    path = console.workdir / "seed.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    console.cli.ok("apply", str(path))


def _detect_overdue(console: Console, ref: str, title: str, days_ago: int, township: str = "SX-YC-FS") -> str:
    """A hazard reported ``days_ago`` calendar days ago and never acknowledged: overdue now, its ladder unswept."""
    at = (datetime.now().astimezone() - timedelta(days=days_ago)).isoformat(timespec="seconds")
    event = {
        "type": "hazard.detected",
        "event_id": f"det-{ref}",
        "at": at,
        "actor": "SX-YC-FS-CQ/王芳",
        "hazard": {
            "ref": ref,
            "title": title,
            "description": "长期未整改。",
            "field": "other",
            "severity": "general",
            "township": township,
        },
    }
    path = console.workdir / f"{ref}.jsonl"
    path.write_text(json.dumps(event, ensure_ascii=False) + "\n", encoding="utf-8")
    console.cli.ok("apply", str(path))
    return str(console.show(ref)["id"])


def test_a_supervisor_escalates_from_the_overview_and_lists_a_township_whose_notice_appears(
    console: Console, browser: Any
) -> None:
    hazard = _detect_overdue(console, "OV-1", "府山街道老旧小区消防通道堵塞", 14)
    assert console.show(hazard)["overdue"] is True
    page = console.login(browser, "chengang")
    # the worklist shows what is overdue in the county, in red with the working days overdue
    overdue = page.locator("#overdue tr.overdue", has_text=hazard)
    assert overdue.count() == 1
    assert "逾期" in overdue.locator(".overdue").last.inner_text()
    assert overdue.locator(".overdue").last.evaluate("e => getComputedStyle(e).color") == "rgb(192, 28, 40)"

    assert page.locator("#extensions").get_by_text("SEED-02").count() == 1
    screenshot(page, "worklist-county")
    copy_to_docs("worklist-county", "console-worklist.png")

    page.click("nav >> text=督办总览")
    row = page.locator("#township-SX-YC-FS")
    assert row.locator("td").nth(2).inner_text().strip() == "1"  # overdue
    assert "cue-" in (row.get_attribute("class") or "")
    preview = page.locator("#preview tr", has_text=hazard).filter(has=page.get_by_role("button"))
    preview.first.get_by_role("button").click()
    page.wait_for_url(console.base + "/overview")
    assert "已督办提级" in page.locator(".flash").first.inner_text()
    shown = console.show(hazard)
    assert shown["level"] == "county"
    escalated = [t for t in shown["history"] if t["action"] == "hazard.escalated"]
    assert escalated and escalated[-1]["actor"] == "SX-YC/陈刚"
    assert any(n["kind"] == "elevation" for n in shown["notices"])

    row = page.locator("#township-SX-YC-FS")
    row.locator("summary", has_text="挂牌督办").click()
    row.locator("textarea[name=reason]").fill("逾期隐患整改不力，提级挂牌督办。")
    row.get_by_role("button", name="挂牌督办").click()
    page.wait_for_load_state()
    assert "已挂牌督办" in page.locator(".flash").first.inner_text()
    listings = console.cli.json("listings")
    assert [(x["township_code"], x["listed_by"], x["active"]) for x in listings] == [("SX-YC-FS", "SX-YC/陈刚", True)]
    assert "县级督办挂牌" in page.locator("#township-SX-YC-FS").inner_text()
    assert page.locator("#listings").get_by_text("逾期隐患整改不力").count() == 1
    screenshot(page, "overview")
    copy_to_docs("overview", "console-overview.png")

    page.click("nav >> text=通知")
    listing_row = page.locator("#notice-list tr", has_text="挂牌督办通知书")
    assert listing_row.count() == 1
    listing_row.get_by_role("link").first.click()
    document = page.locator("#document")
    assert "挂牌督办" in document.inner_text() and "府山街道" in document.inner_text()
    assert page.get_by_role("button", name="打印").count() == 1
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden()  # the printed page is the document alone
    page.emulate_media(media="screen")
    screenshot(page, "notice")
    copy_to_docs("notice", "console-notice.png")


def test_the_analysis_shows_its_charts_and_downloads_html_and_excel(console: Console, browser: Any) -> None:
    _detect_overdue(console, "AN-1", "东浦街道河道护栏缺失", 3, township="SX-YC-DP")
    page = console.login(browser, "zhou")
    page.goto(console.base + "/analysis?period=monthly")
    report = page.locator("#report")
    assert "研判" in report.inner_text()
    assert report.locator("img[src^='data:image/png']").count() >= 1
    html = page.request.get(console.base + page.locator("a", has_text="下载HTML报告").get_attribute("href"))
    assert html.status == 200 and "研判" in html.text()
    xlsx = page.request.get(console.base + page.locator("a", has_text="下载Excel").get_attribute("href"))
    assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
    screenshot(page, "analysis")


def test_an_admin_creates_an_account_whose_password_is_shown_once(console: Console, browser: Any) -> None:
    page = console.login(browser, "yc-admin")
    page.click("nav >> text=管理")
    page.fill("#a-login", "new-verifier")
    page.fill("#a-name", "孙丽")
    page.select_option("#a-unit", "SX-YC-FS")
    page.check("input[name=roles][value=verifier]")
    page.get_by_role("button", name="新建账号").click()
    page.wait_for_load_state()
    secret = page.locator("#secret code").inner_text()
    assert len(secret) >= 12
    users = {u["login"]: u for u in console.cli.json("users", "list")}
    assert users["new-verifier"]["unit"] == "SX-YC-FS" and users["new-verifier"]["roles"] == ["verifier"]
    page.goto(console.base + "/admin")
    assert page.locator("#secret").count() == 0  # shown once, on the answer to the form only
    # the new account can sign in with it
    context = browser.new_context()
    other = context.new_page()
    other.goto(console.base + "/login")
    other.fill("#login", "new-verifier")
    other.fill("#password", secret)
    other.click("form[action='/login'] button[type=submit]")
    other.wait_for_url(console.base + "/")
    assert "孙丽" in other.locator("header").inner_text()


def test_an_operator_sends_a_dead_notice_again(console: Console, browser: Any) -> None:
    hazard = _detect_overdue(console, "RQ-1", "塔山街道广告牌松动", 1, township="SX-YC-TS")
    notice = console.show(hazard)["notices"][0]["id"]
    engine = create_engine(console.cli.db)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE notices SET status = 'dead', last_error = 'mailbox full' WHERE id = :i"), {"i": notice}
        )
    engine.dispose()
    page = console.login(browser, "chengang")
    page.goto(console.base + "/notices?status=dead")
    row = page.locator("#notice-list tr", has_text="mailbox full")
    row.get_by_role("button", name="重新发送").click()
    page.wait_for_load_state()
    assert "已重新排队" in page.locator(".flash").first.inner_text()
    statuses = {n["id"]: n["status"] for n in console.cli.json("notices")}
    assert statuses[notice] == "pending"


def test_a_supervisor_decides_an_extension_reassigns_and_closes_a_report_as_invalid(
    console: Console, browser: Any
) -> None:
    before = console.show("SEED-02")
    assert before["pending_extension_days"] == 5
    page = console.login(browser, "chengang")
    page.locator("#extensions").get_by_role("link", name=before["id"]).click()
    assert "需协调产权单位共同整改" in page.locator("#actions").inner_text()
    page.fill("#dec-reason", "同意延期5个工作日。")
    page.get_by_role("button", name="同意延期").click()
    page.wait_for_load_state()
    after = console.show("SEED-02")
    assert after["pending_extension_days"] is None and after["due_at"] > before["due_at"]
    decided = [t for t in after["history"] if t["action"] == "extension.decided"][-1]
    assert decided["details"]["approved"] is True and decided["actor"] == "SX-YC/陈刚"

    other = console.show("SEED-03")
    page.goto(console.base + f"/hazards/{other['id']}")
    page.locator("summary", has_text="转办").click()
    page.select_option("#re-unit", "SX-YC-XF")
    page.fill("#re-reason", "属消防领域，转消防救援大队。")
    page.get_by_role("button", name="转办", exact=True).click()
    page.wait_for_load_state()
    assert console.show("SEED-03")["unit"] == "SX-YC-XF"

    page.locator("summary", has_text="作废").click()
    page.fill("#inv-reason", "经核实与SEED-04重复。")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="作废", exact=True).click()
    page.wait_for_load_state()
    assert console.show("SEED-03")["state"] == "invalid"
    assert page.locator("#actions button").count() == 0  # nothing is left to do on a closed hazard
