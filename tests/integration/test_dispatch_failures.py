"""The outbox when things go wrong, against a real SMTP server on loopback (aiosmtpd) and real databases: a notice
that cannot be built, a server nobody answers on, a server that takes some recipients and refuses others, a
dispatcher killed mid-batch; and the operator's way back (`notices requeue`, the alert that says so)."""

from __future__ import annotations

import asyncio
import email
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR, Cli, write_events
from tests.support.smtp import free_port

NOW = "2025-03-03T12:00:00+08:00"
LATER = "2025-03-03T12:02:00+08:00"  # past the first retry's backoff (one minute)
OPERATOR = "ops@sx.example.org"
ROOT = Path(__file__).resolve().parents[2]


class Server:
    """Accepts mail and records it (envelope recipients, Message-ID); answers RCPT for an address as told in
    `rcpt_replies` (the first reply of its list each time, until the list is empty); stalls every DATA after the
    first `stall_after` messages until released."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, bytes]] = []
        self.rcpt_replies: dict[str, list[str]] = {}
        self.stall_after: int | None = None
        self.stalled = threading.Event()
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        replies = self.rcpt_replies.get(address)
        if replies:
            return replies.pop(0) if len(replies) > 1 else replies[0]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall_after is not None and len(self.messages) >= self.stall_after:
            self.stalled.set()
            while self.stall_after is not None:  # the dispatcher waits for the verdict; it is killed meanwhile
                await asyncio.sleep(0.05)
        message = email.message_from_bytes(envelope.content, policy=email_policy.default)
        self.messages.append((list(envelope.rcpt_tos), str(message["Message-ID"]), envelope.content))
        return "250 OK"

    def received_by(self, address: str) -> list[str]:
        return [mid for rcpts, mid, _ in self.messages if address in rcpts]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    monkeypatch.setenv("HAZARDLOOP_SMTP_URL", handler.url)
    try:
        yield handler
    finally:
        handler.stall_after = None
        controller.stop()


def _config(tmp_path: Path, **notices: Any) -> Path:
    """The default configuration with an operator to alert (and any other `notices:` settings)."""
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    # the fire brigade gets a duty mailbox beside its office: a notice to it has two recipients, one of which the
    # tests make the server refuse (an assignment copies no one now that offices no longer copy themselves)
    org = (CONFIG_DIR / "org.yaml").read_text(encoding="utf-8")
    org = org.replace("emails: [xf@yc.sx.example.org]", "emails: [xf@yc.sx.example.org, zhiban@xf.yc.sx.example.org]")
    (folder / "org.yaml").write_text(org, encoding="utf-8")
    policy = yaml.safe_load((CONFIG_DIR / "policy.yaml").read_text(encoding="utf-8"))
    policy["notices"].update({"operator": OPERATOR, **notices})
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def mail_cli(db_url: str, tmp_path: Path, server: Server) -> Cli:
    cli = Cli(db_url, tmp_path, _config(tmp_path))
    cli.ok("init")
    return cli


def _detect(
    cli: Cli, tmp_path: Path, n: int, township: str = "府山街道", at: str = "2025-03-03T08:00:00+08:00"
) -> None:
    events = [detected(f"{township}-{i}", at, township=township) for i in range(n)]
    cli.ok("apply", str(write_events(tmp_path / f"d-{township}.jsonl", events)), now=max(NOW, at))


def _notices(cli: Cli) -> list[dict[str, Any]]:
    return cli.json("notices", now=NOW)


def _parsed(content: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(content, policy=email_policy.default)  # type: ignore[return-value]


def _alerts(server: Server) -> list[email.message.EmailMessage]:
    return [_parsed(content) for rcpts, _, content in server.messages if rcpts == [OPERATOR]]


def _rows(url: str) -> list[Any]:
    from hazardloop.models.store.db import make_engine
    from hazardloop.models.store.tables import NoticeRow

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(NoticeRow.__table__).order_by(NoticeRow.__table__.c.id)))
    finally:
        engine.dispose()


# --- one bad notice never blocks the others ---------------------------------------------------------------


def test_a_notice_that_cannot_be_built_fails_alone_and_the_operator_is_told(
    db_url: str, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    # an office's own digest template with a mistake that only shows when it is rendered
    (templates / "digest.txt").write_text("{{ recipient.name }}：共{{ items | length // 0 }}件\n", encoding="utf-8")
    monkeypatch.setenv("HAZARDLOOP_TEMPLATES", str(templates))
    cli = Cli(db_url, tmp_path, _config(tmp_path, digest=True, digest_min=2))
    cli.ok("init")
    _detect(cli, tmp_path, 3)
    cli.ok("dispatch", now=NOW)  # the assignments
    cli.ok("sweep", now="2025-03-11T09:00:00+08:00")  # three reminders to one unit: one digest
    _detect(cli, tmp_path, 1, township="塔山街道", at="2025-03-11T08:00:00+08:00")
    before = len(server.messages)

    result = cli("dispatch", "--json", now="2025-03-11T09:00:00+08:00")

    assert result.exit_code == 0, result.stderr
    reminders = [n for n in _notices(cli) if n["kind"] == "reminder"]
    assert len(reminders) >= 3  # (to acknowledge, and to rectify before the deadline)
    assert {n["status"] for n in reminders} == {"failed"}
    assert all("ZeroDivisionError" in n["last_error"] for n in reminders)
    other = next(n for n in _notices(cli) if n["township"] == "塔山街道")
    assert other["status"] == "sent"  # the batch went on
    alerts = _alerts(server)
    assert sorted(n["number"] for n in reminders) == sorted(
        n["number"] for n in reminders for a in alerts if n["number"] in a["Subject"]
    )
    assert all(a["Subject"].startswith("【通知未能送达】") for a in alerts)
    assert len(server.messages) - before == 1 + len(reminders)  # the other notice and one alert for each reminder


# --- the server cannot be reached -------------------------------------------------------------------------


def test_an_unreachable_server_records_the_attempt_releases_the_claim_and_says_so(
    db_url: str, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(db_url, tmp_path, _config(tmp_path))
    cli.ok("init")
    _detect(cli, tmp_path, 3)
    dead_port = free_port()  # nothing listens there
    monkeypatch.setenv("HAZARDLOOP_SMTP_URL", f"smtp://hazardloop:s3cret-pass@127.0.0.1:{dead_port}")

    result = cli("dispatch", now=NOW)

    assert result.exit_code == 1
    said = result.stderr.strip()
    assert f"127.0.0.1:{dead_port}" in said and "s3cret" not in said and "Traceback" not in said
    assert len(said.splitlines()) == 1 and "nothing was sent, and the 3 notice(s) left will be tried again" in said
    for row in _rows(db_url):
        assert (row.status, row.attempts, row.claimed_by, row.claimed_until) == ("pending", 1, None, None)
        assert f"127.0.0.1:{dead_port}" in row.last_error
    # the server is back: not before the backoff, then at once (no ten-minute lease to wait out)
    monkeypatch.setenv("HAZARDLOOP_SMTP_URL", server.url)
    assert json.loads(cli.ok("dispatch", "--json", now=NOW).stdout)["sent"] == 0
    assert json.loads(cli.ok("dispatch", "--json", now=LATER).stdout)["sent"] == 3
    assert {(n["status"], n["attempts"]) for n in _notices(cli)} == {("sent", 2)}


# --- some recipients accept, others refuse ----------------------------------------------------------------


def test_a_retry_after_a_refused_copy_goes_only_to_the_refused_recipient(
    mail_cli: Cli, tmp_path: Path, server: Server
) -> None:
    _detect(mail_cli, tmp_path, 1)
    notice = _notices(mail_cli)[0]
    to, cc = notice["to"][0], [*notice["to"][1:], *notice["cc"]][0]  # the first accepts, the other is refused
    server.rcpt_replies[cc] = ["451 4.2.0 mailbox busy", "451 4.2.0 mailbox busy", "250 OK"]

    mail_cli.ok("dispatch", now=NOW)
    first = _notices(mail_cli)[0]
    assert first["status"] == "pending" and list(first["delivered_to"]) == [to]
    assert f"temporarily refused {cc}" in first["last_error"] and f"Delivered to {to} already" in first["last_error"]
    mail_cli.ok("dispatch", now=LATER)  # refused again
    server.rcpt_replies.pop(cc)
    mail_cli.ok("dispatch", now="2025-03-03T12:10:00+08:00")

    done = _notices(mail_cli)[0]
    assert done["status"] == "sent" and sorted(done["delivered_to"]) == sorted([to, cc])
    assert len(server.received_by(to)) == 1 and len(server.received_by(cc)) == 1
    assert server.messages[-1][0] == [cc]  # the retry's envelope: the copy recipient only


def test_a_copy_refused_for_good_fails_says_who_has_it_and_a_requeue_sends_only_the_rest(
    mail_cli: Cli, tmp_path: Path, server: Server
) -> None:
    _detect(mail_cli, tmp_path, 1)
    notice = _notices(mail_cli)[0]
    to, cc = notice["to"][0], [*notice["to"][1:], *notice["cc"]][0]  # the first accepts, the other is refused
    server.rcpt_replies[cc] = ["550 5.1.1 no such mailbox"]

    mail_cli.ok("dispatch", now=NOW)
    failed = _notices(mail_cli)[0]
    assert failed["status"] == "failed" and list(failed["delivered_to"]) == [to]
    alert = _alerts(server)[0]  # a permanent failure is told at once, not only an exhausted retry
    assert notice["number"] in alert["Subject"] and alert["Date"] and alert["Message-ID"]
    text = alert.get_body(preferencelist=("plain",)).get_content()
    assert "未能送达" in text and f"hazardloop notices requeue {notice['id']}" in text and to in text

    server.rcpt_replies.pop(cc)  # the office fixed its mailbox
    mail_cli.ok("notices", "requeue", str(notice["id"]), now=LATER)
    mail_cli.ok("dispatch", now=LATER)
    assert _notices(mail_cli)[0]["status"] == "sent"
    assert len(server.received_by(to)) == 1 and len(server.received_by(cc)) == 1


# --- a dispatcher killed mid-batch ------------------------------------------------------------------------


def test_a_dispatcher_killed_mid_batch_resends_at_most_the_message_in_flight(
    mail_cli: Cli, tmp_path: Path, server: Server
) -> None:
    _detect(mail_cli, tmp_path, 8)
    server.stall_after = 3
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HAZARDLOOP_SMTP_URL": server.url}
    command = [sys.executable, "-m", "hazardloop.cli", "--db", mail_cli.db, "--config", str(mail_cli.config)]
    process = subprocess.Popen(
        [*command, "--now", NOW, "dispatch"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert server.stalled.wait(60), process.communicate(timeout=5)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    delivered = [mid for _, mid, _ in server.messages]
    assert len(delivered) == 3
    server.stall_after = None
    # the lease of the killed dispatcher runs out (ten minutes on the real clock; here at once)
    from hazardloop.models.store.db import make_engine
    from hazardloop.models.store.tables import NoticeRow

    engine = make_engine(mail_cli.db)
    with engine.begin() as conn:
        conn.execute(update(NoticeRow.__table__).values(claimed_until=None))
    engine.dispose()

    mail_cli.ok("dispatch", now=NOW)

    ids = [mid for _, mid, _ in server.messages]
    assert len(set(ids)) == 8
    twice = {mid for mid in ids if ids.count(mid) > 1}
    assert twice <= {server.messages[3][1]} and len(ids) <= 9  # only the one in flight at the kill, if any
    assert not set(delivered) & twice
    assert {n["status"] for n in _notices(mail_cli)} == {"sent"}


# --- requeue ----------------------------------------------------------------------------------------------


def test_requeue_sends_failed_and_dead_notices_again_by_id_kind_or_status(
    mail_cli: Cli, tmp_path: Path, server: Server
) -> None:
    _detect(mail_cli, tmp_path, 2)
    _detect(mail_cli, tmp_path, 1, township="安昌街道")  # another county: another unit answers for it
    notices = _notices(mail_cli)
    server.rcpt_replies[notices[0]["to"][0]] = ["550 5.1.1 no such mailbox"]
    assert notices[2]["to"] != notices[0]["to"]
    mail_cli.ok("dispatch", now=NOW)
    assert [n["status"] for n in _notices(mail_cli)] == ["failed", "failed", "sent"]
    server.rcpt_replies.clear()

    dry = json.loads(mail_cli.ok("notices", "requeue", "--status", "failed", "--dry-run", "--json", now=NOW).stdout)
    assert dry == {"requeued": [], "would_requeue": [notices[0]["id"], notices[1]["id"]]}
    assert [n["status"] for n in _notices(mail_cli)] == ["failed", "failed", "sent"]  # nothing changed

    sent_one = mail_cli("notices", "requeue", str(notices[2]["id"]), now=NOW)
    assert sent_one.exit_code == 3 and "sent" in sent_one.stderr
    assert mail_cli("notices", "requeue", "999", now=NOW).exit_code == 2
    assert mail_cli("notices", "requeue", now=NOW).exit_code == 2
    assert mail_cli("notices", "requeue", "--status", "pending", now=NOW).exit_code == 2
    assert mail_cli("notices", "requeue", "--kind", "nonsense", now=NOW).exit_code == 2
    assert [n["status"] for n in _notices(mail_cli)] == ["failed", "failed", "sent"]

    mail_cli.ok("notices", "requeue", str(notices[0]["id"]), now=NOW)
    assert [(n["status"], n["attempts"]) for n in _notices(mail_cli)][:2] == [("pending", 0), ("failed", 1)]
    requeued = json.loads(mail_cli.ok("notices", "requeue", "--kind", "assignment", "--json", now=NOW).stdout)
    assert requeued["requeued"] == [notices[1]["id"]]
    assert json.loads(mail_cli.ok("dispatch", "--json", now=NOW).stdout)["sent"] == 2
    assert {n["status"] for n in _notices(mail_cli)} == {"sent"}


def test_the_requeue_function_is_one_transaction_for_every_entry_point(db_url: str) -> None:
    from datetime import datetime

    from hazardloop.models.core.errors import InvalidInput, Refused
    from hazardloop.models.store.db import unit_of_work
    from hazardloop.models.store.outbox import requeue_notices
    from tests.support.fixtures import ready_app

    now = datetime.fromisoformat(NOW)
    with ready_app(db_url) as app:
        from hazardloop.models.store.intake import apply_lines

        events = [json.dumps(detected(f"R-{i}", "2025-03-03T08:00:00+08:00"), ensure_ascii=False) for i in range(2)]
        apply_lines(app.engine, app.rules, list(enumerate(events, 1)), source="t", now=now)
        from hazardloop.models.store.tables import NoticeRow

        table = NoticeRow.__table__
        with unit_of_work(app.engine) as conn:
            ids = [r.id for r in conn.execute(select(table.c.id).order_by(table.c.id))]
            conn.execute(update(table).where(table.c.id == ids[0]).values(status="dead", attempts=6))
        with pytest.raises(Refused), unit_of_work(app.engine) as conn:
            requeue_notices(conn, ids=ids, now=now)  # the second is pending: nothing at all is requeued
        with pytest.raises(InvalidInput), unit_of_work(app.engine) as conn:
            requeue_notices(conn, now=now)
        with unit_of_work(app.engine) as conn:
            assert requeue_notices(conn, ids=[ids[0]], now=now) == [ids[0]]
        with unit_of_work(app.engine, write=False) as conn:
            row = conn.execute(select(table).where(table.c.id == ids[0])).one()
        assert (row.status, row.attempts, row.next_try_at) == ("pending", 0, now)


def test_a_server_lost_mid_batch_stops_the_batch_and_records_the_rest_as_attempted(app: Any) -> None:
    """The connection cannot be made again half-way through a batch: what went is recorded as sent, the rest has
    its attempt recorded and its claim released, and the run ends with the sentence instead of trying every
    remaining notice against a server that is not there."""
    from datetime import datetime

    from hazardloop.models.store.intake import apply_lines
    from hazardloop.models.store.outbox import SqlOutbox
    from hazardloop.notifications.dispatch import MailServerUnavailable, dispatch
    from hazardloop.notifications.mail_errors import TransientMailError
    from hazardloop.notifications.mailers import MemoryBackend

    now = datetime.fromisoformat(NOW)
    events = [json.dumps(detected(f"L-{i}", "2025-03-03T08:00:00+08:00"), ensure_ascii=False) for i in range(4)]
    apply_lines(app.engine, app.rules, list(enumerate(events, 1)), source="t", now=now)
    backend = MemoryBackend()
    lost = TransientMailError("The mail server mail.example.org:25 refused the connection.", connecting=True)
    real_send = backend.send

    def send_then_lose_the_server(message: Any, recipients: Any = None) -> None:
        if backend.outbox:  # the first went; then the server is gone
            raise lost
        real_send(message, recipients)

    backend.send = send_then_lose_the_server  # type: ignore[method-assign]
    with pytest.raises(MailServerUnavailable) as raised:
        dispatch(SqlOutbox(app.engine), app.rules, backend, app.renderer, now, delivery=app.delivery, clock=app.clock)

    said = str(raised.value)
    assert "mail.example.org:25" in said and "1 notice(s) were sent before that" in said and "3 notice(s) left" in said
    rows = _rows(str(app.engine.url.render_as_string(hide_password=False)))
    assert [(r.status, r.attempts, r.claimed_by) for r in rows] == [("sent", 1, None)] + [("pending", 1, None)] * 3
    assert all("mail.example.org:25" in r.last_error for r in rows[1:])


def test_eml_outcomes_written_in_groups_still_leave_rows_another_dispatcher_took_to_it(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are rewritten in place, so their outcomes are written a group at a time; a group whose rows another
    dispatcher took over (the first one's lease ran out) is recorded by that one only, once."""
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from hazardloop.models.store.intake import apply_lines
    from hazardloop.models.store.outbox import SqlOutbox
    from hazardloop.notifications.dispatch import dispatch
    from hazardloop.notifications.mailers import FileBackend

    now = datetime.fromisoformat(NOW)
    events = [json.dumps(detected(f"G-{i}", "2025-03-03T08:00:00+08:00"), ensure_ascii=False) for i in range(2)]
    apply_lines(app.engine, app.rules, list(enumerate(events, 1)), source="t", now=now)
    # the second dispatcher's real time is past the first one's hold: as if the first had hung that long
    hung = SimpleNamespace(wall_now=lambda: app.clock.wall_now() + app.delivery.lease + timedelta(minutes=1))
    real_send = FileBackend.send
    overtaken: list[Any] = []

    def send_then_be_overtaken(self: Any, message: Any, recipients: Any = None) -> None:
        real_send(self, message, recipients)
        if not overtaken:
            overtaken.append(None)
            overtaken[0] = dispatch(
                SqlOutbox(app.engine),
                app.rules,
                FileBackend(tmp_path / "b"),
                app.renderer,
                now,
                delivery=app.delivery,
                clock=hung,
            )

    monkeypatch.setattr(FileBackend, "send", send_then_be_overtaken)
    first = dispatch(
        SqlOutbox(app.engine),
        app.rules,
        FileBackend(tmp_path / "a"),
        app.renderer,
        now,
        delivery=app.delivery,
        clock=app.clock,
    )

    assert overtaken[0].sent == 2 and first.sent == 0
    assert first.errors and "another dispatcher has taken them over" in first.errors[0]
    rows = _rows(str(app.engine.url.render_as_string(hide_password=False)))
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]
    from sqlalchemy import func

    from hazardloop.models.store.tables import NoticeArchiveRow

    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(NoticeArchiveRow.__table__)).scalar() == 2


