"""Importing a hazard ledger (台账): a value that does not convert (a severity word, a date) is a problem of its
row, named with the other bad rows, not a reason to refuse the whole file; ``--partial`` applies the good rows.
Real .csv and .xlsx files through the real command line, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import TOWNSHIP
from tests.support.fixtures import Cli, seeded_cli

NOW = "2025-04-02T12:00:00+02:00"
HEADER = ["来源编号", "隐患名称", "隐患描述", "领域", "等级", "乡镇(街道)", "发现时间", "上报人"]


def row(ref: str, *, field: str = "消防安全", severity: str = "一般", at: Any = "2025-03-03 09:00") -> list[Any]:
    return [ref, "灭火器过期", f"{ref} 小区灭火器过期", field, severity, TOWNSHIP, at, "SX-YC-FS/张三"]


# row number (header = row 1) → (the column's header, its event field, the value written there)
BAD = {
    2: ("等级", "hazard.severity", "超大"),
    3: ("领域", "hazard.field", "nope"),
    4: ("发现时间", "at", "yesterday"),
}
# in a spreadsheet a number in the date column that is no plausible Excel date (a year typed in) is bad
BAD_XLSX = {**BAD, 4: ("发现时间", "at", "2025")}


def write_ledger(path: Path, rows: list[list[Any]]) -> Path:
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([HEADER, *rows])
    else:
        from openpyxl import Workbook

        book = Workbook()
        for r in [HEADER, *rows]:
            book.active.append(r)
        book.save(path)
    return path


def mixed_ledger(tmp_path: Path, suffix: str) -> tuple[Path, dict[int, tuple[str, str, str]]]:
    """Rows 2–4 are bad in three different ways, row 5 is good."""
    if suffix == ".csv":
        rows = [row("TZ-2", severity="超大"), row("TZ-3", field="nope"), row("TZ-4", at="yesterday"), row("TZ-5")]
        return write_ledger(tmp_path / "台账.csv", rows), BAD
    rows = [
        row("TZ-2", severity="超大"),
        row("TZ-3", field="nope"),
        row("TZ-4", at=2025),
        row("TZ-5", at=datetime(2025, 3, 3, 9, 0)),
    ]
    return write_ledger(tmp_path / "台账.xlsx", rows), BAD_XLSX


def named(stderr: str, path: Path) -> dict[int, tuple[str, str]]:
    """Row number → (field, message) of every per-row problem on stderr."""
    found = re.findall(rf"^\s*{re.escape(str(path))}, line (\d+), field '([^']+)': (.*)$", stderr, re.MULTILINE)
    return {int(n): (field, message) for n, field, message in found}


@pytest.fixture
def seeded(cli: Cli, tmp_path: Path) -> Cli:
    """A database that already holds one imported hazard, so that "nothing written" is checked on real state."""

    def seed() -> None:
        cli.ok("import", str(write_ledger(tmp_path / "seed.csv", [row("SEED-1")])), now=NOW)

    return seeded_cli(cli, "ledger_import", seed)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_every_bad_row_is_named_with_its_column_and_nothing_is_written(
    seeded: Cli, tmp_path: Path, suffix: str
) -> None:
    path, bad = mixed_ledger(tmp_path, suffix)
    before = seeded.export(NOW)
    result = seeded("import", str(path), now=NOW)
    assert result.exit_code == 2, result.stderr
    assert "cannot be read" not in result.stderr, result.stderr
    problems = named(result.stderr, path)
    assert set(problems) == set(bad), result.stderr  # rows 2, 3 and 4; not the good row 5
    for number, (header, _, value) in bad.items():
        field, message = problems[number]
        assert field == header and value in message, result.stderr
    # in the ledger's own terms, not the event's
    assert "一般 or 重大" in problems[2][1] and "2025-10-13 09:30" in problems[4][1], result.stderr
    assert "'general' or 'major'" not in result.stderr and "use ISO 8601" not in problems[4][1], result.stderr
    assert seeded.export(NOW) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_partial_applies_the_good_row_and_lists_every_bad_one(seeded: Cli, tmp_path: Path, suffix: str) -> None:
    path, bad = mixed_ledger(tmp_path, suffix)
    result = seeded("import", "--partial", str(path), now=NOW)
    assert result.exit_code == 0, result.stderr  # as `apply --partial`: 0 once anything was applied
    assert "applied 1 event(s)" in result.stdout
    problems = named(result.stderr, path)
    assert set(problems) == set(bad), result.stderr
    for number, (header, _, value) in bad.items():
        field, message = problems[number]
        assert field == header and value in message, result.stderr
    refs = {h["ref"] for h in seeded.json("hazards", now=NOW)}
    assert refs == {"SEED-1", "TZ-5"}


def test_a_csv_row_is_named_by_its_row_number_even_after_a_cell_with_a_line_break(seeded: Cli, tmp_path: Path) -> None:
    two_lines = row("TZ-2")
    two_lines[2] = "小区3号楼灭火器过期\n楼道堆放杂物"
    path = write_ledger(tmp_path / "台账.csv", [two_lines, row("TZ-3", severity="超大")])
    result = seeded("import", str(path), now=NOW)
    assert result.exit_code == 2, result.stderr
    assert set(named(result.stderr, path)) == {3}, result.stderr


def test_a_ledger_missing_a_required_column_says_which_without_calling_it_unreadable(
    seeded: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "台账.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([[h for h in HEADER if h != "等级"], row("TZ-2")[:4] + row("TZ-2")[5:]])
    before = seeded.export(NOW)
    result = seeded("import", str(path), now=NOW)
    assert result.exit_code == 2, result.stderr
    assert "cannot be read" not in result.stderr and "InvalidInput" not in result.stderr, result.stderr
    assert "等级" in result.stderr or "severity" in result.stderr, result.stderr
    assert seeded.export(NOW) == before


def test_import_json_reports_the_rejected_rows_on_stdout_when_the_file_is_refused(seeded: Cli, tmp_path: Path) -> None:
    import json

    path, bad = mixed_ledger(tmp_path, ".csv")
    result = seeded("import", "--json", str(path), now=NOW)
    assert result.exit_code == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["applied"] == 0 and report["created"] == 0
    assert {(r["line"], r["field"]) for r in report["rejected"]} == {(n, header) for n, (header, _, _) in bad.items()}


def test_an_excel_date_in_a_cell_without_a_date_format_is_read_as_that_date(seeded: Cli, tmp_path: Path) -> None:
    """Such a cell holds the date's serial number (45748 is 2025-04-01), which is how Excel stores dates."""
    path = write_ledger(tmp_path / "台账.xlsx", [row("TZ-S", at=45748), row("TZ-T", at=45748.5)])
    seeded.ok("import", str(path), now=NOW)
    detected = {h["ref"]: h["detected_at"] for h in seeded.json("hazards", now=NOW)}
    assert detected["TZ-S"] == "2025-04-01T00:00:00+08:00" and detected["TZ-T"] == "2025-04-01T12:00:00+08:00"
