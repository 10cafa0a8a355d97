"""The outbox against a real SMTP server on loopback (aiosmtpd): delivery, copies, Chinese subjects, escaping,
retries after 4xx, no retry after 5xx, a crash between send and commit, the archive and the operator's alert."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR, Cli, write_events
from tests.support.smtp import ScriptedHandler, parsed_mail, scripted_smtp_server

NOW = "2025-03-03T12:00:00+08:00"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedHandler]:
    yield from scripted_smtp_server(monkeypatch)


@pytest.fixture
def mail_cli(sqlite_url: str, tmp_path: Path, smtp: ScriptedHandler) -> Cli:
    cli = Cli(sqlite_url, tmp_path)
    cli.ok("init")
    return cli


def _detect(cli: Cli, tmp_path: Path, n: int, title: str = "消防通道堵塞") -> None:
    events = [detected(f"M-{i}", "2025-03-03T08:00:00+08:00", title=f"{title} {i}") for i in range(n)]
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", events)), now=NOW)


def test_a_batch_is_delivered_with_copies_chinese_subjects_and_escaped_html(
    mail_cli: Cli, smtp: ScriptedHandler, tmp_path: Path
) -> None:
    _detect(mail_cli, tmp_path, 4, title="<script>alert(1)</script>楼道堆物 Bcc: evil@example.org")
    result = json.loads(mail_cli.ok("dispatch", "--json", now=NOW).stdout)
    assert result["sent"] == 4 and result["failed"] == 0
    assert len(smtp.messages) == 4
    notices = mail_cli.json("notices", now=NOW)
    for rcpts, content in smtp.messages:
        msg = parsed_mail(content)
        notice = next(n for n in notices if n["number"] in str(msg["Subject"]))
        assert sorted(rcpts) == sorted(notice["to"] + notice["cc"])
        assert "隐患交办单" in str(msg["Subject"]) and "\n" not in str(msg["Subject"])
        assert msg["Bcc"] is None
        assert msg.get_content_type() == "multipart/alternative"
        html = msg.get_body(preferencelist=("html",)).get_content()
        text = msg.get_body(preferencelist=("plain",)).get_content()
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "楼道堆物" in text
        assert notice["status"] == "sent" and len(notice["sha256"]) == 64


def test_the_archive_proves_what_was_sent(mail_cli: Cli, smtp: ScriptedHandler, tmp_path: Path) -> None:
    import sqlite3

    _detect(mail_cli, tmp_path, 1)
    mail_cli.ok("dispatch", now=NOW)
    notice = mail_cli.json("notices", now=NOW)[0]
    db = sqlite3.connect(mail_cli.db.removeprefix("sqlite:///"))
    subject, text, html, sha = db.execute("select subject, text, html, sha256 from notice_archive").fetchone()
    assert hashlib.sha256("\n".join((subject, text, html)).encode()).hexdigest() == sha == notice["sha256"]
    sent = parsed_mail(smtp.messages[0][1])
    assert sent.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")


def test_a_4xx_answer_is_retried_later_and_sent_once(mail_cli: Cli, smtp: ScriptedHandler, tmp_path: Path) -> None:
    _detect(mail_cli, tmp_path, 1)
    smtp.script = ["451 4.3.0 try again later"]
    first = json.loads(mail_cli.ok("dispatch", "--json", now=NOW).stdout)
    assert first["retrying"] == 1 and smtp.messages == []
    notice = mail_cli.json("notices", now=NOW)[0]
    assert notice["status"] == "pending" and notice["attempts"] == 1 and "451" in notice["last_error"]
    # not before its next try …
    assert json.loads(mail_cli.ok("dispatch", "--json", now=NOW).stdout)["sent"] == 0
    # … but after it
    later = json.loads(mail_cli.ok("dispatch", "--json", now="2025-03-03T12:02:00+08:00").stdout)
    assert later["sent"] == 1 and len(smtp.messages) == 1
    notice = mail_cli.json("notices", now=NOW)[0]
    assert notice["status"] == "sent" and notice["attempts"] == 2


def test_a_5xx_answer_fails_the_notice_without_retrying(mail_cli: Cli, smtp: ScriptedHandler, tmp_path: Path) -> None:
    _detect(mail_cli, tmp_path, 1)
    smtp.script = ["554 5.7.1 rejected"]
    result = json.loads(mail_cli.ok("dispatch", "--json", now=NOW).stdout)
    assert result["failed"] == 1
    mail_cli.ok("dispatch", now="2025-03-04T12:00:00+08:00")
    notice = mail_cli.json("notices", now=NOW)[0]
    assert notice["status"] == "failed" and notice["attempts"] == 1 and "554" in notice["last_error"]
    assert smtp.messages == []


def test_a_crash_between_send_and_commit_resends_the_same_message_id(
    mail_cli: Cli, smtp: ScriptedHandler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import hazardloop.models.store.outbox as outbox_module

    _detect(mail_cli, tmp_path, 3)
    monkeypatch.setenv("HAZARDLOOP_NOTICE_LEASE_SECONDS", "4")

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt("power cut after sending, before recording")

    with monkeypatch.context() as patch:
        patch.setattr(outbox_module, "bulk_insert", crash)  # the archive write of the outcome
        assert mail_cli("dispatch", now=NOW).exit_code != 0  # the command line turns the interrupt into an abort
    crashed = time.monotonic()
    assert len(smtp.messages) == 1  # each outcome is recorded before the next send: the crash stops the batch there
    assert {n["status"] for n in mail_cli.json("notices", now=NOW)} == {"pending"}
    # the lease (on the real clock) keeps every other dispatcher off the rows, even one acting as of a later day
    assert json.loads(mail_cli.ok("dispatch", "--json", now="2025-03-04T12:00:00+08:00").stdout)["sent"] == 0
    assert time.monotonic() - crashed < 4, "the machine was too slow to check the lease while it held"
    # once it has run out, the rows go again, with the same Message-IDs
    time.sleep(max(0.0, 4.5 - (time.monotonic() - crashed)))
    mail_cli.ok("dispatch", now=NOW)
    ids = [str(parsed_mail(content)["Message-ID"]) for _, content in smtp.messages]
    assert len(ids) == 4 and len(set(ids)) == 3 and ids.count(ids[0]) == 2  # only the one in flight went twice
    assert {n["status"] for n in mail_cli.json("notices", now=NOW)} == {"sent"}


def test_a_dispatcher_that_lost_its_claim_records_nothing_for_those_rows(
    mail_cli: Cli, smtp: ScriptedHandler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that outlives its lease: another dispatcher takes the rows over and records them; the first one
    records only what it still holds, so no row is marked or archived twice."""
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.models.store.outbox import SqlOutbox
    from hazardloop.notifications.dispatch import dispatch

    _detect(mail_cli, tmp_path, 2)
    app = bootstrap(db=mail_cli.db, config_dir=CONFIG_DIR)
    as_of = datetime.fromisoformat(NOW)
    # the second dispatcher's real time is past the first one's hold: as if the first had hung that long
    hung = SimpleNamespace(wall_now=lambda: app.clock.wall_now() + app.delivery.lease + timedelta(minutes=1))
    real_send = app.mail_backend().__class__.send
    overtaken: list[Any] = []
    started: list[bool] = []

    def send_then_be_overtaken(self: Any, message: Any) -> None:
        real_send(self, message)
        if not started:  # while the first dispatcher sends, a second one takes the expired claim and finishes
            started.append(True)
            backend = app.mail_backend()
            overtaken.append(
                dispatch(
                    SqlOutbox(app.engine), app.rules, backend, app.renderer, as_of, delivery=app.delivery, clock=hung
                )
            )

    monkeypatch.setattr(app.mail_backend().__class__, "send", send_then_be_overtaken)
    first = dispatch(
        SqlOutbox(app.engine),
        app.rules,
        app.mail_backend(),
        app.renderer,
        as_of,
        delivery=app.delivery,
        clock=app.clock,
    )
    app.close()
    assert overtaken and overtaken[0].sent == 2
    assert first.errors and "another dispatcher has taken them over" in first.errors[0]
    assert first.sent == 0  # both notices are counted (and recorded) by the dispatcher that took them over
    notices = mail_cli.json("notices", now=NOW)
    assert {n["status"] for n in notices} == {"sent"} and {n["attempts"] for n in notices} == {1}


def test_a_notice_given_up_on_alerts_the_operator_once(sqlite_url: str, tmp_path: Path, smtp: ScriptedHandler) -> None:
    import shutil

    import yaml

    folder = tmp_path / "cfg"
    folder.mkdir()
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    policy = yaml.safe_load((CONFIG_DIR / "policy.yaml").read_text(encoding="utf-8"))
    policy["notices"]["operator"] = "ops@sx.example.org"
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    cli = Cli(sqlite_url, tmp_path, folder)
    cli.ok("init")
    _detect(cli, tmp_path, 1)
    smtp.script = ["421 4.4.2 busy"] * 6
    for minute in (0, 2, 8, 24, 90, 400):
        cli.ok("dispatch", now=f"2025-03-03T{12 + minute // 60:02d}:{minute % 60:02d}:00+08:00")
    notice = cli.json("notices", now=NOW)[0]
    assert notice["status"] == "dead" and notice["attempts"] == 6
    alerts = [c for rcpts, c in smtp.messages if rcpts == ["ops@sx.example.org"]]
    assert len(alerts) == 1 and notice["number"] in str(parsed_mail(alerts[0])["Subject"])
