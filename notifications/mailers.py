"""Build notice e-mails and send them through a small, Django-style backend interface.

`build_message` turns a `RenderedNotice` into a standard MIME message (text and HTML as
`multipart/alternative`). A backend delivers it: `SMTPBackend` (real mail), `FileBackend` (`.eml` files,
the default without an SMTP URL) or `MemoryBackend` (tests). Backends connect or touch the disk in
`open()` or on the first `send()`, never when they are built, and report failures as
`TransientMailError` (worth retrying) or `PermanentMailError` (not worth retrying).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, getaddresses
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from notifications.rendering import RenderedNotice

__all__ = [
    "BaseMailBackend",
    "FileBackend",
    "MailBackend",
    "MailError",
    "MemoryBackend",
    "PermanentMailError",
    "SMTPBackend",
    "SMTPSettings",
    "TransientMailError",
    "backend_from_settings",
    "build_message",
    "message_envelope",
    "parse_smtp_url",
    "safe_message_id",
    "validate_address",
]

MESSAGE_ID_DOMAIN = "hazardloop"


# --- errors -----------------------------------------------------------------------------------------------


class MailError(Exception):
    """A notice could not be mailed. `str(error)` is a sentence an operator can act on.

    `code` is the SMTP reply code when the server gave one; `refused` maps each refused recipient to
    its (code, server message); `delivered` lists the recipients that did accept the message when only
    some were refused.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        refused: Mapping[str, tuple[int, str]] | None = None,
        delivered: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.refused: dict[str, tuple[int, str]] = dict(refused or {})
        self.delivered: tuple[str, ...] = tuple(delivered)


class TransientMailError(MailError):
    """Worth retrying later: 4xx replies, connection refused or dropped, timeouts, a full disk."""


class PermanentMailError(MailError):
    """Not worth retrying: 5xx replies, refused or malformed addresses, a refused login."""


# --- addresses and identifiers ----------------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def validate_address(addr: str) -> bool:
    """True for a plain ASCII address such as `zz@fs.example.org`; rejects what is obviously malformed.

    Deliberately simple: one `@`, a dot-atom local part of at most 64 characters, and a domain of
    letter-digit-hyphen labels ending in an alphabetic top-level label. No display names, no comments.
    """
    if not isinstance(addr, str) or len(addr) > 254 or addr.count("@") != 1:
        return False
    local, domain = addr.split("@")
    return (
        len(local) <= 64
        and _LOCAL_PART.fullmatch(local) is not None
        and len(domain) <= 253
        and _DOMAIN.fullmatch(domain) is not None
    )


_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_MAX_ID = 120


def safe_message_id(key: str) -> str:
    """Turn an idempotency key into a Message-ID local part that is also a safe file name.

    A key that is already safe (letters, digits, `_`, `-`, single inner dots, at most 120 characters)
    is returned unchanged, so applying this twice changes nothing. Otherwise unsafe runs become `_` and a
    short hash of the original key is appended, so two different keys never share an id.
    """
    if not key:
        raise ValueError("a message id needs a non-empty idempotency key")
    if len(key) <= _MAX_ID and _SAFE_ID.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", key)[:80].strip("_-")
    return f"{readable}-{digest}" if readable else digest


def message_envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """The SMTP envelope of a message: the From address and the To + Cc addresses (duplicates dropped).

    Raises `PermanentMailError` when an address is malformed or there is no recipient at all.
    """
    senders = [addr for _, addr in getaddresses([str(v) for v in message.get_all("From", [])])]
    if len(senders) != 1 or not validate_address(senders[0]):
        raise PermanentMailError(f"The sender address {message.get('From', '')!r} is malformed.")
    headers = [str(v) for name in ("To", "Cc") for v in message.get_all(name, [])]
    recipients: list[str] = []
    seen: set[str] = set()
    for display, addr in getaddresses(headers):
        if not validate_address(addr):
            shown = addr or display or "(empty)"
            raise PermanentMailError(f"The recipient address {shown!r} is malformed; check the unit's e-mails.")
        if addr.lower() not in seen:
            seen.add(addr.lower())
            recipients.append(addr)
    if not recipients:
        raise PermanentMailError("The message has no recipient (no To or Cc address).")
    return senders[0], recipients


# --- building messages ------------------------------------------------------------------------------------


def _text_part(content: str, subtype: str) -> MIMEPart:
    part = MIMEPart()
    # base64 survives any relay (no 8BITMIME needed) and is the compact choice for Chinese text.
    part.set_content(content, subtype=subtype, charset="utf-8", cte="base64")
    return part


def _container(subtype: str, parts: Sequence[MIMEPart], **params: str) -> MIMEPart:
    container = MIMEPart()
    container["Content-Type"] = f"multipart/{subtype}"
    for name, value in params.items():
        container.set_param(name, value)
    for part in parts:
        container.attach(part)
    return container


