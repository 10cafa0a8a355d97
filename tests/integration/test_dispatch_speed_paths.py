"""The fast paths of sending keep what the slow ones guaranteed.

Messages are built with their headers already in wire form instead of through the default policy's
parse-and-refold; they must read and travel exactly like messages built the slow way. Envelopes are cached, but
never a refusal. Templates are checked for edits once a second instead of on every render, and an edit is still
picked up. The archive names the Message-ID that went out without parsing it back from the message. The next
notice is prepared while the server digests the current one, and each send is still decided by its own reply.
"""

from __future__ import annotations

import copy
import email
import email.generator
import io
import os
import smtplib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st

from hazardloop.models.core.text import one_line
from hazardloop.notifications import messages, rendering
from hazardloop.notifications.mail_errors import PermanentMailError, TransientMailError
from hazardloop.notifications.mailers import MemoryBackend, SMTPBackend
from hazardloop.notifications.messages import build_message, message_envelope, safe_message_id
from hazardloop.notifications.rendering import NoticeRenderer, RenderedNotice
from tests.support.digest import late_fire_hazards
from tests.support.fixtures import CONFIG_DIR
from tests.support.smtp import ScriptedHandler, free_port

SHANGHAI = timezone(timedelta(hours=8))
DATE = datetime(2025, 10, 13, 9, 30, tzinfo=SHANGHAI)
HEADERS = ("Subject", "From", "To", "Cc", "Date", "Message-ID", "MIME-Version")


def _reference(rendered: RenderedNotice, sender: str, to: Sequence[str], cc: Sequence[str], key: str) -> EmailMessage:
    """The message as the default policy builds it, header by header and part by part (the slow way)."""
    parts = []
    for content, subtype in ((rendered.text, "plain"), (rendered.html, "html")):
        part = MIMEPart()
        part.set_content(content, subtype=subtype, charset="utf-8", cte="base64")
        parts.append(part)
    message = EmailMessage()
    message["Subject"] = one_line(rendered.subject)  # every header is made one line, blanks at its ends trimmed
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = format_datetime(DATE)
    message["Message-ID"] = f"<{safe_message_id(key)}@hazardloop>"
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = "multipart/alternative"
    for part in parts:
        message.attach(part)
    return message


def _wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def _received(message: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(_wire(message), policy=policy.default)  # type: ignore[return-value]


CASES = [
    pytest.param(
        "【隐患交办单】府山平安交〔2025〕12号 HZ-2025-000123 仓桥社区某小区消防通道堵塞",
        "府山街道平安建设办公室 <pingan@fs.example.org>",
        ["zz@cq.example.org"],
        ["pingan@yc.example.org"],
        "hazard:HZ-2025-000123:assignment",
        id="chinese-subject-and-sender",
    ),
    pytest.param("plain ascii subject", "hazardloop@example.org", ["a@b.example.org"], [], "n-1", id="ascii"),
    pytest.param("x" * 200, '"Office, Town" <a@b.example.org>', ["a@b.example.org"], [], "n-2", id="long-ascii"),
    pytest.param(
        "混合 mixed 😀 emoji " * 8,
        "非常长的名字" * 8 + " <a@b.example.org>",
        [f"user{i}@unit{i}.example.org" for i in range(8)],
        [f"cc{i}@x.example.org" for i in range(6)],
        "hazard:HZ-2025-000123/supervision level=county" + "k" * 100,
        id="long-everything",
    ),
]


@pytest.mark.parametrize(("subject", "sender", "to", "cc", "key"), CASES)
def test_a_built_message_reads_and_travels_like_one_built_the_slow_way(
    subject: str, sender: str, to: list[str], cc: list[str], key: str
) -> None:
    rendered = RenderedNotice(subject, "第一行\n第二行 line\n", "<p>正文 &amp; body</p>\n")
    fast = build_message(rendered, sender=sender, to=to, cc=cc, message_id=key, date=DATE)
    slow = _reference(rendered, sender, to, cc, key)

    for name in HEADERS:  # read back from the object, before sending
        assert str(fast[name]) == str(slow[name]), name
    wire = _wire(fast)
    wire.decode("ascii")  # 7-bit on the wire
    assert all(len(line) <= 998 for line in wire.split(b"\r\n"))
    sent, reference = _received(fast), _received(slow)
    for name in HEADERS:  # and as a receiver parses them
        assert str(sent[name]) == str(reference[name]), name
    assert str(sent["Subject"]) == one_line(subject)  # blanks at its ends trimmed
    assert sent.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in sent.iter_parts()] == ["text/plain", "text/html"]
    assert [p.get_content() for p in sent.iter_parts()] == [rendered.text, rendered.html]
    assert message_envelope(fast) == message_envelope(slow)