def test_a_requeued_notice_goes_to_the_address_mended_in_org_yaml(
    mail_cli: Cli, tmp_path: Path, server: Server
) -> None:
    _detect(mail_cli, tmp_path, 1)
    notice = _notices(mail_cli)[0]
    wrong, cc = notice["to"][0], [*notice["to"][1:], *notice["cc"]][0]
    server.rcpt_replies[wrong] = ["550 5.1.1 no such mailbox"]
    mail_cli.ok("dispatch", now=NOW)
    assert _notices(mail_cli)[0]["status"] == "failed"

    org = mail_cli.config / "org.yaml"
    org.write_text(org.read_text(encoding="utf-8").replace(wrong, "duty@xf.yc.sx.example.org"), encoding="utf-8")
    mail_cli.ok("init")  # loads the mended organisation
    mail_cli.ok("notices", "requeue", str(notice["id"]), now=LATER)
    mail_cli.ok("dispatch", now=LATER)

    done = _notices(mail_cli)[0]
    assert done["status"] == "sent" and done["to"][0] == "duty@xf.yc.sx.example.org" and wrong not in done["to"]
    assert server.messages[-1][0] == ["duty@xf.yc.sx.example.org"]  # the copy recipient had it already
    assert len(server.received_by(cc)) == 1 and server.received_by(wrong) == []
