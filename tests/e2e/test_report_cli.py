"""``hazardloop report`` end to end: queued once per scope and period, mailed once with inline charts,
``--out`` files a person can open, ``--json`` figures, bad input refused; the scheduled job's service."""

from __future__ import annotations

import email
import io
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from email import policy as email_policy
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest

from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.core.figures import resolve_scope
from hazardloop.models.core.periods import Period
from hazardloop.models.store.analysis import build_figures
from hazardloop.models.store.db import unit_of_work
from tests.support.analysis_data import load
from tests.support.fixtures import CONFIG_DIR, Cli, cli_on_copy

NOW = "2025-11-03T09:00:00+08:00"  # the last complete month is October 2025
_VOID = {"br", "img", "meta", "hr", "input", "link", "col", "area", "base", "wbr", "source"}


class StrictHTML(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> StrictHTML:
    parser = StrictHTML()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "gen.db"
    loaded = load(f"sqlite:///{path}", 400, seed=5, early=False)
    loaded.app.close()
    return path


@pytest.fixture
def cli(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield cli_on_copy(template_db, tmp_path, monkeypatch)


def _reports(cli: Cli) -> list[dict]:
    return cli.json("notices", "--kind", "report", now=NOW)


def test_sending_a_monthly_report_twice_queues_one_notice_per_scope(cli: Cli) -> None:
    first = cli.ok("report", "monthly", "--send", now=NOW)
    assert first.stdout.count("queued 绍兴平安研") == 8  # the city and its seven counties
    notices = _reports(cli)
    assert len(notices) == 8
    again = cli.ok("report", "monthly", "--send", now="2025-11-05T10:00:00+08:00")
    assert again.stdout.count("already queued earlier") == 8
    assert _reports(cli) == notices
    by_recipient = {n["recipient"]: n for n in notices}
    assert set(by_recipient) == {"SX", "SX-YC", "SX-KQ", "SX-SY", "SX-ZJ", "SX-SZ", "SX-XC", "SX-BH"}
    assert by_recipient["SX-YC"]["to"] == ["pingan@yc.sx.example.org", "zzzx@yc.sx.example.org"]
    assert all(n["key"].startswith("report:monthly:2025-10:") for n in notices)
    assert len({n["number"] for n in notices}) == 8
    assert "越城区2025年10月风险隐患月研判报告" in by_recipient["SX-YC"]["subject"]
    # another period is another report
    cli.ok("report", "monthly", "--period", "2025-09", "--send", "--scope", "SX", now=NOW)
    assert len(_reports(cli)) == 9


def test_the_report_is_mailed_once_with_its_charts_inline(cli: Cli, tmp_path: Path) -> None:
    pending_before = [n["id"] for n in cli.json("notices", "--status", "pending", now=NOW) if n["kind"] != "report"]
    sent = cli.ok("report", "monthly", "--send", now=NOW)
    assert "mailed 8, 0 to retry, 0 failed" in sent.stdout
    mails = sorted((tmp_path / "outbox").glob("report_*.eml"))
    assert len(mails) == 8  # --send mails at once ...
    assert all(n["status"] == "sent" for n in _reports(cli))
    pending_after = [n["id"] for n in cli.json("notices", "--status", "pending", now=NOW) if n["kind"] != "report"]
    assert pending_before and pending_after == pending_before  # ... its own reports only
    again = cli.ok("report", "monthly", "--send", now="2025-11-03T10:00:00+08:00")
    assert "mailed 0," in again.stdout
    cli.ok("dispatch", now="2025-11-03T10:00:00+08:00")
    assert sorted((tmp_path / "outbox").glob("report_*.eml")) == mails  # and once
    for path in mails:
        msg = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
        images = {p["Content-ID"].strip("<>"): p for p in related.iter_parts() if p.get_content_maintype() == "image"}
        # the default config ships indicators.yaml with monitoring points in every county: its chart comes too
        assert set(images) == {"trend", "overdue_by_township", "clearance_ranking", "indicators"}
        for part in images.values():
            png = part.get_content()
            assert png.startswith(b"\x89PNG") and len(png) > 10_000
        html = msg.get_body(preferencelist=("html",)).get_content()
        parsed = parse_html(html)
        assert sorted(parsed.images) == sorted(f"cid:{cid}" for cid in images)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        assert "研判报告" in text and "一、总体情况" in text
        assert "研判报告" in str(msg["Subject"])
        # the monthly report carries its scope's ledger (台账) as a real Excel workbook
        ledgers = [p for p in msg.iter_attachments() if p.get_filename() and p.get_filename().endswith(".xlsx")]
        assert len(ledgers) == 1
        book = openpyxl.load_workbook(io.BytesIO(ledgers[0].get_content()), read_only=True)
        assert book.worksheets and next(book.worksheets[0].iter_rows(max_row=1, values_only=True))[0] == "编号"


def test_report_out_writes_files_a_person_can_open(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "yc"
    cli.ok("report", "monthly", "--period", "2025-09", "--scope", "越城区", "--out", str(out), now=NOW)
    assert {p.name for p in out.iterdir()} == {
        "report.html",
        "report.txt",
        "figures.json",
        "trend.png",
        "overdue_by_township.png",
        "clearance_ranking.png",
        "indicators.png",  # the default config's indicators.yaml has points in the county
    }
    parsed = parse_html((out / "report.html").read_text(encoding="utf-8"))
    assert sorted(parsed.images) == ["clearance_ranking.png", "indicators.png", "overdue_by_township.png", "trend.png"]
    body = "".join(parsed.text)
    assert "越城区2025年9月风险隐患月研判报告" in body
    assert "在全市" in body  # the county is ranked among its peers
    assert "预览稿" in body  # not queued, so not numbered
    figures = json.loads((out / "figures.json").read_text(encoding="utf-8"))
    assert figures["scope"]["code"] == "SX-YC" and figures["period"]["label"] == "2025-09"
    for name in ("trend", "overdue_by_township", "clearance_ranking"):
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_report_json_prints_the_figures_of_the_scope(cli: Cli, template_db: Path) -> None:
    data = cli.json("report", "weekly", "--period", "2025-W40", "--scope", "SX-KQ", now=NOW)
    app = bootstrap(db=cli.db, config_dir=CONFIG_DIR)
    with unit_of_work(app.engine, write=False) as conn:
        direct = build_figures(conn, app.rules, Period.parse("weekly", "2025-W40"), [resolve_scope(app.rules, "SX-KQ")])
    app.close()
    # the indicator section comes from indicators.yaml beside the policy (the default config ships one)
    assert data.pop("indicators")["points"] > 0
    assert data == json.loads(json.dumps(direct["SX-KQ"]))
    sent = cli.json("report", "daily", "--send", now=NOW)
    assert sent["period"]["label"] == "2025-11-02"
    assert len(sent["notices"]["queued"]) == 8
    again = cli.json("report", "daily", "--send", now=NOW)
    assert len(again["notices"]["already_queued"]) == 8
    assert {k: v for k, v in again.items() if k != "notices"} == {k: v for k, v in sent.items() if k != "notices"}


@pytest.mark.parametrize(
    "args",
    [
        ("yearly",),
        ("monthly", "--period", "2025-13"),
        ("weekly", "--period", "2025-10"),
        ("monthly", "--period", "2025-11"),  # not over at --now
        ("monthly", "--scope", "不存在"),
        ("monthly", "--scope", "绍兴市应急管理局"),  # a department is not a scope
    ],
)
def test_bad_report_requests_are_invalid_input(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli("report", *args, now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert _reports(cli) == []


def test_the_scheduled_job_queues_each_report_once_even_when_two_run_at_once(cli: Cli) -> None:
    from hazardloop.flows.reports import build_and_queue

    now = datetime.fromisoformat("2025-10-06T08:30:00+08:00")
    results: list[dict] = []

    def job() -> None:
        results.append(build_and_queue.fn("weekly", None, now, cli.db, str(CONFIG_DIR)))

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r["queued"]) for r in results) == [0, 8]
    assert all(r["period"] == "2025-W40" for r in results)
    notices = _reports(cli)
    assert len(notices) == 8
    later = build_and_queue.fn("weekly", None, now, cli.db, str(CONFIG_DIR))
    assert later["queued"] == [] and len(later["already_queued"]) == 8
    assert _reports(cli) == notices


@pytest.mark.prefect
def test_the_periodic_report_runs_as_a_prefect_flow(cli: Cli) -> None:
    import asyncio
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    from hazardloop.flows.reports import periodic_report

    now = datetime.fromisoformat("2025-10-01T09:00:00+08:00")
    with prefect_test_harness(server_startup_timeout=120):
        first = asyncio.run(periodic_report("monthly", now=now, db=cli.db, config=str(CONFIG_DIR)))
        second = asyncio.run(periodic_report("monthly", now=now, db=cli.db, config=str(CONFIG_DIR)))
    assert first["period"] == "2025-09" and len(first["queued"]) == 8
    assert second["queued"] == [] and len(second["already_queued"]) == 8
    assert len(_reports(cli)) == 8
