"""Reading a hazard ledger (台账) from ``.csv`` or ``.xlsx`` into detection events. Chinese column headers
(as offices keep them) or the contract's English field names; see the README for the table."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from models.errors import InvalidInput, Problem
from models.instants import day_in_range

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


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return
            yield 1, {"__header__": header}
            # the row number (header = row 1), as Excel shows it: a cell with a line break must not shift it
            for number, row in enumerate(reader, start=2):
                yield number, dict(zip(header, row, strict=False))
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
        yield 1, {"__header__": header}
        for number, row in enumerate(rows, start=2):
            yield number, dict(zip(header, row, strict=False))
        book.close()
    else:
        raise InvalidInput([Problem("a ledger must be a .csv or .xlsx file", source=str(path))])


def column_names(path: Path) -> dict[str, str]:
    """Event field path (``hazard.township``, ``at``, ``actor`` …) → the column header as written in the file."""
    header = next((row["__header__"] for _, row in _rows(path) if "__header__" in row), [])
    names: dict[str, str] = {}
    for head in header:
        key = HEADERS.get(str(head).strip()) if head else None
        if key:
            names["hazard." + key if key not in ("at", "actor", "event_id") else key] = str(head)
    return names


def ledger_events(path: Path, tz: ZoneInfo, fields: dict[str, str]) -> list[tuple[int, str]]:
    """(row number, event JSON) per data row, converted from the ledger's conventions (一般/重大, local dates,
    Chinese field names). A value that does not convert is passed on as written: the event validation then
    rejects that row, naming its row and column, along with every other bad row of the file, and ``--partial``
    still applies the good rows. Raising here instead would reject the whole file at the first such value."""
    by_name = {name: code for code, name in fields.items()}
    out: list[tuple[int, str]] = []
    columns: dict[str, str] = {}
    source = str(path)
    for number, row in _rows(path):
        if "__header__" in row:
            for head in row["__header__"]:
                key = HEADERS.get(head.strip()) if head else None
                if key:
                    columns[head] = key
            missing = [k for k in REQUIRED if k not in columns.values()]
            if missing:
                names = {v: k for k, v in HEADERS.items() if not k.isascii()}
                wanted = ", ".join(f"{names.get(m, m)} ({m})" for m in missing)
                raise InvalidInput([Problem(f"the header row lacks the column(s) {wanted}", source=source, line=1)])
            continue
        values = {columns[k]: v for k, v in row.items() if k in columns}
        if all(v in (None, "") for v in values.values()):
            continue
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
                hazard[key] = str(value).strip()
        if "severity" in hazard:  # a word other than 一般/重大 stays as written, for the validation to name
            hazard["severity"] = _SEVERITY.get(hazard["severity"], hazard["severity"])
        if "field" in hazard:
            hazard["field"] = by_name.get(hazard["field"], hazard["field"])
        when = _instant(values.get("at"), tz)
        event_id = str(values.get("event_id") or f"ledger:{hazard.get('ref', number)}")
        event = {
            "type": "hazard.detected",
            "event_id": event_id,
            "at": when,
            "actor": str(values.get("actor") or "").strip() or None,
            "hazard": hazard,
        }
        out.append((number, json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False)))
    return out


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
