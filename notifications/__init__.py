"""Notices (公文): rendering from templates and mail backends; numbers are given at issue, in ``models``.

Importing this package only defines things: no settings are read, no files opened, no connections made.
"""

from hazardloop.notifications.mail_errors import MailError, PermanentMailError, TransientMailError
from hazardloop.notifications.mailers import (
    BaseMailBackend,
    FileBackend,
    MailBackend,
    MemoryBackend,
    SMTPBackend,
    backend_from_settings,
)
from hazardloop.notifications.messages import build_message, validate_address
from hazardloop.notifications.rendering import NOTICE_KINDS, NoticeRenderer, RenderedNotice

__all__ = [
    "NOTICE_KINDS",
    "BaseMailBackend",
    "FileBackend",
    "MailBackend",
    "MailError",
    "MemoryBackend",
    "NoticeRenderer",
    "PermanentMailError",
    "RenderedNotice",
    "SMTPBackend",
    "TransientMailError",
    "backend_from_settings",
    "build_message",
    "validate_address",
]
