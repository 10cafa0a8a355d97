"""Reading a hazard ledger (台账) from ``.csv`` or ``.xlsx`` into detection events. Chinese column headers
(as offices keep them) or the contract's English field names; see the README for the table."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from models.errors import InvalidInput, Problem

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
            for row in reader:
                yield reader.line_num, dict(zip(header, row, strict=False))
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
    """(row number, event JSON) per data row; problems that the event validation would word badly (unknown
    headers, bad severity words, unparseable dates) are reported here with the column's own name."""
    by_name = {name: code for code, name in fields.items()}
    problems: list[Problem] = []
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
        header_of = {v: k for k, v in columns.items()}
        if "severity" in hazard:
            sev = _SEVERITY.get(hazard["severity"])
            if sev is None:
                problems.append(
                    Problem(
                        f"'{hazard['severity']}' is not a severity; use 一般 or 重大",
                        source=source,
                        line=number,
                        field=header_of["severity"],
                    )
                )
                continue
            hazard["severity"] = sev
        if "field" in hazard:
            hazard["field"] = by_name.get(hazard["field"], hazard["field"])
        at = values.get("at")
        try:
            when = _instant(at, tz)
        except ValueError:
            problems.append(
                Problem(
                    f"'{at}' is not a date and time (e.g. 2025-10-13 09:30)",
                    source=source,
                    line=number,
                    field=header_of["at"],
                )
            )
            continue
        event_id = str(values.get("event_id") or f"ledger:{hazard.get('ref', number)}")
        event = {
            "type": "hazard.detected",
            "event_id": event_id,
            "at": when.isoformat() if when else None,
            "actor": str(values.get("actor") or "").strip() or None,
            "hazard": hazard,
        }
        out.append((number, json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False)))
    if problems:
        raise InvalidInput(problems)
    return out


def _instant(value: Any, tz: ZoneInfo) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    text = str(value).strip().replace("/", "-")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
