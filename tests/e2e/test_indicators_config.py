"""indicators.yaml: the default set has the article's counts; a bad file fails at start with exit 4, naming the
file, the line, the key and the reason; a config folder without the file has no indicators."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hazardloop.config.loading import load_indicators, load_org, load_policy
from tests.support.fixtures import CONFIG_DIR, Cli


def _folder(tmp_path: Path, edit: tuple[str, str] | None = None, *, with_indicators: bool = True) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    names = ["org.yaml", "policy.yaml"] + (["indicators.yaml"] if with_indicators else [])
    for name in names:
        shutil.copy(CONFIG_DIR / name, folder / name)
    if edit:
        text = (folder / "indicators.yaml").read_text(encoding="utf-8")
        assert edit[0] in text, f"{edit[0]!r} not in indicators.yaml"
        (folder / "indicators.yaml").write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    return folder


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if needle in line)


def test_the_default_set_has_the_counts_of_the_article() -> None:
    policy = load_policy(CONFIG_DIR)
    indicators = load_indicators(CONFIG_DIR, policy, load_org(CONFIG_DIR, policy))
    assert (len(indicators.projects), len(indicators.indicators)) == (9, 50)
    assert (len(indicators.points), len(indicators.data_items)) == (110, 55)
    assert {i.direction for i in indicators.indicators} == {"higher_is_worse", "lower_is_worse"}
    assert all(i.measure and i.responsible_unit for i in indicators.indicators)


def test_a_folder_without_indicators_yaml_has_no_indicators(tmp_path: Path) -> None:
    folder = _folder(tmp_path, with_indicators=False)
    policy = load_policy(folder)
    assert load_indicators(folder, policy, load_org(folder, policy)).indicators == []
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("edit", "needle", "key", "words"),
    [
        (
            ("responsible_unit: SX-YJJ", "responsible_unit: SX-NOWHERE"),
            "SX-NOWHERE",
            "indicators.0.responsible_unit",
            "is not a unit in org.yaml",
        ),
        (
            ("field: safety_production", "field: safety_prodution"),
            "safety_prodution",
            "indicators.0.field",
            "no such field in policy.yaml",
        ),
        (("breach: 60", "breach: 40"), "breach: 40", "indicators.0.breach", "must lie above the warning threshold"),
        (
            ("    direction: higher_is_worse", "    direction: up"),
            "direction: up",
            "indicators.0.direction",
            "'higher_is_worse' or 'lower_is_worse'",
        ),
        (
            ("indicator: I01, township: SX-YC-TS", "indicator: I99, township: SX-YC-TS"),
            "I99",
            "points.0.indicator",
            "is not a code under 'indicators'",
        ),
        (
            ("township: SX-YC-TS", "township: SX-YC"),
            "township: SX-YC}",
            "points.0.township",
            "is not a township, street or key area",
        ),
        (("code: I02", "code: I01  # again"), "# again", "indicators.1.code", "appears twice"),
        (
            ("    severity: major", "    severity: grave"),
            "severity: grave",
            "indicators.0.severity",
            "'general' or 'major'",
        ),
        (
            ("    measure: 立即启动", "    measures: 立即启动"),
            "measures:",
            "indicators.0.measures",
            "not a known setting",
        ),
    ],
)
def test_a_bad_indicators_file_exits_4_naming_file_line_and_key(
    tmp_path: Path, edit: tuple[str, str], needle: str, key: str, words: str
) -> None:
    folder = _folder(tmp_path, edit)
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "indicators.yaml" in message and f"key '{key}'" in message and words in message, message
    assert f"line {_line_of(folder / 'indicators.yaml', needle)}" in message, message
    assert not (tmp_path / "x.db").exists()


def test_a_responsible_unit_outside_the_points_county_is_refused(tmp_path: Path) -> None:
    # a county department cannot answer for a point in another county
    folder = _folder(tmp_path, ("responsible_unit: SX-YJJ", "responsible_unit: SX-KQ-YJJ"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    message = " ".join(result.stderr.split())
    assert "points.0.township" in message and "cannot answer for a hazard in" in message, message


def test_invalid_yaml_in_indicators_names_the_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ("    breach: 60", "    breach: [60"))
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4
    assert "indicators.yaml" in result.stderr and "not valid YAML" in result.stderr
