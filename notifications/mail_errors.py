"""The errors a notice e-mail can fail with, shared by the building side (`notifications.messages`) and the
delivery side (`notifications.mailers`).

They live in their own module because both sides raise them: `message_envelope` refuses a malformed address with
`PermanentMailError` before any backend is involved, and the backends raise all three. Here, neither module has to
import the other for its errors, and the backends do not import their error classes from the message builder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["MailError", "PermanentMailError", "TransientMailError"]


class MailError(Exception):
    """A notice could not be mailed. `str(error)` is a sentence an operator can act on.

    `code` is the SMTP reply code when the server gave one; `refused` maps each refused recipient to
    its (code, server message); `delivered` lists the recipients that did accept the message when only
    some were refused. `connecting` is true when the backend could not be opened at all (the server cannot
    be reached, refuses the session or the login, the mail folder cannot be made): no message can go
    through it until that is mended, whichever message was being sent.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        refused: Mapping[str, tuple[int, str]] | None = None,
        delivered: Sequence[str] = (),
        connecting: bool = False,
    ) -> None:
        super().__init__(message)
        self.connecting = connecting
        self.code = code
        self.refused: dict[str, tuple[int, str]] = dict(refused or {})
        self.delivered: tuple[str, ...] = tuple(delivered)


class TransientMailError(MailError):
    """Worth retrying later: 4xx replies, connection refused or dropped, timeouts, a full disk."""


class PermanentMailError(MailError):
    """Not worth retrying: 5xx replies, refused or malformed addresses, a refused login."""