def test_the_parts_are_byte_for_byte_what_set_content_makes() -> None:
    rendered = RenderedNotice("主题", "正文\r\n第二行\n" * 40, "<p>正文</p>\n" * 90)
    fast = build_message(rendered, sender="a@b.example.org", to=["c@d.example.org"], cc=[], message_id="k", date=DATE)
    slow = _reference(rendered, "a@b.example.org", ["c@d.example.org"], [], "k")

    for ours, theirs in zip(fast.iter_parts(), slow.iter_parts(), strict=True):
        assert ours.as_bytes() == theirs.as_bytes()


@settings(max_examples=300, deadline=None)
# subjects as notice_row makes them: words joined by single spaces (a blank header reads back empty either way)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=300)
    .map(lambda text: " ".join(text.split()))
    .filter(bool)
)
def test_any_subject_comes_back_exactly_from_the_wire(subject: str) -> None:
    rendered = RenderedNotice(subject, "t\n", "<p>t</p>\n")
    message = build_message(
        rendered, sender="a@b.example.org", to=["c@d.example.org"], cc=[], message_id="k", date=DATE
    )

    assert str(_received(message)["Subject"]) == str(message["Subject"])
    if not subject.isascii():
        assert str(message["Subject"]) == subject
        for line in _wire(message).split(b"\r\n"):
            assert len(line) <= 78
        words = [w for w in _wire(message).split() if w.startswith(b"=?")]
        assert words and all(len(w) <= 75 for w in words)  # RFC 2047's limit for one encoded word


@pytest.mark.parametrize("bad", ["a\rb", "a\nBcc: x@example.org", "a\x0bb", "a\u2028b", "主题\x85Bcc: x@example.org"])
def test_a_line_break_in_a_header_value_never_reaches_the_header(bad: str) -> None:
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        EmailMessage()["Subject"] = bad  # what the standard library does with it: refuse
    # the engine's writer is safe on its own: the line break becomes a blank, so no header is smuggled in (Bcc:)
    # and one bad title (from an old database, or a unit's name) cannot stop its notice
    message = build_message(
        RenderedNotice(bad, "t\n", "h\n"), sender="a@b.example.org", to=["c@d.org"], cc=[], message_id="k", date=DATE
    )
    received = _received(message)
    assert received["Subject"] == " ".join(bad.replace("\x85", " ").replace("\u2028", " ").split())
    assert received["Bcc"] is None and received["To"] == "c@d.org"
    for line in _wire(message).split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line and not line.startswith(b"Bcc")
    smuggled = build_message(
        RenderedNotice("s", "t\n", "h\n"), sender="a@b.example.org", to=[bad], cc=[], message_id="k", date=DATE
    )
    assert _received(smuggled)["Bcc"] is None


def test_nested_containers_have_distinct_boundaries_that_no_part_contains() -> None:
    rendered = RenderedNotice("月报", "正文\n", "<img src='cid:trend'>\n")
    message = build_message(
        rendered,
        sender="a@b.example.org",
        to=["c@d.example.org"],
        cc=[],
        message_id="r",
        date=DATE,
        inline_images={"trend": b"\x89PNG" * 300},
        attachments=[("隐患台账.xlsx", b"--" * 500, "application/vnd.ms-excel")],
    )
    received = _received(message)
    containers = [p for p in received.walk() if p.is_multipart()]
    boundaries = [p.get_boundary() for p in containers]

    assert [p.get_content_type() for p in containers] == [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
    ]
    assert len(set(boundaries)) == 3
    for leaf in (p for p in received.walk() if not p.is_multipart()):
        body = leaf.get_payload()
        assert not any(f"--{b}" in body for b in boundaries)
    assert received.get_body(preferencelist=("plain",)).get_content() == "正文\n"
    attachment = next(received.iter_attachments())
    assert attachment.get_filename() == "隐患台账.xlsx" and attachment.get_content() == b"--" * 500


