"""A bad configuration fails at start with exit 4, naming the file, the line and the key, and writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import CONFIG_DIR, Cli


def _config(
    tmp_path: Path, policy_edit: tuple[str, str] | None = None, org_edit: tuple[str, str] | None = None
) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    shutil.copy(CONFIG_DIR / "policy.yaml", folder / "policy.yaml")
    for name, edit in (("policy.yaml", policy_edit), ("org.yaml", org_edit)):
        if edit:
            text = (folder / name).read_text(encoding="utf-8")
            assert edit[0] in text, f"{edit[0]!r} not in {name}"
            (folder / name).write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    return folder


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
    ],
)
def test_a_bad_policy_exits_4_naming_file_line_and_key(
    tmp_path: Path, edit: tuple[str, str], key: str, words: str
) -> None:
    folder = _config(tmp_path, policy_edit=edit)
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "policy.yaml" in message and key in message and words in message
    assert f"line {_line_of(folder / 'policy.yaml', edit[1])}" in message
    assert not (tmp_path / "x.db").exists()


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = _config(tmp_path, policy_edit=("calendar: cn", "calendar: [cn"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    assert "policy.yaml" in result.stderr and "not valid YAML" in result.stderr and "line" in result.stderr


def test_a_department_answering_for_an_unknown_field_is_refused(tmp_path: Path) -> None:
    folder = _config(tmp_path, org_edit=("fields: [road_traffic]", "fields: [road_trafic]"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    assert "org.yaml" in result.stderr and "road_trafic" in result.stderr


def test_a_unit_whose_parent_does_not_exist_is_refused(tmp_path: Path) -> None:
    folder = _config(tmp_path, org_edit=("parent: SX-YC,", "parent: SX-NOWHERE,"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    assert "org.yaml" in result.stderr and "SX-NOWHERE" in result.stderr


def test_a_missing_config_folder_is_refused(tmp_path: Path) -> None:
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, tmp_path / "nowhere")("init")
    assert result.exit_code == 4 and "nowhere" in result.stderr


def test_commands_on_an_uninitialised_database_say_to_run_init(tmp_path: Path) -> None:
    result = Cli(f"sqlite:///{tmp_path / 'new.db'}", tmp_path)("hazards")
    assert result.exit_code == 4 and "hazardloop init" in result.stderr
