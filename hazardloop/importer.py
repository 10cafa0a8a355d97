"""Reading a hazard ledger (台账) from ``.csv`` or ``.xlsx`` into detection events. Chinese column headers
(as offices keep them) or the contract's English field names; see the README for the table."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.instants import day_in_range

# header (as written in the ledger) -> event field
HEADERS: dict[str, str] = {
    "来源编号": "ref",
    "编号": "ref",
    "ref": "ref",
    "隐患名称": "title",
    "标题": "title",
    "title": "title",
    "隐患描述": "description",
    "问题描述": "description",
    "description": "description",
    "领域": "field",
    "所属领域": "field",
    "field": "field",
    "等级": "severity",
    "隐患等级": "severity",
    "severity": "severity",
    "县(市、区)": "county",
    "县（市、区）": "county",
    "区县": "county",
    "county": "county",
    "乡镇(街道)": "township",
    "乡镇（街道）": "township",
    "乡镇街道": "township",
    "township": "township",
    "村(社区)": "village",
    "村（社区）": "village",
    "village": "village",
    "地址": "address",
    "详细地址": "address",
    "address": "address",
    "来源": "source",
    "发现来源": "source",
    "source": "source",
    "专项行动": "campaign",
    "专项整治": "campaign",
    "campaign": "campaign",
    "发现时间": "at",
    "上报时间": "at",
    "at": "at",
    "detected_at": "at",
    "上报人": "actor",
    "上报单位": "actor",
    "actor": "actor",
    "reporter": "actor",
    "事件编号": "event_id",
    "event_id": "event_id",
}
REQUIRED = ("ref", "title", "description", "field", "severity", "township", "at", "actor")
_SEVERITY = {
    "一般": "general",
    "一般隐患": "general",
    "general": "general",
    "重大": "major",
    "重大隐患": "major",
    "major": "major",
}


# Limits that keep a hostile or broken file from exhausting the machine (the README says them): a ledger is
# refused before it is parsed when its contents would unpack to more than this, or are compressed suspiciously
# well (a "zip bomb": a small file that unpacks to gigabytes), and while it is read once it has more rows or
# columns than these.
MAX_LEDGER_MB = 100
MAX_LEDGER_BYTES = MAX_LEDGER_MB * 2**20
MAX_COMPRESSION_RATIO = 100  # a real workbook's XML packs 5-20 to 1
MAX_ZIP_MEMBERS = 1000
MAX_LEDGER_ROWS = 200_000  # data rows, the header not counted
MAX_LEDGER_COLUMNS = 200
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell


def _refuse(message: str, path: Path, line: int | None = None) -> InvalidInput:
    return InvalidInput([Problem(message, source=str(path), line=line)])


def _check_workbook_size(path: Path) -> None:
    """Refuse an .xlsx whose parts would unpack to too much, before anything is unpacked. The sizes are the
    ones the zip declares, and they bind: Python's zip reader stops at the declared size of each part."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = archive.infolist()
    if len(parts) > MAX_ZIP_MEMBERS:
        raise _refuse(f"the workbook has {len(parts)} parts, more than the {MAX_ZIP_MEMBERS} a ledger may have", path)
    total = sum(part.file_size for part in parts)
    if total > MAX_LEDGER_BYTES:
        raise _refuse(
            f"the workbook unpacks to {total / 2**20:,.0f} MB, more than the {MAX_LEDGER_MB} MB a ledger may have; "
            "import it in parts",
            path,
        )
    for part in parts:
        if part.file_size > 2**20 and part.file_size > MAX_COMPRESSION_RATIO * max(part.compress_size, 1):
            raise _refuse(
                f"the workbook's part {part.filename} is compressed {part.file_size // max(part.compress_size, 1):,} "
                f"to 1, more than a real ledger ever is ({MAX_COMPRESSION_RATIO} to 1); it was not read",
                path,
            )


