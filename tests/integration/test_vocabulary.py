"""One table of state and level names: every state and level has one Chinese name, and the notices, the console,
the ledger and the command line all read it from ``models/core/vocabulary.py``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hazardloop.models.core.lifecycle import State
from hazardloop.models.core.vocabulary import (
    ADMIN_LEVELS,
    LEVEL_GRADES,
    LEVEL_NAMES,
    LEVEL_RANK,
    STATE_NAMES,
    SUPERVISION_LEVELS,
)
from tests.support.factories import detected
from tests.support.fixtures import Cli, write_events

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("models", "notifications", "flows", "config", "hazardloop")
VOCABULARY = ROOT / "models" / "core" / "vocabulary.py"


def _python_sources() -> list[Path]:
    found = [p for folder in SOURCE_FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    return [p for p in found if "migrations" not in p.parts]


def test_every_state_has_exactly_one_chinese_name_and_no_two_share_one() -> None:
    assert set(STATE_NAMES) == {s.value for s in State}
    assert len(set(STATE_NAMES.values())) == len(STATE_NAMES)


def test_an_assigned_hazard_is_waiting_for_acknowledgement_everywhere() -> None:
    from hazardloop.notifications.rendering import STATE_NAMES as NOTICE_NAMES
    from hazardloop.notifications.rendering import state_name
    from hazardloop.web.console.hazard_pages import STATE_NAMES as CONSOLE_NAMES

    assert STATE_NAMES["assigned"] == "已交办待签收"
    assert state_name("assigned") == NOTICE_NAMES["assigned"] == CONSOLE_NAMES["assigned"] == "已交办待签收"


def test_the_command_line_shows_the_same_state_names_as_the_notices(sqlite_cli: Cli) -> None:
    events = write_events(sqlite_cli.workdir / "e.jsonl", [detected("WG-1", "2025-03-03T08:00:00+08:00")])
    sqlite_cli.ok("apply", str(events))
    shown = sqlite_cli.ok("show", "WG-1", now="2025-03-03T09:00:00+08:00").stdout
    assert "assigned / 已交办待签收" in shown


def test_the_levels_run_from_village_to_city_and_only_the_upper_three_supervise() -> None:
    assert [lv.code for lv in ADMIN_LEVELS] == ["village", "township", "county", "city"]
    assert [lv.grade for lv in ADMIN_LEVELS] == ["村级", "乡镇级", "县级", "市级"]
    assert SUPERVISION_LEVELS == ("township", "county", "city")
    assert [LEVEL_RANK[code] for code in ("none", *SUPERVISION_LEVELS)] == [0, 1, 2, 3]
    assert dict(LEVEL_NAMES) == {"none": "未督办", "township": "乡镇督办", "county": "县级督办", "city": "市级督办"}
    assert LEVEL_GRADES["county"] == "县级" and LEVEL_GRADES["none"] == ""


def test_the_policy_and_the_console_read_the_levels_from_the_vocabulary() -> None:
    from hazardloop.models.core import policy
    from hazardloop.web.console import views

    assert policy.LEVEL_RANK is LEVEL_RANK and policy.LEVEL_CN is LEVEL_GRADES
    assert views.LEVEL_ORDER == ("none", "township", "county", "city")
    assert views.STATE_ORDER == ("detected", "assigned", "rectifying", "pending_verification", "cleared", "invalid")


def test_an_unknown_level_is_refused_by_name() -> None:
    from hazardloop.notifications.rendering import level_grade

    assert level_grade("city") == "市级"
    with pytest.raises(ValueError, match="unknown supervision level 'province'"):
        level_grade("province")


def _declared_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, key) of the entries of every dict literal that maps two or more state or level codes to Chinese texts
    (a table of names; one such entry among other keys is a figure or a message, not a table)."""
    codes = set(STATE_NAMES) | set(LEVEL_NAMES)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            named = [
                (node.lineno, key.value)
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant)
                and key.value in codes
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and not value.value.isascii()
            ]
            if len(named) >= 2:
                found += named
    return found


def test_no_other_module_declares_chinese_names_of_states_or_levels() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} ({code})"
        for path in _python_sources()
        if path != VOCABULARY
        for line, code in _declared_names(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_the_scan_finds_a_stray_table_of_state_names() -> None:
    stray = ast.parse('_NAMES = {"assigned": "已交办", "cleared": "已销号"}')
    assert [code for _, code in _declared_names(stray)] == ["assigned", "cleared"]
    assert _declared_names(ast.parse('FIGURES = {"cleared": "3.5万余个", "listed": "21"}')) == []
