"""Send notice e-mails through a small, Django-style backend interface.

A backend delivers a message built by `notifications.messages.build_message`: `SMTPBackend` (real mail),
`FileBackend` (`.eml` files, the default without an SMTP URL) or `MemoryBackend` (tests). Backends connect or touch
the disk in `open()` or on the first `send()`, never when they are built, and report failures as
`TransientMailError` (worth retrying) or `PermanentMailError` (not worth retrying), from
`notifications.mail_errors`. This module is only about delivery: connections, SMTP replies and what they mean,
files; how a message is made and written out as bytes is in `notifications.messages`.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from hazardloop.notifications.mail_errors import MailError, PermanentMailError, TransientMailError
from hazardloop.notifications.messages import file_stem, message_envelope, wire_bytes

__all__ = [
    "BaseMailBackend",
    "FileBackend",
    "MailBackend",
    "MemoryBackend",
    "SMTPBackend",
    "SMTPSettings",
    "backend_from_settings",
    "parse_smtp_url",
]


# --- backends ---------------------------------------------------------------------------------------------


class MailBackend(Protocol):
    """What the dispatcher needs from a mail backend."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def send(self, message: EmailMessage, recipients: Sequence[str] | None = None) -> None:
        """Deliver one message or raise `TransientMailError` / `PermanentMailError`. `recipients`, when given,
        is the envelope (some of the message's To and Cc: those still missing it after a partial refusal)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class BaseMailBackend:
    """Context-manager support: `with backend:` opens it and always closes it."""

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, message: EmailMessage, recipients: Sequence[str] | None = None) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class SMTPSettings:
    """What an SMTP URL says. The password never shows in `repr`."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    starttls: bool = False

    def __repr__(self) -> str:
        auth = f"{self.username}:***@" if self.username else ""
        scheme = "smtps" if self.use_ssl else "smtp"
        return f"SMTPSettings({scheme}://{auth}{self.host}:{self.port}, starttls={self.starttls})"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_smtp_url(url: str) -> SMTPSettings:
    """Parse `smtp://user:pass@host:587?starttls=true`, `smtps://host:465` or `smtp://host:25`.

    User and password are URL-decoded (write `@` as `%40`). Default ports: 465 for `smtps`, 587 for
    `smtp` with STARTTLS, 25 otherwise. Raises `ValueError` naming what is wrong (never the password).
    """
    parts = urlsplit(url.strip())
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # without credentials
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP URL {shown!r} must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError(f"SMTP URL {shown!r} names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"SMTP URL {shown!r} must not have a path or fragment")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"SMTP URL {shown!r} has an invalid port") from None
    starttls = False
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "starttls":
            raise ValueError(f"SMTP URL {shown!r}: unknown option {key!r} (only 'starttls' is understood)")
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"SMTP URL {shown!r}: starttls must be true or false, not {value!r}")
        starttls = value.lower() in _TRUE
    use_ssl = scheme == "smtps"
    if use_ssl and starttls:
        raise ValueError(f"SMTP URL {shown!r}: smtps:// is already encrypted; drop starttls=true")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError(f"SMTP URL {shown!r} has a password but no user name")
    if port is None:
        port = 465 if use_ssl else 587 if starttls else 25
    return SMTPSettings(parts.hostname, port, username, password, use_ssl, starttls)


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())


def _refusal_error(server: str, refused: Mapping[str, tuple[int, bytes | str]], delivered: Sequence[str]) -> MailError:
    details = {rcpt: (code, _reply_text(text)) for rcpt, (code, text) in refused.items()}
    listed = "; ".join(f"{rcpt} ({code} {text})" for rcpt, (code, text) in details.items())
    permanent = any(code >= 500 for code, _ in details.values())
    kind = "permanently" if permanent else "temporarily"
    message = f"The mail server {server} {kind} refused {listed}."  # who did accept it: `delivered`
    cls = PermanentMailError if permanent else TransientMailError
    code = max(code for code, _ in details.values()) if details else None
    return cls(message, code=code, refused=details, delivered=delivered)