def build_message(
    rendered: RenderedNotice,
    *,
    sender: str,
    to: Sequence[str],
    cc: Sequence[str],
    message_id: str,
    date: datetime,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    inline_images: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    """A notice as a MIME message.

    Structure: `multipart/alternative` (text/plain, then text/html). With `inline_images` (cid → PNG
    bytes, referenced from the HTML as `cid:<name>`) that part sits in `multipart/related` beside the
    images; with `attachments` ((filename, bytes, mimetype) triples) everything sits in
    `multipart/mixed`. `message_id` is the notice's idempotency key; it is made safe with
    `safe_message_id` and becomes `<id@hazardloop>`. `date` should be an aware datetime.
    """
    if not to:
        raise ValueError("a notice needs at least one To address")
    body: MIMEPart = _container("alternative", [_text_part(rendered.text, "plain"), _text_part(rendered.html, "html")])
    if inline_images:
        images = []
        for cid, png in inline_images.items():
            if not _SAFE_ID.fullmatch(cid):
                raise ValueError(f"inline image id {cid!r} must be letters, digits, '_', '-' or '.'")
            image = MIMEPart()
            image.set_content(
                png,
                maintype="image",
                subtype="png",
                cid=f"<{cid}>",
                disposition="inline",
                filename=f"{cid}.png",
            )
            images.append(image)
        body = _container("related", [body, *images], type="multipart/alternative")
    if attachments:
        parts = [body]
        for filename, data, mimetype in attachments:
            maintype, _, subtype = mimetype.partition("/")
            if not maintype or not subtype:
                raise ValueError(f"attachment {filename!r} has an invalid MIME type {mimetype!r}")
            part = MIMEPart()
            part.set_content(data, maintype=maintype, subtype=subtype, filename=filename, disposition="attachment")
            parts.append(part)
        body = _container("mixed", parts)

    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{safe_message_id(message_id)}@{MESSAGE_ID_DOMAIN}>"
    message["MIME-Version"] = "1.0"
    for name, value in body.items():
        message[name] = value
    message.set_payload(body.get_payload())
    return message


def _file_stem(message: EmailMessage) -> str:
    raw = str(message.get("Message-ID", "")).strip().strip("<>")
    local = raw.rpartition("@")[0] or raw
    if not local:
        raise PermanentMailError("The message has no Message-ID, so it cannot be stored idempotently.")
    return safe_message_id(local)


# --- backends ---------------------------------------------------------------------------------------------


class MailBackend(Protocol):
    """What the dispatcher needs from a mail backend."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise `TransientMailError` / `PermanentMailError`."""
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

    def send(self, message: EmailMessage) -> None:
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
    message = f"The mail server {server} {kind} refused {listed}."
    if delivered:
        message += f" It was delivered to {', '.join(delivered)}."
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
        return TransientMailError(f"The mail server {server} refused the connection; is it running?")
    return TransientMailError(f"Could not reach the mail server {server} while {doing}: {exc}.")


class SMTPBackend(BaseMailBackend):
    """Send through one SMTP connection, opened on `open()` (or the first send) and reused."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.settings = parse_smtp_url(url)
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None

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
            raise _translate(exc, self.server, "connecting") from exc
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

    def send(self, message: EmailMessage) -> None:
        sender, recipients = message_envelope(message)
        self.open()
        connection = self._connection
        assert connection is not None
        try:
            refused = connection.send_message(message, from_addr=sender, to_addrs=recipients)
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
    """Write each message to `{directory}/{message id}.eml`; the same id again replaces the file."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileBackend({str(self.directory)!r})"

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransientMailError(f"Could not create the mail folder {self.directory}: {exc}.") from exc

    def path_for(self, message: EmailMessage) -> Path:
        return self.directory / f"{_file_stem(message)}.eml"

    def send(self, message: EmailMessage) -> None:
        message_envelope(message)  # refuse what SMTP would refuse, so the outbox behaves the same
        self.open()
        target = self.path_for(message)
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        try:
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{target.stem}.", suffix=".tmp")
        except OSError as exc:
            raise TransientMailError(f"Could not write {target}: {exc}.") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
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
        self._failures: list[MailError] = []
        self.opened = False

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.opened = False

    def fail_next(self, *errors: MailError) -> None:
        self._failures.extend(errors)

    def send(self, message: EmailMessage) -> None:
        message_envelope(message)
        if self._failures:
            raise self._failures.pop(0)
        self.outbox.append(message)


def backend_from_settings(smtp_url: str | None, mail_dir: Path) -> MailBackend:
    """SMTP when an SMTP URL is configured, else `.eml` files in `mail_dir`. Nothing is opened here."""
    if smtp_url and smtp_url.strip():
        return SMTPBackend(smtp_url)
    return FileBackend(mail_dir)
