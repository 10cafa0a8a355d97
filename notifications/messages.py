"""Build a notice e-mail and put it in wire form: the message itself, apart from any way of delivering it.

`build_message` turns a `RenderedNotice` into a standard MIME message (text and HTML as `multipart/alternative`),
with its headers stored already encoded and folded. Beside it is what every backend asks of a message before
delivering it: the address checks and the SMTP envelope (`message_envelope`), the Message-ID an idempotency key
becomes (`message_id_for`, `safe_message_id`) and the file name that id gives (`file_stem`).

`smtp_bytes` writes a message out as the bytes SMTP sends. It sits here rather than with the SMTP backend because
its fast path (`_plain_wire`) relies on exactly how `build_message` stores headers and boundaries, and the two must
change together. Delivery is in `notifications.mailers`; the errors both sides raise are in
`notifications.mail_errors`.
"""

from __future__ import annotations

import base64
import copy
import email.generator
import email.policy
import hashlib
import io
import random
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message, MIMEPart
from email.policy import EmailPolicy
from email.utils import format_datetime, getaddresses
from functools import cache, lru_cache
from typing import Any

from hazardloop.models.core.text import one_line
from hazardloop.notifications.mail_errors import PermanentMailError
from hazardloop.notifications.rendering import RenderedNotice

__all__ = [
    "build_message",
    "message_envelope",
    "message_id_for",
    "safe_message_id",
    "validate_address",
]

MESSAGE_ID_DOMAIN = "hazardloop"


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
    senders = tuple(str(v) for v in message.get_all("From", []))
    recipients = tuple(str(v) for name in ("To", "Cc") for v in message.get_all(name, []))
    sender, envelope = _envelope(senders, recipients)
    return sender, list(envelope)


@lru_cache(maxsize=1024)
def _envelope(senders: tuple[str, ...], headers: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    # Cached because a unit's notices carry the same sender and addresses, and parsing them is not cheap; a
    # refusal raises and so is never cached.
    found = [addr for _, addr in getaddresses(list(senders))]
    if len(found) != 1 or not validate_address(found[0]):
        raise PermanentMailError(f"The sender address {(senders or ('',))[0]!r} is malformed.")
    recipients: list[str] = []
    seen: set[str] = set()
    for display, addr in getaddresses(list(headers)):
        if not validate_address(addr):
            shown = addr or display or "(empty)"
            raise PermanentMailError(f"The recipient address {shown!r} is malformed; check the unit's e-mails.")
        if addr.lower() not in seen:
            seen.add(addr.lower())
            recipients.append(addr)
    if not recipients:
        raise PermanentMailError("The message has no recipient (no To or Cc address).")
    return found[0], tuple(recipients)


# --- building messages ------------------------------------------------------------------------------------


# Header values are stored in their wire form (RFC 2047 encoded words, folded at 78 columns) with `set_raw`, as
# the parser stores a received message's headers. Reading a header back (`message["Subject"]`) parses it with the
# default policy exactly as it would for a received message, and the generator writes a short wire-form value out
# unchanged. What this skips is the default policy's parse-on-store and refold-on-write of every header, which
# cost ~2-4 ms a message and dominated sending.
_MAX_LINE = 78


class _ReusedHeaders(HeaderRegistry):
    """The default header registry, remembering what it parsed.

    Reading a header parses it into a fresh object every time, and the generator and `message_envelope` read the
    same few values (content types, the sender, a unit's addresses) over and over. Header objects are read-only,
    so one parsed value can serve every message that carries it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._parse = lru_cache(maxsize=4096)(super().__call__)

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if isinstance(value, str):
            return self._parse(name, value)  # type: ignore[no-any-return]
        return super().__call__(name, value)


# The default policy in every respect except that parsed headers are reused (see above).
_POLICY = email.policy.default.clone(header_factory=_ReusedHeaders())


@lru_cache(maxsize=4096)
def _folded(name: str, value: str) -> str | None:
    """`value` as the default policy would put it on the wire (encoded and folded), without `Name: ` and newline;
    None when reading that wire form back would not give `value`'s header (a long non-ASCII display name folded
    into several encoded words reads back with blanks between them), so the caller stores it the slow way.

    Cached: senders and recipient lists repeat from one notice to the next.
    """
    header = _POLICY.header_factory(name, value)
    folded = header.fold(policy=_POLICY)
    # "Name: value\n", folded with "\n "; a value too long to share the first line with the name starts on the
    # second ("Name:\n value"), and the generator refolds such a line the same way when it writes it.
    wire = folded[len(name) + 1 :].strip()
    return wire if str(_POLICY.header_fetch_parse(name, wire)) == str(header) else None


# 45 bytes of UTF-8 make 60 base64 characters, a 72-character encoded word (RFC 2047 allows 75).
_WORD_BYTES = 45
_WORD_FRAME = len("=?utf-8?b??=")


def _encoded_words(name: str, value: str) -> str:
    """A non-ASCII unstructured value as RFC 2047 "B" encoded words, one per folded line.

    Words end on character boundaries (RFC 2047 forbids splitting one), and the first one leaves room for
    `Name: `. Decoders join adjacent encoded words without the folding whitespace, so the value comes back
    exactly. The policy's own folder weighs "Q" against "B" character by character, which costs ten times more.
    """
    room = (_MAX_LINE - len(name) - 2 - _WORD_FRAME) // 4 * 3
    words: list[bytes] = []
    chunk = bytearray()
    for char in value:
        encoded = char.encode("utf-8")
        if chunk and len(chunk) + len(encoded) > room:
            words.append(bytes(chunk))
            chunk.clear()
            room = _WORD_BYTES
        chunk += encoded
    words.append(bytes(chunk))
    return "\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words)


def _wire(name: str, value: str) -> str | None:
    """The wire form of a header value: short ASCII values are their own wire form, the rest is encoded/folded;
    None when only the default policy's own store and refold get it right (see `_folded`)."""
    if len(value.splitlines()) > 1:
        # the same refusal, on the same test, as `message[name] = value`: a line break (any that `splitlines`
        # knows, as the generator splits on those) would smuggle in a header
        raise ValueError(f"Header values may not contain linefeed or carriage return characters: {name}")
    if value.isascii() and len(name) + 2 + len(value) <= _MAX_LINE:
        return value
    if name == "Subject" and not value.isascii():
        # unique to each notice, so the cache below would not help; nothing in it needs structured parsing
        return _encoded_words(name, value)
    return _folded(name, value)


