"""Invalid input: every bad file, line, field or option exits 2, says on stderr where (file, line, field) and
what is wrong in plain words, and writes nothing. Each test runs on SQLite and on PostgreSQL, on a database
that already holds some history, and compares the whole exported state before and after."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import FIRE_UNIT, TOWNSHIP, TOWNSHIP_CODE, detected, event, full_loop
from tests.support.fixtures import Cli, seeded_cli, write_events

NOW = "2025-03-10T12:00:00+08:00"
DAY = "2025-03-04"


def at(clock: str) -> str:
    return f"{DAY}T{clock}:00+08:00"


@pytest.fixture
def seeded(cli: Cli, tmp_path: Path) -> Cli:
    """A database with one cleared hazard (SEED-1) and one assigned to the fire brigade (SEED-2)."""

    def seed() -> None:
        history = [*full_loop("SEED-1"), detected("SEED-2", "2025-03-03T08:00:00+08:00")]
        cli.ok("apply", str(write_events(tmp_path / "seed.jsonl", history)), now=NOW)
        assert cli.json("show", "SEED-2", now=NOW)["state"] == "assigned"

    return seeded_cli(cli, "bad_input", seed)


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    """A JSON Lines file; a ``str`` item is written verbatim (to plant a broken line)."""
    text = "\n".join(item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def good_lines() -> list[dict[str, Any]]:
    """Two lines that are fine on their own: a new detection and the acknowledgement of SEED-2."""
    return [detected("NEW-1", at("08:00")), event("hazard.acknowledged", "SEED-2", at("09:00"), FIRE_UNIT)]


def bad_lines_named(stderr: str, path: Path) -> set[int]:
    return {int(n) for n in re.findall(rf"{re.escape(str(path))}, line (\d+)\b", stderr)}


def rejects_and_changes_nothing(cli: Cli, *args: str, now: str | None = NOW) -> str:
    """Run a command that must be rejected as invalid input; return its stderr."""
    before = cli.export(NOW)
    result = cli(*args, now=now)
    assert result.exit_code == 2, f"exit {result.exit_code}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    assert cli.export(NOW) == before, "a rejected command changed the database"
    return result.stderr


def assert_bad_line(cli: Cli, tmp_path: Path, bad: dict[str, Any] | str, *, field: str | None, words: list[str]) -> str:
    """The bad line comes third, after two good ones; the message names line 3, the field and the words."""
    path = write_lines(tmp_path / "events.jsonl", [*good_lines(), bad])
    stderr = rejects_and_changes_nothing(cli, "apply", str(path))
    assert bad_lines_named(stderr, path) == {3}, stderr
    if field is not None:
        assert f"'{field}'" in stderr, f"the message does not name the field {field!r}:\n{stderr}"
    for word in words:
        assert word in stderr, f"the message does not say {word!r}:\n{stderr}"
    return stderr


# --- the file itself -----------------------------------------------------------------------------------


def test_a_missing_file_is_rejected_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file.jsonl"
    stderr = rejects_and_changes_nothing(seeded, "apply", str(missing))
    assert str(missing) in stderr
    assert "not found" in stderr.lower()


def test_a_file_that_is_not_text_is_rejected_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    binary = tmp_path / "garbage.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x81 not utf-8 \xc3\x28\n")
    stderr = rejects_and_changes_nothing(seeded, "apply", str(binary))
    assert str(binary) in stderr
    assert "read" in stderr.lower()


def test_a_folder_given_as_file_is_rejected_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.jsonl"
    folder.mkdir()
    stderr = rejects_and_changes_nothing(seeded, "apply", str(folder))
    assert str(folder) in stderr


# --- one bad line ----------------------------------------------------------------------------------------


def test_a_file_starting_with_a_byte_order_mark_is_read_as_plain_utf8(seeded: Cli, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bom.jsonl", good_lines())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    seeded.ok("apply", str(path), now=NOW)
    assert seeded.json("show", "NEW-1", now=NOW)["state"] == "assigned"
    assert seeded.json("show", "SEED-2", now=NOW)["state"] == "rectifying"


def test_a_line_that_is_not_json_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    assert_bad_line(seeded, tmp_path, '{"type": "hazard.detected", "event_id": ', field=None, words=["JSON"])


def test_a_missing_field_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = detected("NEW-2", at("10:00"))
    del bad["hazard"]["title"]
    assert_bad_line(seeded, tmp_path, bad, field="hazard.title", words=["missing"])


def test_an_unknown_event_type_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = event("hazard.exploded", "SEED-2", at("10:00"), TOWNSHIP_CODE)
    assert_bad_line(seeded, tmp_path, bad, field="type", words=["hazard.exploded", "unknown"])


def test_an_unknown_hazard_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = event("hazard.invalidated", "WG-DOES-NOT-EXIST", at("10:00"), TOWNSHIP_CODE, reason="重复")
    assert_bad_line(seeded, tmp_path, bad, field="hazard", words=["WG-DOES-NOT-EXIST"])


def test_an_unknown_unit_in_a_reassignment_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = event("hazard.reassigned", "SEED-2", at("10:00"), TOWNSHIP_CODE, unit="火星消防队", reason="职责调整")
    assert_bad_line(seeded, tmp_path, bad, field="unit", words=["火星消防队"])


def test_an_unknown_township_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = detected("NEW-2", at("10:00"), township="不存在街道")
    assert_bad_line(seeded, tmp_path, bad, field="hazard.township", words=["不存在街道"])


def test_an_unknown_field_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = detected("NEW-2", at("10:00"), field="volcanoes")
    assert_bad_line(seeded, tmp_path, bad, field="hazard.field", words=["volcanoes"])


@pytest.mark.parametrize("ref", ["existing", "HZ-2025-000999"])
def test_a_reference_in_the_form_of_a_hazard_id_is_named_and_nothing_changes(
    seeded: Cli, tmp_path: Path, ref: str
) -> None:
    """Such a reference could name two hazards; one equal to an existing hazard's id was once taken for a repeat of
    that hazard's detection, and the new hazard was silently dropped."""
    if ref == "existing":
        ref = seeded.json("show", "SEED-1", now=NOW)["id"]
    bad = detected(ref, at("10:00"), title="另一处隐患")
    assert_bad_line(seeded, tmp_path, bad, field="hazard.ref", words=[ref, "HZ-year-number"])