def test_a_refused_envelope_is_refused_every_time_and_a_good_one_is_not_shared() -> None:
    rendered = RenderedNotice("s", "t\n", "h\n")
    bad = build_message(rendered, sender="a@b.example.org", to=["not-an-address"], cc=[], message_id="k", date=DATE)
    for _ in range(2):  # a refusal raises, so it is never remembered as an answer
        with pytest.raises(PermanentMailError, match="malformed"):
            message_envelope(bad)
    good = build_message(rendered, sender="a@b.example.org", to=["c@d.example.org"], cc=[], message_id="k", date=DATE)
    first = message_envelope(good)
    first[1].append("x@y.example.org")  # the caller's list is its own
    assert message_envelope(good) == ("a@b.example.org", ["c@d.example.org"])


def test_an_edited_template_is_picked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.notices import sample_context

    template = tmp_path / "delisting.subject.txt"
    template.write_text("第一版 {{ number }}", encoding="utf-8")
    renderer = NoticeRenderer(override_dir=tmp_path)
    assert renderer.render("delisting", sample_context("delisting")).subject.startswith("第一版")

    template.write_text("第二版 {{ number }}", encoding="utf-8")
    later = template.stat().st_mtime + 5
    os.utime(template, (later, later))  # a file system with coarse timestamps still sees a change
    monkeypatch.setattr(rendering, "RELOAD_CHECK_SECONDS", 0.0)  # as if the check interval had passed
    assert renderer.render("delisting", sample_context("delisting")).subject.startswith("第二版")


def test_the_archive_names_the_message_id_that_went_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = late_fire_hazards(tmp_path, True, monkeypatch)  # four assignments sent; four supervisions pending
    cli.ok("dispatch", now="2025-03-14T09:00:00+08:00")  # the supervisions go out as one digest

    sent = {}
    for path in (tmp_path / "outbox").glob("*.eml"):
        parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        sent[str(parsed["Message-ID"])] = parsed
    db = sqlite3.connect(cli.db.removeprefix("sqlite:///"))
    archived = [row[0] for row in db.execute("select message_id from notice_archive")]
    db.close()

    assert len(archived) == 8 and len(sent) == 5
    assert set(archived) == set(sent)
    assert sum(1 for m in archived if m.startswith("<digest-")) == 4


def test_the_reused_header_objects_are_the_default_policys_headers() -> None:
    value = "府山街道平安建设办公室 <pingan@fs.example.org>"
    ours = messages._POLICY.header_factory("From", value)

    assert ours is messages._POLICY.header_factory("From", value)
    assert str(ours) == str(policy.default.header_factory("From", value))
    assert ours.addresses == policy.default.header_factory("From", value).addresses


# --- using the time the server takes over each message ----------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[ScriptedHandler, str]]:
    handler = ScriptedHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def _notice(key: str, to: str = "c@d.example.org") -> EmailMessage:
    rendered = RenderedNotice("主题", "正文\n", "<p>正文</p>\n")
    return build_message(rendered, sender="a@b.example.org", to=[to], cc=[], message_id=key, date=DATE)


def test_the_task_runs_once_while_the_server_digests_and_the_verdict_still_decides(
    server: tuple[ScriptedHandler, str],
) -> None:
    handler, url = server
    ran: list[str] = []
    with SMTPBackend(url, timeout=5) as backend:
        backend.run_while_waiting(lambda: ran.append("first"))
        backend.send(_notice("n1"))
        backend.send(_notice("n2"))  # nothing registered: nothing runs again
        handler.script = ["554 5.7.1 rejected"]
        backend.run_while_waiting(lambda: ran.append("rejected"))
        with pytest.raises(PermanentMailError, match="554"):
            backend.send(_notice("n3"))
        handler.script = ["451 4.3.0 later"]
        backend.run_while_waiting(lambda: ran.append("deferred"))
        with pytest.raises(TransientMailError, match="451"):
            backend.send(_notice("n4"))
        backend.send(_notice("n5"))  # the connection is still in step after the refusals

    assert ran == ["first", "rejected", "deferred"]
    assert [_received_id(content) for _, content in handler.messages] == [
        "<n1@hazardloop>",
        "<n2@hazardloop>",
        "<n5@hazardloop>",
    ]


