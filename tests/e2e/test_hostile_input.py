"""Hostile or ambiguous input is refused at the boundary, naming the line (or row), the field and what is wrong,
and the database is exactly as before: control characters, NUL and lone surrogates in any text field, line breaks
in one-line fields, keys given twice in an event or a configuration file, a unit name that is another unit's code;
and a line is a line: only LF (or CRLF) ends one. Real files through the real command line, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.factories import FIRE_UNIT, detected, event
from tests.support.fixtures import Cli, write_events

NOW = "2025-04-01T12:00:00+08:00"
AT = "2025-03-03T08:00:00+08:00"


def _problems(stderr: str) -> dict[int, tuple[str, str]]:
    """line → (field, message) of each problem printed."""
    found = {}
    for m in re.finditer(r"line (\d+)(?:, field '([^']*)')?: (.*)", stderr):
        found[int(m.group(1))] = (m.group(2) or "", m.group(3))
    return found


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _json(e: dict) -> str:
    return json.dumps(e, ensure_ascii=False)


@pytest.mark.parametrize("escaped", [False, True], ids=["raw-utf8", "ascii-escaped"])
def test_control_characters_in_any_text_field_are_refused_naming_line_and_field(
    cli: Cli, tmp_path: Path, escaped: bool
) -> None:
    good = detected("GOOD-1", AT)
    bad = {
        2: ("hazard.title", detected("BAD-2", AT, title="灭火器\u000b过期")),  # a word processor's soft line break
        3: ("hazard.ref", detected("BAD-\u001b[31m3", AT, title="标题", description="描述")),
        4: ("hazard.description", detected("BAD-4", AT, description="楼道\u0007堆物")),
        5: ("hazard.address", detected("BAD-5", AT, address="解放路\u009b1号")),
        6: ("hazard.title", detected("BAD-6", AT, title="消防\n通道")),  # one-line field: no line break
        7: ("hazard.source", detected("BAD-7", AT, source="12345\u2028热线")),
        8: ("actor", {**detected("BAD-8", AT), "actor": "SX-YC-FS/张\u007f三"}),
        9: ("hazard.campaign", detected("BAD-9", AT, campaign="专项\u0000整治")),
    }
    dump = (lambda e: json.dumps(e)) if escaped else _json
    path = _lines(tmp_path / "e.jsonl", [dump(good)] + [dump(e) for _, (_, e) in sorted(bad.items())])
    before = cli.export(NOW)
    result = cli("apply", str(path), now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    problems = _problems(result.stderr)
    assert set(problems) == set(bad), result.stderr
    for line, (field, _) in bad.items():
        assert problems[line][0] == field, result.stderr
    assert "U+000B" in problems[2][1] and "control character" in problems[2][1]
    assert "U+001B" in problems[3][1] and "U+0000" in problems[9][1]
    assert "one line" in problems[6][1] and "one line" in problems[7][1] and "U+2028" in problems[7][1]
    assert cli.export(NOW) == before


def test_line_breaks_and_tabs_are_kept_in_multi_line_text(cli: Cli, tmp_path: Path) -> None:
    text = "第一行\n第二行\r\n第三行\u2028第四行\u2029第五行\t完"
    events = [
        detected("ML-1", AT, description=text, title="标题\t带制表符"),
        event("hazard.acknowledged", "ML-1", "2025-03-03T09:00:00+08:00", FIRE_UNIT),
        event("rectification.submitted", "ML-1", "2025-03-03T10:00:00+08:00", FIRE_UNIT, note=text, evidence=[]),
    ]
    cli.ok("apply", str(write_events(tmp_path / "e.jsonl", events)), now=NOW)
    shown = cli.json("show", "ML-1", now=NOW)
    assert shown["description"] == text
    assert any(t["reason"] == text for t in shown["history"])


def test_nul_is_refused_alike_on_both_databases_and_partial_applies_the_rest(cli: Cli, tmp_path: Path) -> None:
    lines = [_json(detected("NUL-1", AT)), json.dumps(detected("NUL-2", AT, title="灭火器\u0000过期"))]
    assert "\\u0000" in lines[1]
    path = _lines(tmp_path / "e.jsonl", lines)
    result = cli("apply", "--partial", str(path), now=NOW)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "applied 1 event(s)" in result.stdout
    problems = _problems(result.stderr)
    assert set(problems) == {2} and problems[2][0] == "hazard.title" and "U+0000" in problems[2][1], result.stderr
    assert {h["ref"] for h in cli.json("hazards", now=NOW)} == {"NUL-1"}


def test_a_lone_surrogate_is_refused_naming_its_field(cli: Cli, tmp_path: Path) -> None:
    line = _json(detected("SUR-1", AT, title="TITLE")).replace("TITLE", "灭火器\\ud800过期")
    before = cli.export(NOW)
    result = cli("apply", str(_lines(tmp_path / "e.jsonl", [line])), now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    problems = _problems(result.stderr)
    assert problems[1][0] == "hazard.title" and "U+D800" in problems[1][1], result.stderr
    assert cli.export(NOW) == before


def test_a_manual_command_refuses_a_control_character_in_its_reason(cli: Cli, tmp_path: Path) -> None:
    cli.ok("apply", str(write_events(tmp_path / "e.jsonl", [detected("MAN-1", AT)])), now=NOW)
    before = cli.export(NOW)
    result = cli("escalate", "MAN-1", "--to", "county", "--reason", "逾期\u001b]0;x\u0007", "--by", "SX-YC", now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "--reason" in result.stderr and "U+001B" in result.stderr
    assert cli.export(NOW) == before


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\u000c", "\u001c"])
def test_only_lf_ends_a_line_so_later_line_numbers_stay_true(cli: Cli, tmp_path: Path, separator: str) -> None:
    # Raw inside a JSON string (str.splitlines ends a line at each of them): valid JSON and accepted text for
    # U+2028 and U+2029; a control character refused by name for U+0085; invalid JSON for the C0 controls. Either
    # way line 1 is one line, and line 3's problem is reported as line 3.
    first = _json(detected("LS-1", AT, description="甲SEP乙")).replace("SEP", separator)
    lines = [first, _json(detected("LS-2", AT)), _json(detected("LS-3", AT, severity="huge"))]
    path = tmp_path / "e.jsonl"
    path.write_bytes(("\r\n".join(lines[:2]) + "\n" + lines[2] + "\n").encode("utf-8"))
    result = cli("apply", "--partial", str(path), now=NOW)
    problems = _problems(result.stderr)
    accepted = separator in "\u2028\u2029"
    assert set(problems) == ({3} if accepted else {1, 3}), result.stderr
    assert problems[3][0] == "hazard.severity", result.stderr
    if separator == "\u0085":
        assert problems[1][0] == "hazard.description" and "U+0085" in problems[1][1], result.stderr
    refs = {h["ref"] for h in cli.json("hazards", now=NOW)}
    assert refs == ({"LS-1", "LS-2"} if accepted else {"LS-2"})
    if accepted:
        assert cli.json("show", "LS-1", now=NOW)["description"] == f"甲{separator}乙"


def test_standard_input_is_split_on_lf_only(cli: Cli) -> None:
    lines = [_json(detected("STDIN-1", AT, description="甲\u2028乙")), _json(detected("STDIN-2", AT, severity="x"))]
    result = cli("apply", "--partial", "-", now=NOW, input="\n".join(lines) + "\n")
    assert set(_problems(result.stderr)) == {2}, result.stderr
    assert {h["ref"] for h in cli.json("hazards", now=NOW)} == {"STDIN-1"}


def _hazard_twice(spelling: str) -> str:
    return (
        f'{{"type":"hazard.acknowledged","event_id":"ack-1","at":"2025-03-03T09:00:00+08:00",'
        f'"actor":"{FIRE_UNIT}","hazard":"DUP-1",{spelling}:"DUP-2"}}'
    )


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (_hazard_twice('"hazard"'), "hazard"),
        (_hazard_twice('"hazard" '), "hazard"),  # spaced from its colon
        (_hazard_twice('"h\\u0061zard"'), "hazard"),  # spelt with an escape
        (_hazard_twice('"hazard"').replace("DUP-2", 'DUP-2\\"'), "hazard"),  # a line with an escaped quote
        (_json(detected("DUP-3", AT)).replace('"title": ', '"title": "第一个", "title": '), "hazard.title"),
        (_json(detected("DUP-3", AT)).replace('"type": ', '"type": "hazard.detected", "type": '), "type"),
    ],
    ids=["plain", "spaced", "escaped", "escaped-quote", "nested", "type"],
)
def test_a_key_given_twice_in_an_event_is_refused_naming_the_line_and_key(
    cli: Cli, tmp_path: Path, line: str, field: str
) -> None:
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", [detected("DUP-1", AT), detected("DUP-2", AT)])), now=NOW)
    before = cli.export(NOW)
    path = _lines(tmp_path / "e.jsonl", [_json(detected("DUP-4", AT)), line])
    result = cli("apply", str(path), now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    problems = _problems(result.stderr)
    assert set(problems) == {2} and problems[2][0] == field and "twice" in problems[2][1], result.stderr
    assert cli.export(NOW) == before


def test_keys_that_repeat_only_across_objects_or_inside_values_are_not_duplicates(cli: Cli, tmp_path: Path) -> None:
    tricky = detected("DUPX-1", AT, title='名为"title":的标题', description='描述 "hazard": "x"')
    escalated = event("hazard.escalated", "DUPX-1", "2025-03-04T09:00:00+08:00", "SX-YC", to="county", reason="county")
    cli.ok("apply", str(write_events(tmp_path / "e.jsonl", [tricky, escalated])), now=NOW)
    assert cli.json("show", "DUPX-1", now=NOW)["title"] == '名为"title":的标题'


# --- configuration ----------------------------------------------------------------------------------------------


def _config_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    from tests.support.config_folders import edited_config

    return edited_config(tmp_path, **{("policy_edit" if name == "policy.yaml" else "org_edit"): (old, new)})


@pytest.mark.parametrize(
    ("name", "old", "new", "key"),
    [
        ("policy.yaml", "calendar: cn", "calendar: cn\ncalendar: weekdays", "calendar"),
        ("policy.yaml", "  general: 7", "  general: 7\n  general: 30", "general"),
        (
            "org.yaml",
            "{code: SX, name: 绍兴市, level: city,",
            "{code: SX, name: 绍兴市, name: 杭州市, level: city,",
            "name",
        ),
    ],
)
def test_a_key_given_twice_in_a_configuration_file_is_refused_naming_file_line_and_key(
    tmp_path: Path, name: str, old: str, new: str, key: str
) -> None:
    folder = _config_with(tmp_path, name, old, new)
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    second = next(
        i
        for i, text in enumerate((folder / name).read_text(encoding="utf-8").splitlines(), start=1)
        if new.splitlines()[-1] in text
    )
    assert name in message and f"line {second}" in message and f"'{key}'" in message and "twice" in message
    assert not (tmp_path / "x.db").exists()


def test_a_unit_named_like_another_units_code_is_refused_naming_both(tmp_path: Path) -> None:
    folder = _config_with(tmp_path, "org.yaml", "{code: SX-YC, name: 越城区,", "{code: SX-YC, name: SX-KQ,")
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "org.yaml" in message and "SX-YC" in message and "SX-KQ" in message and "柯桥区" in message, message
    assert "line" in message


@pytest.mark.parametrize(
    ("args", "field"),
    [(("show", "HZ\udcff1"), "HAZARD"), (("hazards", "--township", "府山\udcff"), "--township")],
    ids=["argument", "option"],
)
def test_an_argument_that_was_not_utf8_is_refused_naming_it(cli: Cli, args: tuple[str, ...], field: str) -> None:
    # what Python makes of bytes on the command line that are not UTF-8 (surrogateescape)
    assert b"\xff".decode("utf-8", "surrogateescape") == "\udcff"
    result = cli(*args, now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"field '{field}'" in result.stderr and "not UTF-8" in result.stderr
