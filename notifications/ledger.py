"""The hazard ledger (隐患台账) as an Excel workbook: one row per hazard with the columns offices keep,
a header row, frozen panes, an auto-filter, fitting column widths and real Excel dates (local time in the
policy's time zone). The city's file has one sheet per county; a county's or a township's file has one.

The ledger shows each hazard as it stands at ``now`` (its current state), unlike the periodic figures,
which are as of the period's end. Rows are streamed from one query (``models.store.ledger``) into a
write-only workbook, so memory stays flat however large the ledger; a sheet that reaches Excel's
row limit goes on in a continuation sheet.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape as xml_escape

from hazardloop.models.core.ledger_filter import LedgerFilter, report_ledger_filter
from hazardloop.models.core.lifecycle import CLOCK_RUNNING
from hazardloop.models.core.rules import Rules
from hazardloop.models.core.text import xml_safe
from hazardloop.notifications.rendering import LEVEL_NAMES, SEVERITY_NAMES, STATE_NAMES

# (header, width in characters, kind): kind decides the cell format.
COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("编号", 17, "text"),
    ("发现时间", 17, "datetime"),
    ("来源", 12, "text"),
    ("地点(县/乡镇/村)", 32, "text"),
    ("隐患描述", 48, "wrap"),
    ("领域", 14, "text"),
    ("等级", 10, "text"),
    ("责任单位", 28, "text"),
    ("整改期限", 12, "date"),
    ("整改措施/情况", 36, "wrap"),
    ("核查人", 20, "text"),
    ("核查日期", 12, "date"),
    ("销号日期", 12, "date"),
    ("状态", 14, "text"),
    ("督办级别", 10, "text"),
    ("返工次数", 9, "int"),
)
HEADERS = tuple(c[0] for c in COLUMNS)
_LETTERS = tuple(chr(ord("A") + i) for i in range(len(COLUMNS)))  # the columns' letters (fewer than 27)
_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "int": "0"}
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 1_048_575  # data rows per sheet: Excel's 1,048,576 rows less the header
# What a spreadsheet program reads as the start of a formula (OWASP's list for CSV and formula injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_EXCEL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")  # openpyxl stores these as errors
_MAX_TEXT = 32_767  # characters in a cell; openpyxl cuts longer text to this


@dataclass
class LedgerSummary:
    sheets: dict[str, int] = field(default_factory=dict)  # sheet title -> rows (without the header)

    @property
    def rows(self) -> int:
        return sum(self.sheets.values())


def _sheet_title(name: str, taken: set[str]) -> str:
    title = _BAD_SHEET_CHARS.sub("_", xml_safe(name))[:31] or "台账"
    base, n = title, 2
    while title in taken:
        suffix = f"({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title)
    return title


class _Writer:
    def __init__(self, rules: Rules, now: datetime) -> None:
        from openpyxl import Workbook

        self.rules, self.now, self.tz = rules, now, rules.policy.tz
        self.book = Workbook(write_only=True)
        self.sheets: dict[str | None, Any] = {}
        self.titles: dict[str | None, str] = {}
        self.counts: dict[str | None, int] = {}
        self.parts: dict[str | None, int] = {}
        self.full_sheets: list[tuple[str, Any, int]] = []  # (title, sheet, rows) of sheets that filled up
        self._base_title: dict[str | None, str] = {}
        self._taken: set[str] = set()
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment

        self._cell = WriteOnlyCell
        self._wrap = Alignment(wrap_text=True, vertical="top")
        self._styled: dict[str, Any] = {}  # a cell of each styled kind, set when rows are written as XML here
        self._style_ids: dict[str, int] = {}
        self._epoch: datetime | None = None
        self._raw_row: list[tuple[str, str]] | None = None

    def add_sheet(self, key: str | None, name: str) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
        from openpyxl.utils import get_column_letter

        title = _sheet_title(name, self._taken)
        ws = self.book.create_sheet(title)
        for i, (_head, width, _kind) in enumerate(COLUMNS, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "B2"  # the header row and the hazard id stay in view
        thin = Side(style="thin", color="808080")
        header = []
        for head in HEADERS:
            cell = WriteOnlyCell(ws, value=head)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="D9E1F2")
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
            header.append(cell)
        ws.append(header)
        self._write_rows_fast(ws)
        self.sheets[key], self.titles[key], self.counts[key] = ws, title, 0
        self._base_title.setdefault(key, name)

    def _write_rows_fast(self, ws: Any) -> None:
        """Let ``append`` write a data row's XML itself. openpyxl (without lxml) builds and serialises an element
        tree for every cell, two thirds of a ledger's time; a ledger's cells are of a few fixed shapes, written
        here exactly as openpyxl writes them (the same ``<c>`` elements, types and style ids). Rows of another
        shape (text read as a formula or an error code) still go through openpyxl."""
        import openpyxl
        from openpyxl.cell import WriteOnlyCell

        if openpyxl.LXML:  # lxml's writer takes no raw text; it is quick enough by itself
            return
        # made in the order a row meets them, which is the order their formats are numbered in (as with openpyxl)
        timed = WriteOnlyCell(ws, value=datetime(2000, 1, 1))  # noqa: DTZ001  (cells hold naive local times)
        timed.number_format = _FORMATS["datetime"]
        wrapped = WriteOnlyCell(ws, value="")
        wrapped.alignment = self._wrap
        dated = WriteOnlyCell(ws, value=date(2000, 1, 1))  # a plain date gets its date format by itself
        self._styled = {"date": dated, "datetime": timed, "wrap": wrapped}
        self._epoch = ws.parent.epoch
        writer = ws._writer
        writer.write_row = functools.partial(self._write_row, writer.write_row)

    def _write_row(self, openpyxl_write_row: Callable[..., None], xf: Any, row: Any, row_idx: int) -> None:
        cells, self._raw_row = self._raw_row, None
        if cells is None:
            openpyxl_write_row(xf, row, row_idx)
            return
        index = str(row_idx)
        xf._file(f'<row r="{index}">' + "".join(head + index + tail for head, tail in cells) + "</row>")

    def _style_id(self, kind: str) -> int:
        """The style of a ``kind`` of cell, registered with the workbook when first written, as openpyxl does: the
        styles are numbered in the order the cells are met, so the workbook's bytes are the same as openpyxl's."""
        if kind not in self._style_ids:
            self._style_ids[kind] = self._styled[kind].style_id
        return self._style_ids[kind]

    def _raw_cells(self, values: list[Any]) -> list[tuple[str, str]] | None:
        """Each cell as (``<c r="`` + column, the rest after the row number), as openpyxl would write it; ``None``
        when a value needs openpyxl's own handling."""
        from openpyxl.utils.datetime import to_excel

        cells: list[tuple[str, str]] = []
        for value, (_head, _width, kind), letter in zip(values, COLUMNS, _LETTERS, strict=True):
            if value is None:
                continue
            head = f'<c r="{letter}'
            if isinstance(value, str):
                value = xml_safe(value)[:_MAX_TEXT]
                if value.startswith(_FORMULA_STARTS) or value in _EXCEL_ERRORS:
                    return None
                style = f' s="{self._style_id("wrap")}"' if kind == "wrap" else ""
                if not value:
                    cells.append((head, f'"{style} t="inlineStr" />'))
                    continue
                space = ' xml:space="preserve"' if value != value.strip() and value.strip() else ""
                cells.append((head, f'"{style} t="inlineStr"><is><t{space}>{xml_escape(value)}</t></is></c>'))
            elif type(value) is int:
                cells.append((head, f'" t="n"><v>{value:.16g}</v></c>'))
            elif (kind, type(value)) in (("date", date), ("datetime", datetime)) and getattr(
                value, "tzinfo", None
            ) is None:
                style = self._style_id(kind)
                cells.append((head, f'" s="{style}" t="n"><v>{to_excel(value, self._epoch):.16g}</v></c>'))
            else:
                return None
        return cells

    def _local(self, value: datetime | None) -> datetime | None:
        return value.astimezone(self.tz).replace(tzinfo=None) if value is not None else None

    def _day(self, value: datetime | None) -> date | None:
        return value.astimezone(self.tz).date() if value is not None else None

    def _unit(self, code: str | None) -> str:
        if not code:
            return ""
        unit = self.rules.tree.units.get(code)
        return unit.name if unit else code

    def _actor(self, raw: str | None) -> str:
        if not raw:
            return ""
        code, _, person = raw.partition("/")
        return self._unit(code) + (f"/{person}" if person else "")

    def values(self, r: Any) -> list[Any]:
        policy = self.rules.policy
        where = "/".join(x for x in (self._unit(r.county_code), self._unit(r.township_code), r.village) if x)
        if r.address:
            where += f" {r.address}"
        description = r.title if not r.description or r.description == r.title else f"{r.title}：{r.description}"
        state = STATE_NAMES.get(r.state, r.state)
        if r.state in {str(s) for s in CLOCK_RUNNING} and r.due_at is not None and self.now > r.due_at:
            state += "（逾期）"
        measures = r.note or ""
        if r.state == "invalid":
            measures = f"作废：{r.void_reason}" if r.void_reason else "作废"
        return [
            r.id,
            self._local(r.detected_at),
            r.source or "",
            where,
            description,
            policy.fields.get(r.field, r.field),
            SEVERITY_NAMES.get(r.severity, r.severity),
            self._unit(r.unit_code),
            self._day(r.due_at),
            measures,
            self._actor(r.checker),
            self._day(r.checked_at),
            self._day(r.cleared_at),
            state,
            LEVEL_NAMES.get(r.level, r.level),
            int(r.rework_count or 0),
        ]

    def append(self, key: str | None, r: Any) -> None:
        if self.counts[key] >= MAX_ROWS:  # Excel's limit: go on in a continuation sheet
            part = self.parts.get(key, 1) + 1
            self.full_sheets.append((self.titles[key], self.sheets[key], self.counts[key]))
            self.add_sheet(key, f"{self._base_title[key]}（续{part - 1}）")
            self.parts[key] = part
        ws = self.sheets[key]
        values = self.values(r)
        if self._styled:
            self._raw_row = self._raw_cells(values)
            if self._raw_row is not None:
                ws.append(())  # openpyxl numbers the row and hands it to _write_row
                self.counts[key] += 1
                return
        # Styled cells are slow in openpyxl: plain values where the default is right (text, numbers, and
        # dates, which get a date format by themselves), one shared style per styled column.
        row: list[Any] = []
        for value, (_head, _width, kind) in zip(values, COLUMNS, strict=True):
            if isinstance(value, str):
                value = xml_safe(value)
                if value.startswith(_FORMULA_STARTS):
                    row.append(self._text_cell(ws, value, wrap=kind == "wrap"))
                    continue
            if value is None or kind in ("text", "int", "date"):
                row.append(value)
                continue
            cell = self._cell(ws, value)
            if kind == "wrap":
                cell.alignment = self._wrap
            else:
                cell.number_format = _FORMATS[kind]
            row.append(cell)
        ws.append(row)
        self.counts[key] += 1

    def _text_cell(self, ws: Any, value: str, *, wrap: bool) -> Any:
        """A cell that holds ``value`` as text whatever it starts with: openpyxl would write text beginning with
        ``=`` as a live formula, and a spreadsheet program would read ``+``, ``-`` or ``@`` as the start of one
        when the cell is edited (formula injection: ``=HYPERLINK(…)`` in a title sent to every county). The
        string type keeps the exact text; the quote prefix tells the program it is text when edited, too."""
        cell = self._cell(ws, value)
        cell.data_type = "s"
        cell.quotePrefix = True
        if wrap:
            cell.alignment = self._wrap
        return cell

    def finish(self, target: str | Path | IO[bytes]) -> LedgerSummary:
        from openpyxl.utils import get_column_letter

        last = get_column_letter(len(COLUMNS))
        sheets = [*self.full_sheets, *((self.titles[k], ws, self.counts[k]) for k, ws in self.sheets.items())]
        for _title, ws, rows in sheets:
            ws.auto_filter.ref = f"A1:{last}{rows + 1}"
        self.book.save(target)
        order = {ws.title: i for i, ws in enumerate(self.book.worksheets)}
        return LedgerSummary({t: rows for t, _ws, rows in sorted(sheets, key=lambda x: order.get(x[0], 0))})


def write_ledger(
    rows: Iterable[Any],
    rules: Rules,
    now: datetime,
    target: str | Path | IO[bytes],
    flt: LedgerFilter | None = None,
) -> LedgerSummary:
    """Write the ledger of ``rows`` (``models.store.ledger.ledger_rows`` for ``flt``; default: every hazard of the
    city, one sheet per county) to ``target``."""
    flt = flt or LedgerFilter()
    tree = rules.tree
    writer = _Writer(rules, now)
    if flt.township:
        county = tree.county_of(flt.township)
        only: str | None = county.code if county else None
        writer.add_sheet(only, tree.get(flt.township).name)
    elif flt.county:
        only = flt.county
        writer.add_sheet(only, tree.get(flt.county).name)
    else:
        for unit in tree.counties():
            writer.add_sheet(unit.code, unit.name)
    for r in rows:
        key = r.county_code
        if key not in writer.sheets:
            if flt.township or flt.county:  # a hazard filed under another county than the tree says
                key = next(iter(writer.sheets))
            else:
                # the townships and key areas directly under the city: "市直", as the analysis calls them
                writer.add_sheet(key, writer._unit(key) if key else "市直")
        writer.append(key, r)
    return writer.finish(target)


def ledger_bytes(rows: Iterable[Any], rules: Rules, now: datetime, flt: LedgerFilter | None = None) -> bytes:
    buf = io.BytesIO()
    write_ledger(rows, rules, now, buf, flt)
    return buf.getvalue()


def report_attachment(
    rows: Iterable[Any], rules: Rules, context: dict[str, Any], now: datetime
) -> tuple[str, bytes, str] | None:
    """The ledger to attach to a monthly report notice (``None`` for other periods), from the ``rows`` of
    ``report_ledger_filter(rules, context)``: the scope's hazards still open and those closed since the period
    began, as they stand at sending time, as ``(filename, bytes, mimetype)`` for ``build_message``."""
    flt = report_ledger_filter(rules, context)
    if flt is None:
        return None
    scope = context.get("scope") or {}
    name = f"隐患台账-{scope.get('name', '')}-{context.get('period_label', '')}.xlsx"
    return name, ledger_bytes(rows, rules, now, flt), XLSX_MIME