def _rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) for each row of the first sheet, the header as row 1, at most `MAX_LEDGER_COLUMNS`
    cells a row; refuses a file over the limits (see above)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if path.stat().st_size > MAX_LEDGER_BYTES:
            raise _refuse(f"the file is larger than the {MAX_LEDGER_MB} MB a ledger may have; import it in parts", path)
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            # the row number (header = row 1), as Excel shows it: a cell with a line break must not shift it
            number = 1
            try:
                for number, row in enumerate(reader, start=1):
                    yield number, row
            except csv.Error as exc:
                raise _refuse(f"is not a well-formed CSV row ({exc})", path, number + 1) from None
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        _check_workbook_size(path)
        # data_only=False: a formula cell is read as the formula's text, never as a value computed from it
        book = load_workbook(path, read_only=True, data_only=False)
        try:
            sheet = book.worksheets[0]
            # The sheet's declared size is the file's word, not a fact (A1:XFD1048576 would make every row 16,384
            # cells wide, to be matched against a header as wide): read the rows and cells the file holds, up to
            # the limits.
            sheet.reset_dimensions()
            rows = sheet.iter_rows(max_row=MAX_LEDGER_ROWS + 2, max_col=MAX_LEDGER_COLUMNS + 1, values_only=True)
            for number, row in enumerate(rows, start=1):
                yield number, list(row)
        finally:
            book.close()
    else:
        raise InvalidInput([Problem("a ledger must be a .csv or .xlsx file", source=str(path))])


@dataclass
class Ledger:
    lines: list[tuple[int, str]]  # (row number, event JSON) per data row
    columns: dict[str, str]  # event field path (hazard.township, at, actor …) → the column's header in the file


def read_ledger(path: Path, tz: ZoneInfo, fields: dict[str, str]) -> Ledger:
    """(row number, event JSON) per data row, converted from the ledger's conventions (一般/重大, local dates,
    Chinese field names), and the columns it read. A value that does not convert is passed on as written: the
    event validation then rejects that row, naming its row and column, along with every other bad row of the
    file, and ``--partial`` still applies the good rows. Raising here instead would reject the whole file at the
    first such value. What makes the whole file unreadable (no header, a column missing or given twice, no data
    row, the limits) is refused here, for the whole file."""
    by_name = {name: code for code, name in fields.items()}
    with closing(_rows(path)) as rows:  # a refusal half-way closes the workbook at once
        first = next(rows, None)
        if first is None:
            raise _refuse("the file is empty; a ledger needs a header row and one row per hazard", path)
        columns = _columns(first[1], path)
        lines = list(_lines(rows, columns, tz, by_name, path))
    if not lines:
        raise _refuse("the ledger has a header row but no row of hazards; nothing to import", path)
    header = [str(c).strip() if c is not None else "" for c in first[1]]
    named = {("hazard." + key if key not in _TOP_LEVEL else key): header[i] for i, key in columns.items()}
    return Ledger(lines, named)


def _lines(
    rows: Iterator[tuple[int, list[Any]]], columns: dict[int, str], tz: ZoneInfo, by_name: dict[str, str], path: Path
) -> Iterator[tuple[int, str]]:
    """(row number, event JSON) for each row after the header that is not blank, within the limits."""
    for number, row in rows:
        if number > MAX_LEDGER_ROWS + 1:
            raise _refuse(f"the ledger has more than {MAX_LEDGER_ROWS:,} rows of hazards; import it in parts", path)
        if len(row) > MAX_LEDGER_COLUMNS and any(v not in (None, "") for v in row[MAX_LEDGER_COLUMNS:]):
            raise _refuse(
                f"the row has more than {MAX_LEDGER_COLUMNS} columns, more than a ledger may have", path, number
            )
        values = {key: row[i] for i, key in columns.items() if i < len(row)}
        if not all(v in (None, "") for v in values.values()):
            yield number, _event_json(number, values, tz, by_name, path)


_TOP_LEVEL = ("at", "actor", "event_id")
_FIELD_WORDS = {v: k for k, v in HEADERS.items() if not k.isascii()}  # field → one of its Chinese headers