def _translate(exc: Exception, server: str, doing: str) -> MailError:
    """Map an smtplib / socket failure to the transient or permanent error it is."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refusal_error(server, exc.recipients, ())
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        if exc.smtp_code >= 500:
            return PermanentMailError(
                f"The mail server {server} said no while {doing}: {reply} (permanent failure).",
                code=exc.smtp_code,
            )
        return TransientMailError(
            f"The mail server {server} said not now while {doing}: {reply} (temporary failure).",
            code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentMailError(f"The mail server {server} does not support what {doing} needs: {exc}.")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout this way too ("Connection unexpectedly closed: timed out").
        return TransientMailError(f"The mail server {server} dropped the connection while {doing}: {exc}.")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentMailError(f"The certificate of mail server {server} could not be verified: {exc}.")
    if isinstance(exc, TimeoutError):
        return TransientMailError(f"The mail server {server} did not answer in time while {doing}.")
    if isinstance(exc, ConnectionRefusedError):
        return TransientMailError(f"The mail server {server} refused the connection (is it running?).")
    return TransientMailError(f"Could not reach the mail server {server} while {doing}: {exc}.")


def _subset(envelope: list[str], recipients: Sequence[str] | None) -> list[str]:
    """The envelope to use: the message's own, or the given part of it (a recipient the message does not name
    would be a hidden copy, which a notice never has)."""
    if recipients is None:
        return envelope
    named = {addr.lower() for addr in envelope}
    strangers = [addr for addr in recipients if addr.lower() not in named]
    if strangers or not recipients:
        raise PermanentMailError(
            f"The recipients {strangers or '(none)'} are not among the message's To and Cc addresses."
        )
    return list(recipients)


class _TaskError(Exception):
    """What a task given to `SMTPBackend.run_while_waiting` raised, kept apart from the server's errors (an
    `OSError` from the task is not a dropped connection)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _run_apart(task: Callable[[], None]) -> None:
    try:
        task()
    except Exception as exc:
        raise _TaskError(exc) from exc


def _reset(connection: smtplib.SMTP) -> None:
    # what smtplib does after a refusal: end the transaction, and never mind a server that has gone
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        connection.rset()