def test_a_bad_severity_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = detected("NEW-2", at("10:00"), severity="catastrophic")
    stderr = assert_bad_line(seeded, tmp_path, bad, field="hazard.severity", words=["catastrophic"])
    assert "general" in stderr and "major" in stderr, "the message should say which severities are allowed"


def test_a_date_that_is_not_iso_8601_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = detected("NEW-2", "上周三下午")
    assert_bad_line(seeded, tmp_path, bad, field="at", words=["上周三下午"])


def test_a_date_without_offset_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = detected("NEW-2", f"{DAY}T10:00:00")
    stderr = assert_bad_line(seeded, tmp_path, bad, field="at", words=[f"{DAY}T10:00:00"])
    assert re.search(r"offset|time ?zone", stderr, re.IGNORECASE), stderr


@pytest.mark.parametrize("instant", [1741053600, "1741053600"])
def test_a_number_for_a_date_is_named_and_nothing_changes(seeded: Cli, tmp_path: Path, instant: object) -> None:
    """Unix seconds (2025-03-04T02:00:00Z here, before --now) are not the contract's ISO 8601: refused, not read."""
    bad = detected("NEW-2", instant)  # type: ignore[arg-type]
    stderr = assert_bad_line(seeded, tmp_path, bad, field="at", words=["2025-10-13T09:30:00+08:00"])
    assert "HZ-" not in stderr


def test_event_dated_after_now_is_rejected_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = event("hazard.invalidated", "SEED-2", "2025-03-10T12:00:01+08:00", TOWNSHIP_CODE, reason="误报")
    stderr = assert_bad_line(seeded, tmp_path, bad, field="at", words=["after"])
    assert "2025-03-10T12:00:01" in stderr


def test_negative_extension_days_are_named_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    bad = event("extension.requested", "SEED-2", at("10:00"), FIRE_UNIT, days=-5, reason="设备未到")
    assert_bad_line(seeded, tmp_path, bad, field="days", words=["-5"])


# --- whole files -----------------------------------------------------------------------------------------


