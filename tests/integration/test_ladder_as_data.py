"""The escalation ladder is data: the rungs come from ``policy.yaml``, an office adds one without code, a policy
without ``ladder`` gets today's ladder, and a ladder that makes no sense is refused naming file, line and key."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.config.loading import load_org, load_policy
from hazardloop.models.core.errors import ConfigError
from hazardloop.models.core.escalation import sweep_hazard
from hazardloop.models.core.events import EVENT_ADAPTER
from hazardloop.models.core.hazard import Hazard
from hazardloop.models.core.ladder import standard_ladder
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.sweep import sweep
from hazardloop.models.store.tables import NoticeRow, TransitionRow
from tests.support.fixtures import CONFIG_DIR

CN = "+08:00"
TOWNSHIP = "府山街道"
TOWNSHIP_CODE = "SX-YC-FS"
# 约谈 after 15 working days overdue, sending the existing supervision notice, copied to the township and to the
# office supervising the hazard at its level (by then the city)
INTERVIEW = (
    "    - {name: interview, title: 约谈, overdue_days: 15, notice: supervision, cc: [township, level_office]}\n"
)
STANDARD_LAST_RUNG = "       cc: [township, level_office], duties: [rectification, verification]}\n\n"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + CN)


def _policy_text() -> str:
    return (CONFIG_DIR / "policy.yaml").read_text(encoding="utf-8")


def _config(tmp_path: Path, policy: str) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    (folder / "policy.yaml").write_text(policy, encoding="utf-8")
    return folder


def _with_interview() -> str:
    text = _policy_text()
    assert text.count(STANDARD_LAST_RUNG) == 1, "the default ladder's last rung moved; update this test's anchor"
    return text.replace(STANDARD_LAST_RUNG, STANDARD_LAST_RUNG.rstrip("\n") + "\n" + INTERVIEW + "\n")


def _edited(old: str, new: str) -> str:
    text = _policy_text()
    assert old in text, f"{old!r} not in policy.yaml"
    return text.replace(old, new, 1)


def _refusal(tmp_path: Path, policy: str) -> tuple[str, list[str]]:
    folder = _config(tmp_path, policy)
    with pytest.raises(ConfigError) as caught:
        load_policy(folder)
    return " ".join(str(caught.value).split()), policy.splitlines()


def _line(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


# --- the default ladder --------------------------------------------------------------------------------------------


def test_the_declared_default_ladder_is_the_standard_ladder() -> None:
    policy = load_policy(CONFIG_DIR)
    assert policy.escalation.ladder is not None
    assert policy.escalation.rungs == standard_ladder()
    assert [r.name for r in policy.escalation.rungs] == ["reminder", "supervision", "major", "county", "city"]


def test_a_policy_without_a_ladder_gets_the_ladder_its_shorthand_keys_describe(tmp_path: Path) -> None:
    text = _policy_text()
    start = text.index("  # The rungs, in the order they fire")
    end = text.index("# Extension requests")
    without = text[:start] + "\n" + text[end:]
    without = without.replace("county_after_days: 3", "county_after_days: 4").replace(
        "major_overdue_to: county", "major_overdue_to: city"
    )
    policy = load_policy(_config(tmp_path, without))
    assert policy.escalation.ladder is None
    assert policy.escalation.rungs == standard_ladder(1, 4, 10, "city")
    by_name = {r.name: r for r in policy.escalation.rungs}
    assert by_name["county"].overdue_days == 4 and by_name["major"].level == "city"


def test_remind_before_days_zero_leaves_the_reminder_rung_out() -> None:
    assert [r.name for r in standard_ladder(0, 3, 10, "county")] == ["supervision", "major", "county", "city"]


# --- an office's own rung, in memory -------------------------------------------------------------------------------


@pytest.fixture
def interview_rules(tmp_path: Path) -> Rules:
    folder = _config(tmp_path, _with_interview())
    policy = load_policy(folder)
    return Rules.build(policy, OrgTree(load_org(folder, policy)))


def _detected(rules: Rules, ref: str, when: str) -> Hazard:
    event = EVENT_ADAPTER.validate_python(
        {
            "type": "hazard.detected",
            "event_id": f"det-{ref}",
            "at": when + CN,
            "actor": "SX-YC-FS/网格员",
            "hazard": {"ref": ref, "title": f"测试隐患 {ref}", "description": "消防通道堵塞", "field": "fire",
                       "severity": "general", "township": TOWNSHIP},
        }
    )  # fmt: skip
    h, _effects = rules.detect(event, "HZ-2025-000001")
    return h


def test_an_added_rung_fires_on_its_working_day_exactly_once_in_memory(interview_rules: Rules) -> None:
    rules = interview_rules
    # Fri 2025-09-26 + 7 working days across National Day: due Mon 10-13. 15 working days overdue: 10-14 … 10-17,
    # 10-20 … 10-24, 10-27 … 10-31, 11-03; the 约谈 falls due at the start of Tue 11-04.
    h = _detected(rules, "IV-1", "2025-09-26T10:00:00")
    assert rules.local_day(h.due_at).isoformat() == "2025-10-13"
    fired: list[tuple[str, str, str]] = []
    now = at("2025-09-26T12:00:00")
    while now <= at("2025-11-10T00:00:00"):
        effects = sweep_hazard(rules, h, now)
        fired += [(t.action, now.isoformat(), t.cause_key or "") for t in effects.transitions]
        now += timedelta(hours=1)
    interview = [f for f in fired if ":rung:interview:" in f[2]]
    assert interview == [("supervised", "2025-11-04T00:00:00+08:00", f"supervision:{h.id}:rung:interview:1")]
    # the standard rungs are unchanged around it
    assert [(a, when) for a, when, _key in fired] == [
        ("reminded", "2025-09-29T00:00:00+08:00"),
        ("reminded", "2025-10-11T00:00:00+08:00"),
        ("supervised", "2025-10-14T00:00:00+08:00"),
        ("elevated", "2025-10-17T00:00:00+08:00"),
        ("elevated", "2025-10-28T00:00:00+08:00"),
        ("supervised", "2025-11-04T00:00:00+08:00"),
    ]
    assert h.rungs_fired == "rectification/interview=1"
    assert h.next_action_at is None


def test_an_added_rung_fires_again_only_for_a_new_deadline(interview_rules: Rules) -> None:
    rules = interview_rules
    h = _detected(rules, "IV-2", "2025-09-26T10:00:00")
    first = sweep_hazard(rules, h, at("2025-11-04T00:00:00"))  # a late sweep: everything due at once
    assert [t.action for t in first.transitions].count("supervised") == 2
    assert not sweep_hazard(rules, h, at("2025-11-20T00:00:00")).transitions
    rules.set_deadline(h, at("2025-11-20T00:00:00"), at("2025-11-21T00:00:00").date())  # a new deadline (seq 2)
    due_day = rules.local_day(h.due_at)
    again = sweep_hazard(rules, h, at("2025-12-31T00:00:00"))
    keys = [t.cause_key for t in again.transitions]
    assert f"supervision:{h.id}:rung:interview:2" in keys and due_day.isoformat() == "2025-11-21"


def test_the_added_rungs_notice_says_which_rung_and_is_copied_as_declared(interview_rules: Rules) -> None:
    rules = interview_rules
    h = _detected(rules, "IV-3", "2025-09-26T10:00:00")
    sweep_hazard(rules, h, at("2025-11-03T00:00:00"))  # up to city supervision
    assert h.level == "city"
    effects = sweep_hazard(rules, h, at("2025-11-04T00:00:00"))
    (notice,) = effects.notices
    assert notice.kind == "supervision" and notice.recipient_code == h.unit_code
    assert notice.cc_codes == (TOWNSHIP_CODE, "SX")  # the township and the office of the city level
    assert notice.extra == {"rung": "interview", "rung_title": "约谈"}
    (transition,) = effects.transitions
    assert transition.reason == "约谈：逾期15个工作日未完成整改"
    assert transition.details["rung"] == "interview"


def test_an_added_rung_is_addressed_and_copied_as_declared(tmp_path: Path) -> None:
    # a 通报 to the county office itself three working days before the deadline, copied to the city
    notice = "    - {name: county_notice, title: 通报, before_deadline: 3, notice: reminder, to: county, cc: [city]}\n"
    text = _policy_text().replace("  ladder:\n", "  ladder:\n" + notice, 1)
    folder = _config(tmp_path, text)
    policy = load_policy(folder)
    rules = Rules.build(policy, OrgTree(load_org(folder, policy)))
    h = _detected(rules, "IV-4", "2025-09-26T10:00:00")
    # due Mon 10-13: three working days before is Thu 10-09 (10-01 … 10-08 are National Day holidays)
    effects = sweep_hazard(rules, h, at("2025-10-09T00:00:00"))
    (sent,) = [n for n in effects.notices if n.extra.get("rung") == "county_notice"]
    assert sent.kind == "reminder" and sent.recipient_code == "SX-YC" and sent.cc_codes == ("SX",)
    assert sent.key == f"reminder:{h.id}:rung:county_notice:1"
    assert not [n for n in sweep_hazard(rules, h, at("2025-10-09T01:00:00")).notices if n.extra.get("rung")]


# --- an office's own rung, through the store -----------------------------------------------------------------------


@pytest.fixture
def interview_app(tmp_path: Path) -> Iterator[App]:
    application = bootstrap(db=f"sqlite:///{tmp_path / 'ladder.db'}", config_dir=_config(tmp_path, _with_interview()))
    upgrade(application.engine)
    sync_units(application.engine, application.org)
    yield application
    application.close()


def _apply(app: App, events: list[dict[str, Any]], now: str) -> None:
    lines = [(i + 1, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(events)]
    report = apply_lines(app.engine, app.rules, lines, source="test", now=at(now))
    assert not report.rejected


def test_the_sweep_fires_an_added_rung_once_and_remembers_it_in_the_store(interview_app: App) -> None:
    app = interview_app
    detection = {
        "type": "hazard.detected",
        "event_id": "det-store-1",
        "at": "2025-09-26T10:00:00+08:00",
        "actor": "SX-YC-FS/网格员",
        "hazard": {"ref": "IV-S", "title": "约谈测试", "description": "消防通道堵塞", "field": "fire",
                   "severity": "general", "township": TOWNSHIP},
    }  # fmt: skip
    _apply(app, [detection], "2025-09-26T11:00:00")
    # each sweep is a fresh read of the hazard: the rung's record must come back from the database
    for when in ("2025-10-30T12:00:00", "2025-11-03T23:00:00", "2025-11-04T00:00:00", "2025-11-04T01:00:00"):
        sweep(app.engine, app.rules, at(when))
    sweep(app.engine, app.rules, at("2025-12-01T00:00:00"))
    t, n = TransitionRow.__table__, NoticeRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        rows = conn.execute(select(t.c.at, t.c.cause_key).where(t.c.cause_key.like("%:rung:interview:%"))).all()
        notices = conn.execute(select(n.c.kind, n.c.key, n.c.context).where(n.c.key.like("%:rung:interview:%"))).all()
    assert len(rows) == 1 and rows[0].at.astimezone(app.policy.tz) == at("2025-11-04T00:00:00")
    assert len(notices) == 1 and notices[0].kind == "supervision"
    assert notices[0].context["rung_title"] == "约谈"


# --- a ladder that makes no sense ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "key", "words"),
    [
        (
            "name: county, title: 提级县级督办, overdue_days: 3, level: county, notice: elevation",
            "name: county, title: 提级县级督办, overdue_days: 3, level: county, notice: summons",
            "notice: summons",
            "escalation.ladder.3.notice",
            "unknown notice kind 'summons'",
        ),
        (
            "overdue_days: 10, level: city,",
            "overdue_days: 10, level: province,",
            "level: province",
            "escalation.ladder.4.level",
            "'township', 'county' or 'city'",
        ),
        (
            "name: city, title: 提级市级督办, overdue_days: 10",
            "name: city, title: 提级市级督办, overdue_days: 2",
            "overdue_days: 2",
            "escalation.ladder.4.overdue_days",
            "fires before rung 'county' listed above it",
        ),
        (
            "name: city, title",
            "name: county, title",
            "name: county, title: 提级市级督办",
            "escalation.ladder.4.name",
            "rung name 'county' is used twice",
        ),
        (
            "overdue_days: 10, level: city,",
            "overdue_days: 10, level: county,",
            "overdue_days: 10, level: county",
            "escalation.ladder.4.level",
            "has already moved it to county",
        ),
        (
            "county_after_days: 3",
            "county_after_days: 5",
            "county_after_days: 5",
            "escalation.county_after_days",
            "disagrees with the ladder: the ladder's rung 'county' says 3",
        ),
    ],
    ids=["unknown-notice", "unknown-level", "out-of-order", "duplicate-name", "level-goes-nowhere", "shorthand"],
)
def test_a_ladder_that_makes_no_sense_is_refused_naming_file_line_and_key(
    tmp_path: Path, old: str, new: str, needle: str, key: str, words: str
) -> None:
    message, lines = _refusal(tmp_path, _edited(old, new))
    assert f"policy.yaml, line {_line(lines, needle)}, key '{key}':" in message, message
    assert words in message, message


def test_a_rung_needs_exactly_one_instant_and_a_level_with_elevation(tmp_path: Path) -> None:
    both = INTERVIEW.replace("overdue_days: 15", "overdue_days: 15, before_deadline: 2")
    message, _ = _refusal(tmp_path, _with_interview().replace(INTERVIEW, both))
    assert "escalation.ladder.5" in message and "exactly one of before_deadline" in message
    levelled = INTERVIEW.replace("notice: supervision", "notice: supervision, level: city")
    message, _ = _refusal(tmp_path, _with_interview().replace(INTERVIEW, levelled))
    assert "moves the hazard to city, so its notice is elevation" in message