@cache
def _boundary(subtype: str) -> str:
    """One boundary per container type and process.

    A boundary only has to be absent from what it separates, and here it cannot occur there: every leaf part is
    base64 (no "-" in its alphabet) and no header line starts with "--". Containers nest by type (alternative in
    related in mixed), and the type in the name keeps their boundaries distinct. Choosing it once, rather than the
    generator scanning each message for a fresh one, also lets the parsed Content-Type be reused.
    """
    return f"{'=' * 15}{random.randrange(sys.maxsize):019d}.{subtype}=="


def _text_part(content: str, subtype: str) -> MIMEPart:
    """Exactly what `set_content(content, subtype=..., charset="utf-8", cte="base64")` makes, built directly."""
    part = MIMEPart(_POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    # base64 survives any relay (no 8BITMIME needed) and is the compact choice for Chinese text. Lines end in
    # "\n" inside the encoding, as `set_content` does it, so the decoded body equals the rendered text.
    data = b"\n".join(content.encode("utf-8").splitlines()) + b"\n"
    part.set_raw("Content-Transfer-Encoding", "base64")
    part.set_payload(base64.encodebytes(data).decode("ascii"))
    return part


def _container(subtype: str, parts: Sequence[MIMEPart], **params: str) -> MIMEPart:
    container = MIMEPart(_POLICY)
    value = f"multipart/{subtype}"
    column = len("Content-Type: ") + len(value)
    for name, param in {**params, "boundary": _boundary(subtype)}.items():
        item = f'{name}="{param}"'
        # folded before a parameter that would not fit on the line, as the policy's folder does
        separator = "; " if column + 2 + len(item) <= _MAX_LINE else ";\n "
        value += separator + item
        column = (column if separator == "; " else 0) + len(separator) + len(item)
    container.set_raw("Content-Type", value)
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
            part.set_content(
                data, maintype=maintype, subtype=subtype, filename=one_line(filename), disposition="attachment"
            )
            parts.append(part)
        body = _container("mixed", parts)

    message = EmailMessage(_POLICY)
    headers = [
        ("Subject", rendered.subject),
        ("From", sender),
        ("To", ", ".join(to)),
        ("Cc", ", ".join(cc)),
        ("Date", format_datetime(date)),
        ("Message-ID", message_id_for(message_id)),
        ("MIME-Version", "1.0"),
    ]
    for name, value in headers:
        if not value and name == "Cc":
            continue
        # Safe on its own, whatever the text (a title from an old database, a unit name): no line break or
        # other control character reaches a header, where it could add a header of its own (Bcc:) or act on a
        # mail client.
        value = one_line(value)
        wire = _wire(name, value)
        if wire is None:
            message[name] = value
        else:
            message.set_raw(name, wire)
    for name, value in body.raw_items():
        message.set_raw(name, value)
    message.set_payload(body.get_payload())
    return message


def message_id_for(key: str) -> str:
    """The Message-ID header value `build_message` gives the notice with idempotency key `key`."""
    return f"<{safe_message_id(key)}@{MESSAGE_ID_DOMAIN}>"


def file_stem(message: EmailMessage) -> str:
    raw = str(message.get("Message-ID", "")).strip().strip("<>")
    local = raw.rpartition("@")[0] or raw
    if not local:
        raise PermanentMailError("The message has no Message-ID, so it cannot be stored idempotently.")
    return safe_message_id(local)


# --- wire bytes -------------------------------------------------------------------------------------------


def wire_bytes(message: EmailMessage) -> bytes:
    """`smtp_bytes`, made once per message object, so that what a backend sends and what the archive keeps are
    the same bytes. The message must not change after the first call (the dispatcher builds, sends and archives
    it; nothing else touches it)."""
    cached = message.__dict__.get("_hazardloop_wire")
    if cached is None:
        cached = message.__dict__["_hazardloop_wire"] = smtp_bytes(message)
    return cached


def smtp_bytes(message: EmailMessage) -> bytes:
    """The message as `smtplib.SMTP.send_message` puts it on the wire: without Bcc headers, CRLF line ends."""
    if "Bcc" in message or "Resent-Bcc" in message:
        message = copy.copy(message)
        del message["Bcc"]
        del message["Resent-Bcc"]
    policy = message.policy
    # only the stock policy class: a subclass may fold its own way
    if type(policy) is EmailPolicy and policy.refold_source == "long" and not policy.utf8:
        chunks: list[str] = []
        if _plain_wire(message, chunks, policy.max_line_length or sys.maxsize):
            return "".join(chunks).encode("ascii")
    with io.BytesIO() as out:
        email.generator.BytesGenerator(out).flatten(message, linesep="\r\n")
        return out.getvalue()


def _plain_wire(part: Message, out: list[str], width: int) -> bool:
    """Append `part` exactly as the generator above would write it, for the plain shapes `build_message` makes:
    headers stored in wire form, ASCII leaves, multiparts that carry their boundary. False for anything else
    (header objects, 8-bit or "From "-mangled bodies, message/* and signed parts, preambles), which the generator
    then writes itself. The generator writes every body line on its own and re-reads every part's headers; for a
    notice that was half of what sending it cost this process."""
    if part.get_content_maintype() == "message" or part.get_content_type() == "multipart/signed":
        return False
    for name, value in part.raw_items():
        if type(value) is not str or not value.isascii() or not name.isascii():
            return False
        lines = value.splitlines()
        # the generator refolds a line that is too long; a line break not followed by a blank is for it to judge
        # (newer Pythons refuse it)
        if (lines and len(lines[0]) + len(name) + 2 > width) or any(
            len(x) > width or x[:1] not in " \t" for x in lines[1:]
        ):
            return False
        out.append(f"{name}: " + "\r\n".join(lines) + "\r\n")
    out.append("\r\n")
    if part.is_multipart():
        boundary = part.get_boundary()
        if not boundary or not boundary.isascii() or part.preamble is not None or part.epilogue is not None:
            return False
        out.append(f"--{boundary}\r\n")
        for index, subpart in enumerate(part.get_payload()):
            if index:
                out.append(f"\r\n--{boundary}\r\n")
            if not _plain_wire(subpart, out, width):
                return False
        out.append(f"\r\n--{boundary}--\r\n")
        return True
    payload = part.get_payload()
    if payload is None:
        return True
    # smtplib's generator turns a body line starting "From " into ">From " (an mbox habit); leave those to it
    if not isinstance(payload, str) or not payload.isascii() or payload.startswith("From ") or "\nFrom " in payload:
        return False
    out.append(payload.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n"))
    return True
