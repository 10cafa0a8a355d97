"""The hazard ledger (隐患台账) in Excel: one sheet per county, the office's columns, real dates, filters."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from hazardloop.models.core.ledger_filter import LedgerFilter, report_ledger_filter
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.ledger import ledger_rows
from hazardloop.models.store.tables import HazardRow, TransitionRow
from hazardloop.notifications.ledger import HEADERS, ledger_bytes, report_attachment
from hazardloop.notifications.rendering import LEVEL_NAMES, STATE_NAMES
from tests.support.analysis_data import TZ, load
from tests.support.fixtures import Cli, cli_on_copy

NOW = "2025-11-03T09:00:00+08:00"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ledger") / "gen.db"
    loaded = load(f"sqlite:///{path}", 400, seed=3, early=False)
    loaded.app.close()
    return path


@pytest.fixture
def cli(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield cli_on_copy(template_db, tmp_path, monkeypatch)


def _hazards(cli: Cli) -> list[tuple[Any, Any]]:
    from sqlalchemy import create_engine

    engine = create_engine(cli.db)
    with engine.connect() as conn:
        rows = list(conn.execute(select(HazardRow.__table__)))
        checks = {
            r.hazard_id: r
            for r in conn.execute(
                select(TransitionRow.__table__)
                .where(TransitionRow.__table__.c.action.in_(["verification.passed", "verification.failed"]))
                .order_by(TransitionRow.__table__.c.at)
            )
        }
    engine.dispose()
    return [(r, checks.get(r.id)) for r in rows]


def _local(value: datetime) -> datetime:
    return value.astimezone(TZ).replace(tzinfo=None)


def test_the_city_ledger_has_one_sheet_per_county_with_every_hazard(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "台账.xlsx"
    result = cli.ok("ledger", "--out", str(target), now=NOW)
    assert "wrote" in result.stdout
    book = load_workbook(target)
    assert book.sheetnames == ["越城区", "柯桥区", "上虞区", "诸暨市", "嵊州市", "新昌县", "滨海新区"]
    hazards = _hazards(cli)
    county_names = {"SX-YC": "越城区", "SX-KQ": "柯桥区", "SX-SY": "上虞区", "SX-ZJ": "诸暨市", "SX-SZ": "嵊州市",
                    "SX-XC": "新昌县", "SX-BH": "滨海新区"}  # fmt: skip
    per_county = Counter(county_names[h.county_code] for h, _ in hazards)
    by_id = {h.id: (h, check) for h, check in hazards}
    seen = 0
    now = datetime.fromisoformat(NOW)
    for ws in book.worksheets:
        assert [c.value for c in ws[1]] == list(HEADERS)
        assert ws.freeze_panes == "B2"
        assert ws.auto_filter.ref == f"A1:P{ws.max_row}"
        assert ws.column_dimensions["E"].width >= 40  # 隐患描述
        assert ws.max_row - 1 == per_county[ws.title]
        for row in ws.iter_rows(min_row=2):
            seen += 1
            v = {head: cell for head, cell in zip(HEADERS, row, strict=True)}
            h, check = by_id[v["编号"].value]
            assert v["地点(县/乡镇/村)"].value.startswith(ws.title + "/")
            assert isinstance(v["发现时间"].value, datetime) and v["发现时间"].is_date
            assert v["发现时间"].value == _local(h.detected_at)
            if h.due_at is not None:
                assert v["整改期限"].is_date
                assert v["整改期限"].value == datetime.combine(h.due_at.astimezone(TZ).date(), datetime.min.time())
            if h.state == "cleared":
                assert v["销号日期"].is_date
                assert v["销号日期"].value.date() == h.cleared_at.astimezone(TZ).date()
                assert v["整改措施/情况"].value in ("已整改", "再次整改")
            else:
                assert v["销号日期"].value is None
            if check is not None:
                assert v["核查日期"].value.date() == check.at.astimezone(TZ).date()
                assert v["核查人"].value  # the verifying unit's name
            overdue = h.state in ("assigned", "rectifying") and h.due_at is not None and now > h.due_at
            assert v["状态"].value == STATE_NAMES[h.state] + ("（逾期）" if overdue else "")
            assert v["督办级别"].value == LEVEL_NAMES[h.level]
            assert v["返工次数"].value == h.rework_count and isinstance(v["返工次数"].value, int)
            assert v["等级"].value in ("一般隐患", "重大隐患")
    assert seen == len(hazards) == 400


def test_ledger_filters_pick_a_township_a_county_or_states(cli: Cli, tmp_path: Path) -> None:
    hazards = [h for h, _ in _hazards(cli)]
    town = cli.ok("ledger", "--out", str(tmp_path / "fs.xlsx"), "--township", "府山街道", now=NOW)
    assert "府山街道" in town.stdout
    book = load_workbook(tmp_path / "fs.xlsx")
    assert book.sheetnames == ["府山街道"]
    assert book.active.max_row - 1 == sum(h.township_code == "SX-YC-FS" for h in hazards) > 0

    cli.ok("ledger", "--out", str(tmp_path / "yc.xlsx"), "--county", "SX-YC", "--state", "cleared,invalid", now=NOW)
    book = load_workbook(tmp_path / "yc.xlsx")
    assert book.sheetnames == ["越城区"]
    states = [r[13] for r in book.active.iter_rows(min_row=2, values_only=True)]
    assert set(states) <= {"已销号", "已作废"}
    assert len(states) == sum(h.county_code == "SX-YC" and h.state in ("cleared", "invalid") for h in hazards)


@pytest.mark.parametrize(
    "args",
    [
        ("--township", "不存在的街道"),
        ("--county", "府山街道"),
        ("--state", "done"),
        ("--township", "柯桥街道", "--county", "越城区"),
    ],
)
def test_a_bad_ledger_filter_is_invalid_input(cli: Cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = cli("ledger", "--out", str(tmp_path / "x.xlsx"), *args, now=NOW)
    assert result.exit_code == 2, result.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_a_ledger_must_be_an_xlsx_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("ledger", "--out", str(tmp_path / "x.csv"), now=NOW)
    assert result.exit_code == 2
    assert "xlsx" in result.stderr


def test_the_monthly_report_gets_the_scope_ledger_as_attachment(template_db: Path) -> None:
    from hazardloop.config.bootstrap import bootstrap
    from tests.support.fixtures import CONFIG_DIR

    app = bootstrap(db=f"sqlite:///{template_db}", config_dir=CONFIG_DIR)
    now = datetime.fromisoformat(NOW)
    context = {"period_kind": "monthly", "period_label": "2025-10", "period_start": "2025-10-01",
               "scope": {"code": "SX-KQ", "name": "柯桥区", "level": "county"}}  # fmt: skip
    with unit_of_work(app.engine, write=False) as conn:
        flt = report_ledger_filter(app.rules, context)
        assert flt is not None
        name, data, mime = report_attachment(ledger_rows(conn, flt), app.rules, context, now)  # type: ignore[misc]
        daily = {**context, "period_kind": "daily"}
        assert report_ledger_filter(app.rules, daily) is None
        assert report_attachment([], app.rules, daily, now) is None
        whole = ledger_bytes(ledger_rows(conn, LedgerFilter()), app.rules, now, LedgerFilter())
    assert name == "隐患台账-柯桥区-2025-10.xlsx"
    assert mime.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(data))["柯桥区"]
    # the scope's hazards still open, and those closed since the month began
    h = HazardRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        expected = conn.execute(
            select(func.count())
            .select_from(h)
            .where(
                h.c.county_code == "SX-KQ",
                (h.c.closed_at.is_(None)) | (h.c.closed_at >= datetime(2025, 10, 1, tzinfo=TZ)),
            )
        ).scalar()
        everything = conn.execute(select(func.count()).select_from(h).where(h.c.county_code == "SX-KQ")).scalar()
    assert sheet.max_row - 1 == expected < everything
    assert len(load_workbook(io.BytesIO(whole)).sheetnames) == 7
    app.close()


def test_a_county_beyond_the_excel_row_limit_goes_on_in_continuation_sheets(
    template_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hazardloop.notifications.ledger as ledger
    from hazardloop.config.bootstrap import bootstrap
    from tests.support.fixtures import CONFIG_DIR

    monkeypatch.setattr(ledger, "MAX_ROWS", 20)
    app = bootstrap(db=f"sqlite:///{template_db}", config_dir=CONFIG_DIR)
    buf = io.BytesIO()
    with unit_of_work(app.engine, write=False) as conn:
        county = LedgerFilter(county="SX-YC")
        summary = ledger.write_ledger(ledger_rows(conn, county), app.rules, datetime.fromisoformat(NOW), buf, county)
        total = conn.execute(
            select(func.count()).select_from(HazardRow.__table__).where(HazardRow.__table__.c.county_code == "SX-YC")
        ).scalar()
    app.close()
    book = load_workbook(io.BytesIO(buf.getvalue()))
    assert book.sheetnames[0] == "越城区" and book.sheetnames[1] == "越城区（续1）"
    assert list(summary.sheets) == book.sheetnames
    assert all(rows <= 20 for rows in summary.sheets.values())
    assert summary.rows == total == sum(ws.max_row - 1 for ws in book.worksheets)
    for ws in book.worksheets:
        assert [c.value for c in ws[1]] == list(HEADERS)
        assert ws.auto_filter.ref == f"A1:P{ws.max_row}"
