"""With `notices.digest` on, a unit's reminders and supervisions of one day reach it as one mail; every notice
still exists with its own number and is marked sent with the digest's fingerprint."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from email import policy as email_policy
from pathlib import Path

import pytest

from tests.support.digest import late_fire_hazards
from tests.support.smtp import ScriptedHandler, scripted_smtp_server


def test_a_units_supervisions_of_one_day_arrive_as_one_mail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = late_fire_hazards(tmp_path, True, monkeypatch)
    cli.ok("dispatch", now="2025-03-14T09:00:00+08:00")
    supervisions = cli.json("notices", "--kind", "supervision", now="2025-03-14T09:00:00+08:00")
    assert len(supervisions) == 4 and len({n["number"] for n in supervisions}) == 4
    assert {n["status"] for n in supervisions} == {"sent"}
    assert len({n["sha256"] for n in supervisions}) == 1
    digests = list((tmp_path / "outbox").glob("digest-*.eml"))
    assert len(digests) == 1
    message = email.message_from_bytes(digests[0].read_bytes(), policy=email_policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "共有以下4件" in text and all(n["number"] in text for n in supervisions)
    # dates in Chinese form, and the 落款 (issuing office, then the date) at the foot
    assert "2025-03-" not in text and "整改期限：2025年3月12日" in text
    foot = [line.strip("\u3000 ") for line in text.strip().splitlines()[-2:]]
    assert foot == ["府山街道平安建设办公室", "2025年3月14日"]
    assert "xf@yc.sx.example.org" in str(message["To"])  # 越城区消防救援大队, the unit responsible
    assert len(list((tmp_path / "outbox").glob("supervision_*.eml"))) == 0
    assert len(list((tmp_path / "outbox").glob("assignment_*.eml"))) == 4


def test_without_the_switch_each_supervision_is_its_own_mail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = late_fire_hazards(tmp_path, False, monkeypatch)
    cli.ok("dispatch", now="2025-03-14T09:00:00+08:00")
    assert len(list((tmp_path / "outbox").glob("supervision_*.eml"))) == 4
    assert not list((tmp_path / "outbox").glob("digest-*.eml"))


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedHandler]:
    yield from scripted_smtp_server(monkeypatch)


def test_a_digest_refused_for_now_is_retried_and_counted_per_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: ScriptedHandler
) -> None:
    """Against a real SMTP server on loopback: the one mail is answered 451, so each of its four notices waits for
    its next try and the dispatcher reports four retrying; the next dispatch sends the mail once."""
    cli = late_fire_hazards(tmp_path, True, monkeypatch)
    assignments = len(smtp.messages)
    smtp.script = ["451 4.3.0 try again later"]
    first = json.loads(cli.ok("dispatch", "--json", now="2025-03-14T09:00:00+08:00").stdout)
    assert (first["sent"], first["retrying"], first["failed"], first["dead"]) == (0, 4, 0, 0)
    supervisions = cli.json("notices", "--kind", "supervision", now="2025-03-14T09:00:00+08:00")
    assert {(n["status"], n["attempts"]) for n in supervisions} == {("pending", 1)}
    assert all("451" in n["last_error"] for n in supervisions)
    later = json.loads(cli.ok("dispatch", "--json", now="2025-03-14T09:02:00+08:00").stdout)
    assert (later["sent"], later["retrying"]) == (4, 0)
    assert len(smtp.messages) == assignments + 1  # one digest mail, sent once
    supervisions = cli.json("notices", "--kind", "supervision", now="2025-03-14T09:02:00+08:00")
    assert {(n["status"], n["attempts"]) for n in supervisions} == {("sent", 2)}
