"""A bad configuration fails at start with exit 4, naming the file, the line and the key, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.config_folders import edited_config
from tests.support.fixtures import Cli


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (("county_after_days: 3", "county_after_days: -3"), "escalation.county_after_days", "greater than or equal"),
        (("remind_before_days: 1", "remind_before_dayz: 1"), "escalation.remind_before_dayz", "not a known setting"),
        (("timezone: Asia/Shanghai", "timezone: Mars/Olympus"), "timezone", "not a known time zone"),
        (("calendar: cn", "calendar: lunar"), "calendar", "'cn' or 'weekdays'"),
        (('sweep: "*/15 * * * *"', 'sweep: "every quarter hour"'), "schedules.sweep", "cron"),
        # a misspelt job would never run (no notice sent) rather than fail at start
        (('dispatch: "* * * * *"', 'dispach: "* * * * *"'), "schedules.dispach", "no job is called 'dispach'"),
    ],
)
def test_a_bad_policy_exits_4_naming_file_line_and_key(
    tmp_path: Path, edit: tuple[str, str], key: str, words: str
) -> None:
    folder = edited_config(tmp_path, policy_edit=edit)
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "policy.yaml" in message and key in message and words in message
    assert f"line {_line_of(folder / 'policy.yaml', edit[1])}" in message
    assert not (tmp_path / "x.db").exists()


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = edited_config(tmp_path, policy_edit=("calendar: cn", "calendar: [cn"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    assert "policy.yaml" in result.stderr and "not valid YAML" in result.stderr and "line" in result.stderr


def test_a_department_answering_for_an_unknown_field_is_refused(tmp_path: Path) -> None:
    folder = edited_config(tmp_path, org_edit=("fields: [road_traffic]", "fields: [road_trafic]"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    assert "org.yaml" in result.stderr and "road_trafic" in result.stderr


def test_a_unit_whose_parent_does_not_exist_is_refused(tmp_path: Path) -> None:
    folder = edited_config(tmp_path, org_edit=("parent: SX-YC,", "parent: SX-NOWHERE,"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    assert "org.yaml" in result.stderr and "SX-NOWHERE" in result.stderr


def test_a_missing_config_folder_is_refused(tmp_path: Path) -> None:
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, tmp_path / "nowhere")("init")
    assert result.exit_code == 4 and "nowhere" in result.stderr


def test_commands_on_an_uninitialised_database_say_to_run_init(tmp_path: Path) -> None:
    result = Cli(f"sqlite:///{tmp_path / 'new.db'}", tmp_path)("hazards")
    assert result.exit_code == 4 and "hazardloop init" in result.stderr


# A small organisation, one unit per line in flow style: unit i (counted from 0, as keys count) is on line i + 2.
ORG_FLOW = """units:
  - {code: C, name: City, level: city, emails: [c@c.example.org]}
  - {code: C-A, name: County A, level: county, parent: C}
  - {code: C-A-T, name: Town T, level: township, parent: C-A}
  - {code: C-WATER, name: Water bureau, level: department, parent: C, fields: [fire]}
  - {code: C-B, name: County B, level: county, parent: C}
"""
# The same in block style, where a unit's keys sit on lines of their own: C-A starts on line 5, its parent is on 9.
ORG_BLOCK = """units:
  - code: C
    name: City
    level: city
  - code: C-A
    name: County A
    level: county
    emails: [a@a.example.org]
    parent: C
"""


def _refused(tmp_path: Path, org: str | None = None, policy_edit: tuple[str, str] | None = None) -> str:
    folder = edited_config(tmp_path, policy_edit=policy_edit)
    if org is not None:
        (folder / "org.yaml").write_text(org, encoding="utf-8")
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    assert not (tmp_path / "x.db").exists()
    return " ".join(result.stderr.split())


def test_the_small_organisations_used_here_are_valid(tmp_path: Path) -> None:
    for i, org in enumerate((ORG_FLOW, ORG_BLOCK)):
        folder = edited_config(tmp_path)
        (folder / "org.yaml").write_text(org, encoding="utf-8")
        result = Cli(f"sqlite:///{tmp_path / f'{i}.db'}", tmp_path, folder)("init")
        assert result.exit_code == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("org", "where", "words"),
    [
        (
            ORG_FLOW.replace("County B, level: county, parent: C}", "County B, level: county, parent: C-X}"),
            "line 6, key 'units.4.parent'",
            "parent 'C-X', which is not a unit",
        ),
        (
            ORG_BLOCK.replace("parent: C\n", "parent: C-X\n"),
            "line 9, key 'units.1.parent'",
            "'C-X', which is not a unit",
        ),
        (ORG_BLOCK.replace("    parent: C\n", ""), "line 5, key 'units.1.parent'", "needs a parent"),
        (ORG_FLOW.replace("code: C-B,", "code: C-A,"), "line 6, key 'units.4.code'", "'C-A' appears twice"),
        (
            ORG_FLOW.replace("County B, level: county, parent: C}", "County B, level: city}"),
            "line 6, key 'units.4.level'",
            "exactly one unit is the city",
        ),
        (
            ORG_FLOW.replace(
                "County B, level: county, parent: C}", "County B, level: county, parent: C, fields: [fire]}"
            ),
            "line 6, key 'units.4.fields'",
            "only departments answer for fields",
        ),
    ],
    ids=["unknown-parent-flow", "unknown-parent-block", "no-parent", "duplicate-code", "two-cities", "fields"],
)
def test_a_broken_organisation_names_the_line_and_key_of_the_unit_at_fault(
    tmp_path: Path, org: str, where: str, words: str
) -> None:
    message = _refused(tmp_path, org=org)
    assert f"org.yaml, {where}:" in message and words in message


def test_a_department_answering_for_an_unknown_field_names_its_line(tmp_path: Path) -> None:
    message = _refused(tmp_path, org=ORG_FLOW.replace("fields: [fire]", "fields: [floods]"))
    assert "org.yaml, line 5, key 'units.3.fields':" in message and "floods" in message


@pytest.mark.parametrize(
    ("edit", "needle", "key", "words"),
    [
        (("\nescalation:", "\nescalaton:"), "escalaton:", "escalaton", "not a known setting"),
        (
            ("city_after_days: 10", "city_after_days: 2"),
            "city_after_days: 2",
            "escalation.city_after_days",
            "smaller than county_after_days",
        ),
        (("    gas: {general: 5", "    gaz: {general: 5"), "gaz:", "deadlines.by_field.gaz", "no such field"),
    ],
    ids=["misspelt-block", "city-before-county", "by-field"],
)
def test_a_bad_block_of_settings_names_the_line_of_its_key(
    tmp_path: Path, edit: tuple[str, str], needle: str, key: str, words: str
) -> None:
    message = _refused(tmp_path, policy_edit=edit)
    line = _line_of(tmp_path / "cfg" / "policy.yaml", needle)
    assert f"policy.yaml, line {line}, key '{key}':" in message and words in message


def test_a_unit_code_outside_the_allowed_characters_is_explained_in_plain_words(tmp_path: Path) -> None:
    message = _refused(tmp_path, org=ORG_FLOW.replace("code: C-B,", "code: C-越城,"))
    assert "org.yaml, line 6, key 'units.4.code': 'C-越城'" in message
    assert "may use only the letters A–Z" in message and "pattern" not in message