def _columns(cells: list[Any], path: Path) -> dict[int, str]:
    """Column index → event field, from the header row; refuses a header that lacks a required column or names
    one field twice (two reference columns would leave it to chance which one a hazard is known by)."""
    if len(cells) > MAX_LEDGER_COLUMNS and any(c not in (None, "") for c in cells[MAX_LEDGER_COLUMNS:]):
        raise _refuse(
            f"the header row has more than {MAX_LEDGER_COLUMNS} columns, more than a ledger may have", path, 1
        )
    columns: dict[int, str] = {}
    given_by: dict[str, str] = {}
    for index, cell in enumerate(cells):
        head = str(cell).strip() if cell is not None else ""
        key = HEADERS.get(head) if head else None
        if key is None:
            continue
        if key in given_by:
            what = f"the {_FIELD_WORDS.get(key, key)} ({key}) of a hazard"
            said = (
                f"the column '{head}' appears twice"
                if given_by[key] == head
                else f"the columns '{given_by[key]}' and '{head}' both give {what}"
            )
            raise _refuse(f"{said}; keep one, so that it is clear which one is meant", path, 1)
        given_by[key] = head
        columns[index] = key
    missing = [k for k in REQUIRED if k not in given_by]
    if missing:
        wanted = ", ".join(f"{_FIELD_WORDS.get(m, m)} ({m})" for m in missing)
        raise _refuse(f"the header row lacks the column(s) {wanted}", path, 1)
    return columns


def _event_json(number: int, values: dict[str, Any], tz: ZoneInfo, by_name: dict[str, str], path: Path) -> str:
    hazard: dict[str, Any] = {}
    for key in (
        "ref",
        "title",
        "description",
        "field",
        "severity",
        "township",
        "county",
        "village",
        "address",
        "source",
        "campaign",
    ):
        value = values.get(key)
        if value not in (None, ""):
            hazard[key] = _cell_text(value, number, path)
    if "severity" in hazard:  # a word other than 一般/重大 stays as written, for the validation to name
        hazard["severity"] = _SEVERITY.get(hazard["severity"], hazard["severity"])
    if "field" in hazard:
        hazard["field"] = by_name.get(hazard["field"], hazard["field"])
    when = _instant(values.get("at"), tz)
    event_id = _cell_text(values.get("event_id"), number, path) or f"ledger:{hazard.get('ref', number)}"
    event = {
        "type": "hazard.detected",
        "event_id": event_id,
        "at": when,
        "actor": _cell_text(values.get("actor"), number, path) or None,
        "hazard": hazard,
    }
    return json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False)


def _cell_text(value: Any, number: int, path: Path) -> str:
    """A cell as the text of an event field; the event validation then applies the engine's rule on text to it
    (models.text) like to any event."""
    text = "" if value is None else str(value).strip()
    if len(text) > MAX_CELL_CHARS:
        raise _refuse(
            f"a cell holds {len(text):,} characters, more than a spreadsheet cell can ({MAX_CELL_CHARS:,})",
            path,
            number,
        )
    return text


_EXCEL_SERIALS = (36526, 73051)  # 2000-01-01 … 2099-12-31


def _instant(value: Any, tz: ZoneInfo) -> str | None:
    """The ledger's date and time as ISO 8601 text; without an offset it is local time in the policy's zone.
    Text that is not a date (or a number that is no plausible Excel date) comes back as written, for the
    validation."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz).isoformat()
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and _EXCEL_SERIALS[0] <= value < _EXCEL_SERIALS[1]
    ):
        # an Excel date in a cell without a date format reads as its serial number; outside this century a
        # number is more likely a mistake (a year typed in) and goes on as written, to be named
        from openpyxl.utils.datetime import from_excel

        return from_excel(value).replace(tzinfo=tz).isoformat()
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return text
    if parsed.tzinfo is None and not day_in_range(parsed.date()):
        # the zone's offset of that far-off year (local mean time, +08:05:43) is no ISO offset: give today's, so
        # the event is refused for its year
        parsed = parsed.replace(tzinfo=timezone(datetime(2025, 1, 1, tzinfo=tz).utcoffset() or timedelta(0)))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).isoformat()