def test_a_bad_last_line_keeps_every_earlier_good_line_out(seeded: Cli, tmp_path: Path) -> None:
    good = [
        detected("NEW-1", at("08:00")),
        detected("NEW-2", at("08:30"), field="other"),
        event("hazard.acknowledged", "SEED-2", at("09:00"), FIRE_UNIT),
        event("extension.requested", "SEED-2", at("09:30"), FIRE_UNIT, days=3, reason="设备未到"),
    ]
    bad = event("hazard.acknowledged", "NEW-1", "2025-03-04 10:00", FIRE_UNIT)  # not ISO 8601 with offset
    path = write_lines(tmp_path / "events.jsonl", [*good, bad])
    stderr = rejects_and_changes_nothing(seeded, "apply", str(path))
    assert bad_lines_named(stderr, path) == {5}
    assert {h["ref"] for h in seeded.json("hazards", now=NOW)} == {"SEED-1", "SEED-2"}
    assert seeded.json("show", "SEED-2", now=NOW)["state"] == "assigned"


def test_every_bad_line_of_a_file_is_named(seeded: Cli, tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [
        detected("NEW-1", at("08:00")),  # 1 good
        detected("NEW-2", at("08:10"), severity="huge"),  # 2 bad severity
        event("hazard.acknowledged", "SEED-2", at("09:00"), FIRE_UNIT),  # 3 good
        event("hazard.acknowledged", "NOBODY-KNOWS", at("09:10"), FIRE_UNIT),  # 4 unknown hazard
        detected("NEW-3", at("09:20"), township="不存在街道"),  # 5 unknown township
        detected("NEW-4", at("09:30")),  # 6 good
        "not json at all",  # 7 bad JSON
    ]
    path = write_lines(tmp_path / "events.jsonl", lines)
    stderr = rejects_and_changes_nothing(seeded, "apply", str(path))
    assert bad_lines_named(stderr, path) == {2, 4, 5, 7}
    for word in ("hazard.severity", "NOBODY-KNOWS", "不存在街道", "JSON"):
        assert word in stderr


def test_partial_applies_the_good_lines_lists_the_bad_ones_and_exits_0(seeded: Cli, tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [
        detected("NEW-1", at("08:00")),  # 1 good
        detected("NEW-2", at("08:10"), field="volcanoes"),  # 2 bad field
        event("hazard.acknowledged", "SEED-2", at("09:00"), FIRE_UNIT),  # 3 good
        "{]",  # 4 bad JSON
        detected("NEW-3", at("09:30"), field="other"),  # 5 good
    ]
    path = write_lines(tmp_path / "events.jsonl", lines)
    before = {h["ref"]: h for h in seeded.json("hazards", now=NOW)}
    result = seeded("apply", str(path), "--partial", now=NOW)
    assert result.exit_code == 0, result.stderr  # it did what was asked: the good lines landed
    assert bad_lines_named(result.stderr, path) == {2, 4}
    assert "hazard.field" in result.stderr
    after = {h["ref"]: h for h in seeded.json("hazards", now=NOW)}
    assert set(after) == set(before) | {"NEW-1", "NEW-3"}
    assert after["SEED-2"]["state"] == "rectifying"
    assert after["NEW-1"]["unit"] == FIRE_UNIT and after["NEW-3"]["unit"] == TOWNSHIP_CODE
    assert after["SEED-1"] == before["SEED-1"]


def test_partial_json_report_lists_the_rejected_lines(seeded: Cli, tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [detected("NEW-1", at("08:00")), detected("NEW-2", "yesterday")]
    path = write_lines(tmp_path / "events.jsonl", lines)
    result = seeded("apply", str(path), "--partial", "--json", now=NOW)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["applied"] == 1 and report["created"] == 1
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(2, "at")]


def test_an_all_or_nothing_json_report_lists_the_rejected_lines_and_nothing_applied(
    seeded: Cli, tmp_path: Path
) -> None:
    lines: list[dict[str, Any] | str] = [detected("NEW-1", at("08:00")), detected("NEW-2", "yesterday")]
    path = write_lines(tmp_path / "events.jsonl", lines)
    before = seeded.export(NOW)
    result = seeded("apply", str(path), "--json", now=NOW)
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["lines"] == 2 and report["applied"] == 0 and report["created"] == 0
    assert [(r["line"], r["field"], r["refused"]) for r in report["rejected"]] == [(2, "at", False)]
    assert seeded.export(NOW) == before


def test_partial_with_only_bad_lines_exits_2_and_changes_nothing(seeded: Cli, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.jsonl", ["{]", detected("NEW-9", at("08:00"), field="volcanoes")])
    before = seeded.export(NOW)
    result = seeded("apply", str(path), "--partial", now=NOW)
    assert result.exit_code == 2
    assert bad_lines_named(result.stderr, path) == {1, 2}
    assert seeded.export(NOW) == before


def test_a_garbage_now_is_rejected_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.jsonl", good_lines())
    stderr = rejects_and_changes_nothing(seeded, "apply", str(path), now="next tuesday-ish")
    assert "--now" in stderr and "next tuesday-ish" in stderr
    stderr = rejects_and_changes_nothing(seeded, "hazards", "--json", now="2025-13-45T99:00:00+08:00")
    assert "--now" in stderr


# (command line, what the message must name)
UNKNOWN_IN_COMMANDS: list[tuple[tuple[str, ...], list[str]]] = [
    (("escalate", "WG-NOPE", "--to", "county", "--reason", "群众反映", "--by", "SX-YC"), ["WG-NOPE"]),
    (("escalate", "SEED-2", "--to", "galaxy", "--reason", "群众反映", "--by", "SX-YC"), ["--to", "galaxy"]),
    (("escalate", "SEED-2", "--to", "county", "--reason", "群众反映", "--by", "SX-NOPE"), ["SX-NOPE"]),
    (("escalate", "SEED-2", "--to", "county", "--reason", " ", "--by", "SX-YC"), ["reason"]),
    (("supervise", "不存在街道", "--reason", "整改滞后", "--by", "SX"), ["不存在街道"]),
    (("supervise", "越城区", "--reason", "整改滞后", "--by", "SX"), ["越城区"]),  # a county, not a township
    (("delist", TOWNSHIP, "--reason", "整改到位", "--by", "SX-NOPE"), ["SX-NOPE"]),
    (("show", "WG-NOPE"), ["WG-NOPE"]),
    (("hazards", "--state", "finished", "--json"), ["--state", "finished"]),
    (("hazards", "--township", "不存在街道", "--json"), ["不存在街道"]),
    (("hazards", "--unit", "SX-NOPE", "--json"), ["SX-NOPE"]),
    (("notices", "--hazard", "WG-NOPE", "--json"), ["WG-NOPE"]),
    (("notices", "--status", "delivered", "--json"), ["delivered"]),  # statuses: pending, sent, failed, dead
]


def test_commands_naming_unknown_hazards_units_townships_or_values_are_rejected(seeded: Cli) -> None:
    before = seeded.export(NOW)
    wrong = []
    for args, words in UNKNOWN_IN_COMMANDS:
        result = seeded(*args, now=NOW)
        if result.exit_code != 2 or not all(word in result.stderr for word in words):
            wrong.append(f"{' '.join(args)} -> exit {result.exit_code}, stderr {result.stderr.strip()!r}")
    assert not wrong, "not rejected as invalid input naming the culprit:\n" + "\n".join(wrong)
    assert seeded.export(NOW) == before


# --- ledgers (台账) --------------------------------------------------------------------------------------

LEDGER_HEADER = ["来源编号", "隐患名称", "隐患描述", "领域", "等级", "乡镇(街道)", "发现时间", "上报人"]
# 领域 may be given by its Chinese name (消防安全 = fire), 等级 as 一般/重大
FIRE_ROW = [
    "TZ-1",
    "灭火器过期",
    "小区3号楼灭火器过期",
    "消防安全",
    "一般",
    TOWNSHIP,
    "2025-03-03 09:00",
    "SX-YC-FS/张三",
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([LEDGER_HEADER, *rows])
    return path


def test_a_ledger_with_a_bad_severity_names_the_row_and_column(seeded: Cli, tmp_path: Path) -> None:
    ledger = write_csv(
        tmp_path / "台账.csv",
        [
            FIRE_ROW,
            ["TZ-2", "楼道堆物", "楼道堆放杂物", "fire", "非常严重", TOWNSHIP, "2025-03-03 10:00", "SX-YC-FS/李四"],
        ],
    )
    stderr = rejects_and_changes_nothing(seeded, "import", str(ledger))
    assert str(ledger) in stderr
    assert re.search(r"(line|row) 3\b", stderr), f"row 3 (the second data row) is not named:\n{stderr}"
    assert "等级" in stderr and "非常严重" in stderr
    assert re.search(r"(line|row) 2\b", stderr) is None, "the good row 2 is named as bad"


def test_a_csv_ledger_with_chinese_headers_is_imported(seeded: Cli, tmp_path: Path) -> None:
    ledger = write_csv(
        tmp_path / "台账.csv",
        [
            FIRE_ROW,
            ["TZ-2", "广告牌松动", "沿街广告牌松动", "other", "重大隐患", "SX-YC-TS", "2025-03-04 10:30", "SX-YC-TS"],
        ],
    )
    seeded.ok("import", str(ledger), now=NOW)
    by_ref = {h["ref"]: h for h in seeded.json("hazards", now=NOW)}
    fire, other = by_ref["TZ-1"], by_ref["TZ-2"]
    assert (fire["field"], fire["severity"], fire["township"], fire["unit"]) == ("fire", "general", TOWNSHIP, FIRE_UNIT)
    assert fire["title"] == "灭火器过期"
    assert datetime.fromisoformat(fire["detected_at"]) == datetime.fromisoformat("2025-03-03T09:00:00+08:00")
    assert fire["due_at"] == "2025-03-12T23:59:59+08:00"  # Mon 2025-03-03 + 7 working days
    assert (other["field"], other["severity"], other["township"], other["unit"]) == (
        "other",
        "major",
        "塔山街道",
        "SX-YC-TS",
    )
    assert fire["state"] == other["state"] == "assigned"


def test_importing_the_same_ledger_twice_changes_nothing(seeded: Cli, tmp_path: Path) -> None:
    ledger = write_csv(
        tmp_path / "台账.csv",
        [["TZ-1", "灭火器过期", "小区3号楼灭火器过期", "消防安全", "一般", TOWNSHIP, "2025-03-03 09:00", "SX-YC-FS"]],
    )
    seeded.ok("import", str(ledger), now=NOW)
    before = seeded.export(NOW)
    seeded.ok("import", str(ledger), now=NOW)
    assert seeded.export(NOW) == before


def test_a_ledger_that_is_not_a_real_xlsx_file_is_rejected_and_nothing_changes(seeded: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "台账.xlsx"
    broken.write_text("来源编号,隐患名称\nTZ-1,灭火器过期\n", encoding="utf-8")  # a CSV saved under the wrong name
    stderr = rejects_and_changes_nothing(seeded, "import", str(broken))
    assert str(broken) in stderr


def test_an_xlsx_ledger_with_chinese_headers_is_imported(seeded: Cli, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(LEDGER_HEADER)
    monday_9am = datetime(2025, 3, 3, 9, 0)  # a real date cell, no time zone: local time
    sheet.append(["XL-1", "消防通道堵塞", "消防通道被车辆占用", "消防安全", "重大", TOWNSHIP, monday_9am, "SX-YC-FS"])
    sheet.append(["XL-2", "井盖缺失", "人行道井盖缺失", "其他", "一般", TOWNSHIP, "2025-03-03 11:00", "SX-YC-FS/王五"])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    seeded.ok("import", str(path), now=NOW)
    by_ref = {h["ref"]: h for h in seeded.json("hazards", now=NOW)}
    assert (by_ref["XL-1"]["field"], by_ref["XL-1"]["severity"], by_ref["XL-1"]["unit"]) == ("fire", "major", FIRE_UNIT)
    assert (by_ref["XL-2"]["field"], by_ref["XL-2"]["severity"], by_ref["XL-2"]["unit"]) == (
        "other",
        "general",
        TOWNSHIP_CODE,
    )
    assert datetime.fromisoformat(by_ref["XL-1"]["detected_at"]) == datetime.fromisoformat("2025-03-03T09:00:00+08:00")
    assert by_ref["XL-2"]["due_at"] == "2025-03-12T23:59:59+08:00"
