"""Real SMTP servers on loopback for the outbox tests (aiosmtpd), and reading back what they received."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email import policy as email_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ScriptedHandler:
    """Accepts mail, except that it answers each DATA with the next scripted reply while any are left."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.script: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.script:
            return self.script.pop(0)
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def scripted_smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedHandler]:
    """A real SMTP server on a free loopback port, named in HAZARDLOOP_SMTP_URL, answering as scripted."""
    handler = ScriptedHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("HAZARDLOOP_SMTP_URL", f"smtp://127.0.0.1:{port}")
    try:
        yield handler
    finally:
        controller.stop()


def parsed_mail(content: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(content, policy=email_policy.default)  # type: ignore[return-value]
