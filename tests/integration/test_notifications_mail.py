"""Building notice e-mails and delivering them: MIME structure, SMTP against a real local server, files."""

from __future__ import annotations

import email
import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hazardloop.notifications import mailers
from hazardloop.notifications.mail_errors import PermanentMailError, TransientMailError
from hazardloop.notifications.mailers import (
    FileBackend,
    MemoryBackend,
    SMTPBackend,
    backend_from_settings,
    parse_smtp_url,
)
from hazardloop.notifications.messages import build_message, message_envelope, safe_message_id, validate_address
from hazardloop.notifications.rendering import NoticeRenderer, RenderedNotice
from tests.support.notices import sample_context
from tests.support.smtp import free_port

SHANGHAI = timezone(timedelta(hours=8))
SENDER = "府山街道平安建设办公室 <pingan@fs.example.org>"
TO = "zz@cq.example.org"
CC = "pingan@yc.example.org"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    peer: Any


class RecordingHandler:
    """Records accepted messages; `rcpt_replies[address]` makes the server refuse that recipient."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.rcpt_replies: dict[str, str] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.peer))
        return "250 Message accepted for delivery"


@dataclass
class SMTPServer:
    handler: RecordingHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SMTPServer(handler, port)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def rendered() -> RenderedNotice:
    return NoticeRenderer().render("supervision", sample_context("supervision"))


def _message(
    rendered: RenderedNotice, *, key: str = "notice-42", to: str = TO, cc: tuple[str, ...] = (CC,)
) -> EmailMessage:
    return build_message(
        rendered,
        sender=SENDER,
        to=[to],
        cc=list(cc),
        message_id=key,
        date=datetime(2025, 10, 13, 9, 30, tzinfo=SHANGHAI),
    )


# --- message structure ------------------------------------------------------------------------------------


def test_message_is_alternative_text_then_html(rendered: RenderedNotice) -> None:
    message = _message(rendered)

    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content() == rendered.text
    assert html.get_content() == rendered.html


def test_message_survives_the_wire_with_chinese_subject_and_bodies(rendered: RenderedNotice) -> None:
    raw = _message(rendered).as_bytes()
    raw.decode("ascii")  # every header and body is 7-bit on the wire

    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == rendered.subject
    assert "督办通知书" in parsed["Subject"]
    assert parsed["From"].addresses[0].display_name == "府山街道平安建设办公室"
    assert parsed["To"] == TO
    assert parsed["Cc"] == CC
    assert parsed["Message-ID"] == "<notice-42@hazardloop>"
    assert parsed["Date"] == "Mon, 13 Oct 2025 09:30:00 +0800"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "已逾期2个工作日" in body.get_content()
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and "府山街道平安建设办公室" in html.get_content()


def test_message_id_is_made_safe_from_the_idempotency_key(rendered: RenderedNotice) -> None:
    message = _message(rendered, key="hazard:HZ-2025-000123/supervision level=county")

    assert message["Message-ID"].startswith("<hazard_HZ-2025-000123_supervision_level_county-")
    assert message["Message-ID"].endswith("@hazardloop>")


def test_safe_message_id_is_stable_idempotent_and_keeps_keys_apart() -> None:
    assert safe_message_id("notice-42") == "notice-42"
    assert safe_message_id("HZ-2025-000123.supervision") == "HZ-2025-000123.supervision"
    made = safe_message_id("a:b")
    assert made == safe_message_id("a:b")
    assert safe_message_id(made) == made
    assert made != safe_message_id("a/b")
    assert len(safe_message_id("x" * 500)) <= 120
    with pytest.raises(ValueError):
        safe_message_id("")


def test_attachments_wrap_the_alternative_in_mixed(rendered: RenderedNotice) -> None:
    message = build_message(
        rendered,
        sender=SENDER,
        to=[TO],
        cc=[],
        message_id="r1",
        date=datetime(2025, 10, 13, tzinfo=SHANGHAI),
        attachments=[("隐患台账.csv", "编号,名称\n".encode(), "text/csv")],
    )

    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert attachment.get_filename() == "隐患台账.csv"
    assert attachment.get_content_disposition() == "attachment"
    assert "Cc" not in message


def test_inline_images_sit_beside_the_alternative_in_related(rendered: RenderedNotice) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    message = build_message(
        rendered,
        sender=SENDER,
        to=[TO],
        cc=[],
        message_id="r2",
        date=datetime(2025, 10, 13, tzinfo=SHANGHAI),
        inline_images={"trend": png},
        attachments=[("a.pdf", b"%PDF", "application/pdf")],
    )

    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    related = next(parsed.iter_parts())
    assert related.get_content_type() == "multipart/related"
    alternative, image = related.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<trend>"
    assert image.get_content() == png


def test_validate_address() -> None:
    for good in ("zz@fs.example.org", "first.last+tag@sub.example.cn", "a_b-c@x-y.example.com"):
        assert validate_address(good), good
    for bad in (
        "",
        "zz",
        "zz@",
        "@example.org",
        "a@@example.org",
        "a b@example.org",
        "a@example",
        "a..b@example.org",
        ".a@example.org",
        "a@-x.example.org",
        "名字@example.org",
        "Name <a@example.org>",
        "a@example.org\r\nBcc: x@example.org",
    ):
        assert not validate_address(bad), bad


def test_envelope_is_to_plus_cc_without_duplicates(rendered: RenderedNotice) -> None:
    message = build_message(
        rendered,
        sender=SENDER,
        to=[TO, "b@example.org"],
        cc=[CC, TO],
        message_id="e",
        date=datetime(2025, 10, 13, tzinfo=SHANGHAI),
    )

    assert message_envelope(message) == ("pingan@fs.example.org", [TO, "b@example.org", CC])


# --- SMTP URL ---------------------------------------------------------------------------------------------


def test_smtp_url_with_starttls_and_url_encoded_credentials() -> None:
    settings = parse_smtp_url("smtp://pingan%40fs.example.org:p%40ss%3Aw%2Ford@mail.example.org:587?starttls=true")

    assert settings.host == "mail.example.org"
    assert settings.port == 587
    assert settings.username == "pingan@fs.example.org"
    assert settings.password == "p@ss:w/ord"
    assert settings.starttls is True
    assert settings.use_ssl is False
    assert "p@ss" not in repr(settings)


def test_smtps_url_is_implicit_tls_on_465() -> None:
    settings = parse_smtp_url("smtps://mail.example.org")

    assert (settings.port, settings.use_ssl, settings.starttls, settings.username) == (465, True, False, None)


def test_plain_smtp_url_has_no_auth_and_no_tls() -> None:
    settings = parse_smtp_url("smtp://relay.example.org:25")

    assert (settings.port, settings.use_ssl, settings.starttls) == (25, False, False)
    assert settings.username is None and settings.password is None
    assert parse_smtp_url("smtp://relay.example.org").port == 25
    assert parse_smtp_url("smtp://relay.example.org?starttls=yes").port == 587


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example.org", "must start with smtp"),
        ("smtp://", "names no host"),
        ("smtps://mail.example.org?starttls=true", "already encrypted"),
        ("smtp://mail.example.org?tls=1", "unknown option 'tls'"),
        ("smtp://mail.example.org?starttls=maybe", "true or false"),
        ("smtp://mail.example.org:99999", "invalid port"),
        ("smtp://:secret@mail.example.org", "no user name"),
    ],
)
def test_nonsense_smtp_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as excinfo:
        parse_smtp_url(url)
    assert "secret" not in str(excinfo.value)


class FakeSMTP:
    """Stands in for smtplib.SMTP / SMTP_SSL to see what `open()` does with TLS and credentials."""

    created: list[FakeSMTP] = []  # noqa: RUF012 - shared on purpose, reset by the fixture
    login_error: Exception | None = None

    def __init__(self, host: str, port: int, timeout: float, context: Any = None) -> None:
        self.args = (host, port, timeout)
        self.ssl_context = context
        self.calls: list[Any] = []
        self.sock: object | None = object()
        FakeSMTP.created.append(self)

    def ehlo(self) -> None:
        self.calls.append("ehlo")

    def starttls(self, context: Any = None) -> None:
        self.calls.append("starttls")

    def login(self, user: str, password: str) -> None:
        self.calls.append(("login", user, password))
        if FakeSMTP.login_error is not None:
            raise FakeSMTP.login_error

    def quit(self) -> None:
        self.calls.append("quit")

    def close(self) -> None:
        self.calls.append("close")
        self.sock = None


@pytest.fixture
def fake_smtp(monkeypatch: pytest.MonkeyPatch) -> type[FakeSMTP]:
    FakeSMTP.created = []
    FakeSMTP.login_error = None
    monkeypatch.setattr(mailers.smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(mailers.smtplib, "SMTP_SSL", FakeSMTP)
    return FakeSMTP


def test_open_does_starttls_then_logs_in_with_decoded_credentials(fake_smtp: type[FakeSMTP]) -> None:
    backend = SMTPBackend("smtp://u%40x.org:p%40ss@mail.example.org:587?starttls=true", timeout=5)
    assert fake_smtp.created == []  # nothing connects at construction

    with backend:
        (connection,) = fake_smtp.created
        assert connection.args == ("mail.example.org", 587, 5)
        assert connection.calls == ["ehlo", "starttls", "ehlo", ("login", "u@x.org", "p@ss")]
    assert connection.calls[-2:] == ["quit", "close"]


def test_smtps_connects_with_tls_and_without_login(fake_smtp: type[FakeSMTP]) -> None:
    with SMTPBackend("smtps://mail.example.org"):
        (connection,) = fake_smtp.created
    assert connection.ssl_context is not None
    assert connection.calls == ["quit", "close"]


def test_refused_login_is_permanent(fake_smtp: type[FakeSMTP]) -> None:
    fake_smtp.login_error = smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid")
    backend = SMTPBackend("smtp://u:wrong@mail.example.org:587?starttls=true")

    with pytest.raises(PermanentMailError, match=r"535 5\.7\.8 Authentication") as excinfo:
        backend.open()
    assert excinfo.value.code == 535
    assert "wrong" not in str(excinfo.value)
    assert fake_smtp.created[0].calls[-1] == "close"


# --- SMTP against a real server ---------------------------------------------------------------------------


def test_smtp_delivers_to_to_and_cc_with_the_subject(smtp_server: SMTPServer, rendered: RenderedNotice) -> None:
    with SMTPBackend(smtp_server.url, timeout=5) as backend:
        backend.send(_message(rendered))

    (received,) = smtp_server.handler.messages
    assert received.mail_from == "pingan@fs.example.org"
    assert received.rcpt_tos == [TO, CC]
    parsed = email.message_from_bytes(received.content, policy=policy.default)
    assert parsed["Subject"] == rendered.subject
    assert parsed["Message-ID"] == "<notice-42@hazardloop>"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content() == rendered.text


def test_smtp_reuses_one_connection_for_many_messages(smtp_server: SMTPServer, rendered: RenderedNotice) -> None:
    with SMTPBackend(smtp_server.url, timeout=5) as backend:
        for n in range(3):
            backend.send(_message(rendered, key=f"n{n}"))

    peers = {received.peer for received in smtp_server.handler.messages}
    assert len(smtp_server.handler.messages) == 3
    assert len(peers) == 1


def test_send_without_open_connects_on_demand(smtp_server: SMTPServer, rendered: RenderedNotice) -> None:
    backend = SMTPBackend(smtp_server.url, timeout=5)
    try:
        backend.send(_message(rendered))
    finally:
        backend.close()
    assert len(smtp_server.handler.messages) == 1


def test_451_for_the_recipient_is_transient(smtp_server: SMTPServer, rendered: RenderedNotice) -> None:
    smtp_server.handler.rcpt_replies[TO] = "451 4.3.0 Mailbox temporarily unavailable"

    with SMTPBackend(smtp_server.url, timeout=5) as backend, pytest.raises(TransientMailError) as excinfo:
        backend.send(_message(rendered, cc=()))

    assert excinfo.value.code == 451
    assert excinfo.value.refused == {TO: (451, "4.3.0 Mailbox temporarily unavailable")}
    assert TO in str(excinfo.value)
    assert smtp_server.handler.messages == []


def test_550_for_the_recipient_is_permanent(smtp_server: SMTPServer, rendered: RenderedNotice) -> None:
    smtp_server.handler.rcpt_replies[TO] = "550 5.1.1 No such mailbox"

    with SMTPBackend(smtp_server.url, timeout=5) as backend:
        with pytest.raises(PermanentMailError, match=r"permanently refused zz@cq\.example\.org"):
            backend.send(_message(rendered, cc=()))
        # the connection is still good for the next notice
        backend.send(_message(rendered, key="next", to="ok@cq.example.org", cc=()))

    assert [m.rcpt_tos for m in smtp_server.handler.messages] == [["ok@cq.example.org"]]


def test_one_refused_copy_recipient_is_permanent_and_says_who_got_it(
    smtp_server: SMTPServer, rendered: RenderedNotice
) -> None:
    smtp_server.handler.rcpt_replies[CC] = "550 5.1.1 No such mailbox"

    with SMTPBackend(smtp_server.url, timeout=5) as backend, pytest.raises(PermanentMailError) as excinfo:
        backend.send(_message(rendered))

    assert excinfo.value.delivered == (TO,)
    assert set(excinfo.value.refused) == {CC}
    assert [m.rcpt_tos for m in smtp_server.handler.messages] == [[TO]]


def test_server_closing_the_connection_is_transient_and_the_next_send_reconnects(
    smtp_server: SMTPServer, rendered: RenderedNotice
) -> None:
    smtp_server.handler.rcpt_replies[TO] = "421 4.3.2 Service shutting down"

    with SMTPBackend(smtp_server.url, timeout=5) as backend:
        with pytest.raises(TransientMailError):
            backend.send(_message(rendered, cc=()))
        del smtp_server.handler.rcpt_replies[TO]
        backend.send(_message(rendered, cc=()))

    assert len(smtp_server.handler.messages) == 1


def test_server_down_is_transient(rendered: RenderedNotice) -> None:
    backend = SMTPBackend(f"smtp://127.0.0.1:{free_port()}", timeout=5)

    with pytest.raises(TransientMailError, match="refused the connection"):
        backend.send(_message(rendered))


def test_silent_server_times_out_as_transient(rendered: RenderedNotice) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        backend = SMTPBackend(f"smtp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        with pytest.raises(TransientMailError, match="timed out"):
            backend.open()


def test_malformed_recipient_is_permanent_before_any_connection(rendered: RenderedNotice) -> None:
    backend = SMTPBackend(f"smtp://127.0.0.1:{free_port()}", timeout=5)

    with pytest.raises(PermanentMailError, match="malformed"):
        backend.send(_message(rendered, to="not-an-address", cc=()))


# --- files and memory -------------------------------------------------------------------------------------


def test_file_backend_writes_parsable_eml_files(tmp_path: Path, rendered: RenderedNotice) -> None:
    outbox = tmp_path / "outbox" / "2025"
    backend = FileBackend(outbox)
    assert not outbox.exists()  # nothing is created until the backend is opened

    with backend:
        backend.send(_message(rendered, key="hazard:HZ-2025-000123:supervision"))

    (written,) = outbox.iterdir()
    assert written.suffix == ".eml"
    assert written.name.startswith("hazard_HZ-2025-000123_supervision-")
    parsed = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == rendered.subject
    assert parsed.get_content_type() == "multipart/alternative"
    assert b"\r\n" in written.read_bytes()


def test_file_backend_rewriting_the_same_id_leaves_one_file(tmp_path: Path, rendered: RenderedNotice) -> None:
    other = RenderedNotice(subject="第二版", text="正文二\n", html="<p>正文二</p>\n")
    with FileBackend(tmp_path) as backend:
        backend.send(_message(rendered, key="notice-7"))
        backend.send(_message(other, key="notice-7"))

    assert [p.name for p in tmp_path.iterdir()] == ["notice-7.eml"]
    parsed = email.message_from_bytes((tmp_path / "notice-7.eml").read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "第二版"


def test_memory_backend_keeps_the_outbox_and_can_fail_on_demand(rendered: RenderedNotice) -> None:
    backend = MemoryBackend()
    backend.fail_next(TransientMailError("The mail server is busy."))

    with backend:
        assert backend.opened
        with pytest.raises(TransientMailError):
            backend.send(_message(rendered))
        backend.send(_message(rendered))
    assert not backend.opened
    assert [m["Message-ID"] for m in backend.outbox] == ["<notice-42@hazardloop>"]


def test_backend_from_settings_picks_smtp_only_with_a_url(tmp_path: Path) -> None:
    smtp = backend_from_settings("smtp://relay.example.org:25", tmp_path / "outbox")
    files = backend_from_settings(None, tmp_path / "outbox")
    blank = backend_from_settings("  ", tmp_path / "outbox")

    assert isinstance(smtp, SMTPBackend)
    assert isinstance(files, FileBackend) and files.directory == tmp_path / "outbox"
    assert isinstance(blank, FileBackend)
    assert not (tmp_path / "outbox").exists()