def _received_id(content: bytes) -> str:
    return str(email.message_from_bytes(content, policy=policy.default)["Message-ID"])


def test_the_task_does_not_run_when_the_message_never_went_out(server: tuple[ScriptedHandler, str]) -> None:
    handler, url = server
    ran: list[str] = []
    with SMTPBackend(url, timeout=5) as backend:
        backend.run_while_waiting(lambda: ran.append("malformed"))
        with pytest.raises(PermanentMailError, match="malformed"):
            backend.send(_notice("n1", to="not-an-address"))
        backend.send(_notice("n2"))  # the task was for that one send only

    assert ran == [] and len(handler.messages) == 1


def test_a_failing_task_still_lets_the_server_answer_and_the_connection_go_on(
    server: tuple[ScriptedHandler, str],
) -> None:
    handler, url = server

    def broken() -> None:
        raise RuntimeError("the next notice could not be prepared")

    with SMTPBackend(url, timeout=5) as backend:
        backend.run_while_waiting(broken)
        with pytest.raises(RuntimeError, match="could not be prepared"):
            backend.send(_notice("n1"))
        backend.send(_notice("n2"))

    assert [_received_id(content) for _, content in handler.messages] == ["<n1@hazardloop>", "<n2@hazardloop>"]


class WaitingBackend(MemoryBackend):
    """A memory backend that, like SMTP, runs the registered task during each send; records what happened when."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events
        self._task: Callable[[], None] | None = None

    def run_while_waiting(self, task: Callable[[], None]) -> None:
        self._task = task

    def send(self, message: EmailMessage) -> None:
        task, self._task = self._task, None
        self.events.append(f"send {message['Message-ID']}")
        if task is not None:
            task()
        super().send(message)


class RecordingRenderer(NoticeRenderer):
    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def render(self, kind: str, context: Mapping[str, Any]) -> RenderedNotice:
        self.events.append(f"render {context['number']}")
        return super().render(kind, context)


def _row(id: int, to: list[str]) -> SimpleNamespace:
    from tests.support.notices import sample_context

    context = {**sample_context("assignment"), "number": f"No.{id}"}
    return SimpleNamespace(
        id=id,
        key=f"k{id}",
        kind="assignment",
        number=f"No.{id}",
        subject=f"subject {id}",
        recipient_code="SX-YC-FS",
        to_addrs=to,
        cc_addrs=[],
        attempts=0,
        created_at=DATE,
        context=context,
        sha256=None,
        delivered_to=None,
    )


def test_the_next_notice_is_prepared_during_the_send_and_outcomes_keep_the_row_order(tmp_path: Path) -> None:
    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.notifications.dispatch import DispatchReport, _deliver_each

    app = bootstrap(db=f"sqlite:///{tmp_path / 'x.db'}", config_dir=CONFIG_DIR)
    rules = app.rules
    events: list[str] = []
    backend, report = WaitingBackend(events), DispatchReport()
    backend.fail_next(TransientMailError("The mail server is busy."))
    rows = [_row(1, ["a@b.example.org"]), _row(2, []), _row(3, ["c@d.example.org"]), _row(4, ["e@f.example.org"])]

    outcomes = _deliver_each(
        rows, rules, backend, RecordingRenderer(events), "s@x.example.org", DATE, app.delivery, report, {}
    )

    assert events == [
        "render No.1",
        "send <k1@hazardloop>",
        # row 2 has no address, so it is refused while row 1 is on its way, and nothing is sent for it
        "render No.3",
        "send <k3@hazardloop>",
        "render No.4",  # during the send of row 3
        "send <k4@hazardloop>",
    ]
    assert [o["status"] for o in outcomes] == ["pending", "failed", "sent", "sent"]
    assert [o["b_id"] for o in outcomes] == [1, 2, 3, 4]
    assert (report.sent, report.retrying, report.failed) == (2, 1, 1)
    assert len(report.errors) == 1 and "no e-mail address" in report.errors[0]
    assert [str(m["Message-ID"]) for m in backend.outbox] == ["<k3@hazardloop>", "<k4@hazardloop>"]


# --- the bytes on the wire --------------------------------------------------------------------------------


def _alert(body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@b.example.org", "o@p.example.org", "[hazardloop] alert"
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return message


def _wire_samples() -> list[EmailMessage]:
    notice = RenderedNotice(
        "【督办通知书】府山平安督〔2025〕3号 消防通道堵塞", "正文\n.点开头\n" * 30, "<p>正文</p>\n" * 40
    )
    return [
        build_message(
            notice,
            sender="府山街道平安建设办公室 <pingan@fs.example.org>",
            to=["c@d.example.org"],
            cc=["e@f.example.org"],
            message_id="hazard:HZ-1:supervision",
            date=DATE,
        ),
        build_message(
            notice,
            sender="a@b.example.org",
            to=["c@d.example.org"],
            cc=[],
            message_id="r",
            date=DATE,
            attachments=[("隐患台账.xlsx", b"PK" * 999, "application/vnd.ms-excel")],
            inline_images={"trend": b"\x89PNG" * 99},
        ),
        _alert("Notice 1 was given up.\nFrom the server: 550\n.a line with a leading dot\n"),
        _alert("hidden copy\n", Bcc="secret@x.example.org"),
        _alert("正文八位\n" * 3),
    ]


def test_what_goes_over_smtp_is_byte_for_byte_what_smtplib_sends(server: tuple[ScriptedHandler, str]) -> None:
    handler, url = server
    samples = _wire_samples()
    port = int(url.rpartition(":")[2])
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as reference:
        for message in samples:
            sender, recipients = message_envelope(message)
            reference.send_message(message, from_addr=sender, to_addrs=recipients)
    with SMTPBackend(url, timeout=5) as backend:
        for message in samples:
            backend.send(message)

    theirs, ours = handler.messages[: len(samples)], handler.messages[len(samples) :]
    assert [content for _, content in ours] == [content for _, content in theirs]
    assert [rcpts for rcpts, _ in ours] == [rcpts for rcpts, _ in theirs]
    assert all(b"secret@" not in content for _, content in ours)


def _generator_bytes(message: EmailMessage) -> bytes:
    """What `smtplib.SMTP.send_message` flattens a message to (its own code path, step by step)."""
    copied = copy.copy(message)
    del copied["Bcc"]
    del copied["Resent-Bcc"]
    with io.BytesIO() as out:
        email.generator.BytesGenerator(out).flatten(copied, linesep="\r\n")
        return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    subject=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=120),
    text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400),
    to=st.lists(st.from_regex(r"[a-z]{1,12}@[a-z]{1,10}\.example\.org", fullmatch=True), min_size=1, max_size=6),
)
def test_the_quick_writer_writes_what_the_generator_writes(subject: str, text: str, to: list[str]) -> None:
    rendered = RenderedNotice(subject, text, f"<p>{text}</p>\n")
    message = build_message(rendered, sender="府山 <a@b.example.org>", to=to, cc=to[:1], message_id=subject, date=DATE)

    assert messages.smtp_bytes(message) == _generator_bytes(message)


def test_the_quick_writer_is_used_for_notices_and_not_for_what_it_does_not_know() -> None:
    notice, report, *alerts = _wire_samples()

    assert messages._plain_wire(notice, [], 78)
    assert not messages._plain_wire(report, [], 78)  # attachment headers are header objects
    assert not any(messages._plain_wire(alert, [], 78) for alert in alerts)
    for message in _wire_samples():
        assert messages.smtp_bytes(message) == _generator_bytes(message)


def test_an_oserror_in_the_task_is_not_taken_for_a_dropped_connection(server: tuple[ScriptedHandler, str]) -> None:
    handler, url = server

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    with SMTPBackend(url, timeout=5) as backend:
        backend.run_while_waiting(disk_full)
        with pytest.raises(OSError, match="No space left") as raised:
            backend.send(_notice("n1"))
        assert not isinstance(raised.value, TransientMailError)
        backend.send(_notice("n2"))

    assert len(handler.messages) == 2
