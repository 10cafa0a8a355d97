"""The ledger writes its ordinary data rows' XML itself (openpyxl without lxml builds an element tree per cell).
Those rows must be exactly what openpyxl writes: the same workbook, part for part, as with openpyxl writing every
row — for hostile and awkward text too, so an upgrade of openpyxl that changes its output fails here, not in a
county's spreadsheet program."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest

from hazardloop.notifications import ledger
from tests.support.core import rules

NOW = datetime(2025, 7, 1, 4, 0, tzinfo=UTC)

AWKWARD_TEXTS = [
    "电动自行车违规室内充电",
    "",
    "  leading and trailing spaces  ",
    "   ",
    "[/] [bold]markup[/bold]",
    " ",
    "\n",
    "<script>alert('x')</script> & \"quotes\"",
    '=HYPERLINK("http://evil.example","点击")',
    "+1",
    "-1",
    "@SUM(A1)",
    "\tTAB",
    "#N/A",
    "#DIV/0!",
    "control\x00\x07\x1bcharacters",
    "line one\nline two\r\n",
    "surrogate \ud800 lone",
    "长" * 40_000,
    "]]> CDATA end",
    "emoji 🚒",
]


def _row(i: int, text: str) -> Any:
    at = NOW - timedelta(days=30, hours=i)
    return SimpleNamespace(
        id=f"HZ-2025-{i:06d}",
        county_code="SX-YC" if i % 2 else "SX-KQ",
        township_code="SX-YC-FS" if i % 2 else "SX-KQ-KQ",
        village=text if i % 3 == 0 else "某村",
        address=text if i % 4 == 0 else None,
        title=text or "隐患",
        description=text if i % 5 else None,
        state=["assigned", "rectifying", "cleared", "invalid", "verifying"][i % 5],
        due_at=at + timedelta(days=7) if i % 6 else None,
        note=text if i % 2 else None,
        void_reason=text if i % 7 == 0 else None,
        detected_at=at,
        source=text if i % 8 == 0 else None,
        field="fire",
        severity="major" if i % 9 == 0 else "general",
        unit_code="SX-YC-XF" if i % 2 else None,
        checker="SX-YC-FS/张三" if i % 3 else None,
        checked_at=at + timedelta(days=2) if i % 3 else None,
        cleared_at=at + timedelta(days=3) if i % 4 == 1 else None,
        level=["township", "county", "city"][i % 3],
        rework_count=i % 4,
    )


def _parts(book: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}  # core.xml: the creation time


def test_rows_written_directly_are_the_bytes_openpyxl_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    r = rules()
    rows = [_row(i, text) for i, text in enumerate(AWKWARD_TEXTS * 3)]
    written_directly: list[bool] = []
    raw_cells = ledger._Writer._raw_cells

    def counting(self: Any, values: list[Any]) -> Any:
        cells = raw_cells(self, values)
        written_directly.append(cells is not None)
        return cells

    monkeypatch.setattr(ledger._Writer, "_raw_cells", counting)
    direct = ledger.ledger_bytes(rows, r, NOW)
    if openpyxl.LXML:
        # lxml's writer takes no raw text: openpyxl then writes every row itself, and the direct path stays off
        assert not written_directly
    else:
        # most rows go the direct way; formula-looking text and error codes still go through openpyxl
        assert sum(written_directly) > len(rows) // 3
        assert not all(written_directly)
    monkeypatch.setattr(ledger._Writer, "_write_rows_fast", lambda self, ws: None)
    through_openpyxl = ledger.ledger_bytes(rows, r, NOW)
    assert _parts(direct) == _parts(through_openpyxl)
    sheet = openpyxl.load_workbook(io.BytesIO(direct)).worksheets[0]
    assert sheet.max_row > 1  # the rows are there
