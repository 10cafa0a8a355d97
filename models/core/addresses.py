"""E-mail addresses as the configuration may give them. Every address ends up in a mail header, so it is checked
strictly where the configuration is loaded: an address that passes here never stops a notice later."""

from __future__ import annotations

import re
import unicodedata

_LOCAL = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TOP_LABEL = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")


def address_problem(addr: str) -> str | None:
    """Why ``addr`` is not a plain ``name@domain.tld`` address, in words; ``None`` when it is one."""
    odd = next((c for c in addr if not c.isprintable() or c.isspace()), None)
    if odd is not None:
        name = unicodedata.name(odd, "a control character")
        return f"{addr!r} is not an e-mail address: it contains U+{ord(odd):04X} ({name.lower()})"
    if not addr.isascii():
        return (
            f"'{addr}' is not an e-mail address hazardloop can send to: only ASCII letters, digits and . _ % + - are "
            "allowed (write an internationalised domain in its xn-- form)"
        )
    if len(addr) > 254:
        return f"'{addr[:40]}…' is not an e-mail address: longer than 254 characters"
    local, at, domain = addr.rpartition("@")
    labels = domain.split(".")
    if not at or not _LOCAL.fullmatch(local) or len(local) > 64:
        return f"'{addr}' is not an e-mail address (expected name@example.org; the name may use A–Z, 0–9 and . _ % + -)"
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or not _TOP_LABEL.fullmatch(labels[-1]):
        return f"'{addr}' is not an e-mail address: '{domain}' is not a mail domain such as example.org"
    return None