def _sendmail(
    connection: smtplib.SMTP,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    meanwhile: Callable[[], None] | None,
) -> dict[str, tuple[int, bytes]]:
    """`smtplib.SMTP.sendmail` step by step, with the same replies turned into the same exceptions, except that
    `meanwhile` runs between sending the message and reading the server's verdict on it (smtplib offers no
    such moment). Returns the refused recipients when only some were refused."""
    connection.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if connection.does_esmtp and connection.has_extn("size") else []
    code, reply = connection.mail(sender, options)
    if code != 250:
        if code == 421:
            connection.close()
        else:
            _reset(connection)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, reply = connection.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
        if code == 421:
            connection.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _reset(connection)
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = connection.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    # dot-stuffing (RFC 5321 4.5.2), as smtplib does it with a slower multi-line regular expression
    body = data.replace(b"\n.", b"\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    connection.send(body + b".\r\n")
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        code, reply = connection.getreply()  # the verdict decides this send, whatever `meanwhile` did
    if code != 250:
        if code == 421:
            connection.close()
        else:
            _reset(connection)
        raise smtplib.SMTPDataError(code, reply)
    return refused


class SMTPBackend(BaseMailBackend):
    """Send through one SMTP connection, opened on `open()` (or the first send) and reused. `run_while_waiting`
    lets a caller use the time the server takes over each message."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.settings = parse_smtp_url(url)
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None
        self._while_waiting: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"SMTPBackend({self.settings!r})"

    @property
    def server(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def open(self) -> None:
        if self._connection is not None:
            return
        s = self.settings
        connection: smtplib.SMTP | None = None
        try:
            if s.use_ssl:
                connection = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            if s.starttls:
                connection.ehlo()
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if s.username:
                connection.login(s.username, s.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            if connection is not None:
                connection.close()
            error = _translate(exc, self.server, "connecting")
            error.connecting = True
            raise error from exc
        self._connection = connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the server is gone already; nothing left to close politely
        finally:
            connection.close()

    def run_while_waiting(self, task: Callable[[], None]) -> None:
        """Have the next `send` run `task` while the server digests the message: after the message has gone out,
        before the server's verdict on it.

        A server reads a message line by line and may check it and write it to its queue before it answers;
        doing the caller's next piece of work in that time, instead of after the answer, is what lets both
        sides work at once. The task runs at most once, and only if the message got as far as being sent. The
        verdict is read whatever the task does, so the connection stays in step; if the task raised, `send` then
        raises that, as it was, and otherwise succeeds or fails by the verdict.
        """
        self._while_waiting = task

    def send(self, message: EmailMessage, recipients: Sequence[str] | None = None) -> None:
        task, self._while_waiting = self._while_waiting, None  # for this send only, whatever happens
        sender, envelope = message_envelope(message)
        recipients = _subset(envelope, recipients)
        self.open()
        connection = self._connection
        assert connection is not None
        meanwhile = None if task is None else partial(_run_apart, task)
        try:
            refused = _sendmail(connection, sender, recipients, wire_bytes(message), meanwhile)
        except _TaskError as failed:
            # the task's own failure, as it was (with its own cause), never taken for the server's
            raise failed.error from failed.error.__cause__
        except (smtplib.SMTPException, OSError) as exc:
            raise _translate(exc, self.server, f"sending {message.get('Message-ID', '')}") from exc
        finally:
            # smtplib drops its socket on 421 replies and broken connections: start afresh next time.
            if connection.sock is None:
                self._drop()
        if refused:
            delivered = [r for r in recipients if r not in refused]
            raise _refusal_error(self.server, refused, delivered)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class FileBackend(BaseMailBackend):
    """Write each message to `{directory}/{message id}.eml`; the same id again replaces the file. ``durable=False``
    leaves the file to the operating system instead of waiting for the disk (`fsync`, some milliseconds a file):
    for a folder whose loss in a crash of the machine costs nothing, such as the demo's simulated mail."""

    #: sending a message again rewrites the same file: nobody receives it twice (the dispatcher may record in groups)
    resend_is_harmless = True

    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.directory = Path(directory)
        self.durable = durable

    def __repr__(self) -> str:
        return f"FileBackend({str(self.directory)!r})"

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransientMailError(
                f"Could not create the mail folder {self.directory}: {exc}.", connecting=True
            ) from exc

    def path_for(self, message: EmailMessage) -> Path:
        return self.directory / f"{file_stem(message)}.eml"

    def send(self, message: EmailMessage, recipients: Sequence[str] | None = None) -> None:
        _subset(
            message_envelope(message)[1], recipients
        )  # refuse what SMTP would refuse, so the outbox behaves the same
        self.open()  # the file is the message as addressed: whoever it was still missing, it is written whole
        target = self.path_for(message)
        data = wire_bytes(message)  # the bytes SMTP would carry, which the archive keeps
        try:
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{target.stem}.", suffix=".tmp")
        except OSError as exc:
            raise TransientMailError(f"Could not write {target}: {exc}.") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if self.durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temp, target)  # readers see the old file or the new one, never half of one
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise TransientMailError(f"Could not write {target}: {exc}.") from exc


class MemoryBackend(BaseMailBackend):
    """Keep sent messages in `outbox`; `fail_next` queues errors to raise (for tests of retries)."""

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []  # the recipients each message of `outbox` went to
        self._failures: list[MailError] = []
        self.opened = False

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.opened = False

    def fail_next(self, *errors: MailError) -> None:
        self._failures.extend(errors)

    def send(self, message: EmailMessage, recipients: Sequence[str] | None = None) -> None:
        envelope = _subset(message_envelope(message)[1], recipients)
        if self._failures:
            raise self._failures.pop(0)
        self.outbox.append(message)
        self.envelopes.append(envelope)


def backend_from_settings(smtp_url: str | None, mail_dir: Path) -> MailBackend:
    """SMTP when an SMTP URL is configured, else `.eml` files in `mail_dir`. Nothing is opened here."""
    if smtp_url and smtp_url.strip():
        return SMTPBackend(smtp_url)
    return FileBackend(mail_dir)
