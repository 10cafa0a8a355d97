"""The pure halves of listing and of the periodic figures (models/core/listing.py, periods.py, figures.py), in
memory: the policy and organisation as config/ gives them, no database."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from hazardloop.config.loading import load_org, load_policy
from hazardloop.models.core.errors import InvalidInput, Refused
from hazardloop.models.core.figures import COUNTS, Scope, derive, replay_states
from hazardloop.models.core.listing import (
    Figures,
    breaches,
    check_may_delist,
    check_may_list,
    delisting_effects,
    listing_effects,
    not_recovered_refusal,
    proposal_change,
    recovered,
    townships_to_list,
)
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.periods import Period, resolve_period
from hazardloop.models.core.rules import Rules
from tests.support.fixtures import CONFIG_DIR

TZ = ZoneInfo("Asia/Shanghai")
TS, FS = "SX-YC-TS", "SX-YC-FS"  # 塔山街道, 府山街道 in 越城区


@pytest.fixture(scope="module")
def rules() -> Rules:
    policy = load_policy(CONFIG_DIR)
    return Rules.build(policy, OrgTree(load_org(CONFIG_DIR, policy)))


def figures(code: str = TS, *, overdue: int = 0, major: int = 0, due: int = 0, cleared: int = 0) -> Figures:
    return Figures(code, open=overdue, overdue=overdue, overdue_major=major, due_in_window=due, cleared_of_due=cleared)


def test_figures_within_the_thresholds_break_nothing(rules: Rules) -> None:
    lim = rules.policy.listing
    assert breaches(rules, figures(overdue=lim.max_overdue, major=lim.max_overdue_major)) == []


def test_each_threshold_broken_is_named_in_chinese(rules: Rules) -> None:
    lim = rules.policy.listing
    found = breaches(rules, figures(overdue=lim.max_overdue + 1, major=lim.max_overdue_major + 1))
    assert found == [
        f"逾期未整改隐患{lim.max_overdue + 1}件，超过{lim.max_overdue}件的限值",
        f"重大隐患逾期未整改{lim.max_overdue_major + 1}件，超过{lim.max_overdue_major}件的限值",
    ]


def test_a_low_clearance_rate_counts_only_from_enough_hazards(rules: Rules) -> None:
    lim = rules.policy.listing
    few = lim.min_hazards_for_rate - 1
    assert breaches(rules, figures(due=few, cleared=0)) == []
    (problem,) = breaches(rules, figures(due=lim.min_hazards_for_rate, cleared=0))
    assert "销号率0.0%" in problem


def test_the_sweep_lists_breaking_townships_it_knows_and_that_are_not_listed(rules: Rules) -> None:
    over = rules.policy.listing.max_overdue + 1
    given = {
        FS: figures(FS, overdue=over),
        TS: figures(TS, overdue=over),
        "SX-NOWHERE": figures("SX-NOWHERE", overdue=over),  # not in org.yaml
        "SX-YC-BH": figures("SX-YC-BH", overdue=over),  # listed already
        "SX-YC-CN": figures("SX-YC-CN", overdue=1),  # within bounds
    }
    chosen = townships_to_list(rules, given, {"SX-YC-BH": object()})
    assert [c.township_code for c in chosen] == [FS, TS]  # in code order
    assert chosen[0].figures is given[FS] and chosen[0].problems == breaches(rules, given[FS])


@pytest.mark.parametrize(
    ("still_open", "breached", "proposed", "change"),
    [
        ([], [], False, True),  # recovered: propose
        ([], [], True, None),  # proposed already
        (["HZ-2025-000001"], [], True, False),  # a listed hazard open again: withdraw
        ([], ["逾期"], False, None),  # still breaking: nothing to propose
    ],
)
def test_delisting_proposals(still_open: list[str], breached: list[str], proposed: bool, change: bool | None) -> None:
    assert proposal_change(recovered(still_open, breached), proposed) is change


def test_only_a_county_or_the_city_with_jurisdiction_lists(rules: Rules) -> None:
    tree = rules.tree
    township = tree.get(TS)
    check_may_list(tree, township, tree.parse_actor("SX-YC/张三"), None)
    with pytest.raises(Refused, match="may not list a township"):
        check_may_list(tree, township, tree.parse_actor(TS), None)
    with pytest.raises(Refused, match="no jurisdiction"):
        check_may_list(tree, township, tree.parse_actor("SX-KQ/李四"), None)
    with pytest.raises(Refused, match="already under city-level"):
        check_may_list(tree, township, tree.parse_actor("SX/王五"), SimpleNamespace(level="city"))


def test_delisting_needs_a_listing_and_its_level(rules: Rules) -> None:
    tree = rules.tree
    township = tree.get(TS)
    with pytest.raises(Refused, match="not under listed supervision"):
        check_may_delist(tree, township, tree.parse_actor("SX/王五"), None)
    with pytest.raises(Refused, match="listed at city level"):
        check_may_delist(tree, township, tree.parse_actor("SX-YC/张三"), SimpleNamespace(level="city"))
    check_may_delist(tree, township, tree.parse_actor("SX/王五"), SimpleNamespace(level="county"))


def test_a_refused_delisting_names_what_is_still_open() -> None:
    assert not_recovered_refusal("塔山街道", [], 3, []) is None
    refusal = not_recovered_refusal("塔山街道", [f"HZ-2025-00000{i}" for i in range(7)], 9, ["逾期超限"])
    assert refusal is not None
    assert "7 of its 9 listed hazards are still open" in str(refusal) and "and 2 more" in str(refusal)
    assert "逾期超限" in str(refusal) and "--force" in str(refusal)


def test_a_listing_writes_one_audit_row_and_one_notice_to_the_township(rules: Rules) -> None:
    from hazardloop.models.core.listing import listing_deadline

    at = datetime(2025, 9, 15, 10, tzinfo=TZ)
    deadline = listing_deadline(rules, at)
    assert deadline.days == rules.policy.listing.deadline_days and deadline.day > at.date()
    effects = listing_effects(
        rules, TS, 2, at=at, actor="system", level="city", reason="逾期", problems=["逾期"],
        figures={"overdue": 12}, deadline=deadline, problem_hazards=["HZ-2025-000001"],
    )  # fmt: skip
    (transition,) = effects.transitions
    (notice,) = effects.notices
    assert transition.action == "township.listed" and transition.cause_key == notice.key == f"listing:{TS}:2"
    assert notice.recipient_code == TS and "SX-YC" in notice.cc_codes
    assert notice.extra["deadline"] == deadline.day.isoformat() and notice.extra["figures"]["overdue"] == 12
    listing = SimpleNamespace(id=7, township_code=TS, level="county", listed_at=at)
    delisted = delisting_effects(rules, listing, at=at, actor="SX-YC/张三", reason="已整改", actor_person="张三")
    assert delisted.transitions[0].cause_key == f"delisting:{TS}:7"
    assert delisted.notices[0].issuer_code == "SX-YC" and delisted.notices[0].extra["actor_person"] == "张三"


def test_periods_parse_label_and_step_back() -> None:
    week = Period.parse("weekly", "2025-W38")
    assert (week.first, week.last, week.label, week.title) == (
        date(2025, 9, 15),
        date(2025, 9, 21),
        "2025-W38",
        "2025年第38周",
    )
    assert Period.parse("quarterly", "2025-Q1").previous().label == "2024-Q4"
    assert Period.parse("monthly", "2024-02").year_before().label == "2023-02"
    with pytest.raises(InvalidInput):
        Period.parse("monthly", "2025-13")
    with pytest.raises(InvalidInput, match="has not ended"):
        resolve_period("monthly", datetime(2025, 9, 30, 23, tzinfo=TZ), TZ, "2025-09")


def test_rates_are_derived_from_the_counters() -> None:
    counts = dict.fromkeys(COUNTS, 0) | {"cleared": 3, "open": 1, "on_time": 2, "returned": 1, "open_level_city": 1}
    figures = derive(counts)
    assert figures["clearance_rate"] == 0.75 and figures["on_time_rate"] == round(2 / 3, 4)
    assert figures["rework_rate"] == 0.25 and figures["open_by_level"] == {
        "none": 0,
        "township": 0,
        "county": 0,
        "city": 1,
    }
    assert derive(dict.fromkeys(COUNTS, 0))["clearance_rate"] is None
    assert Scope("SX-YC", "越城区", "county").holds(TS, "SX-YC") and not Scope(FS, "府山", "township").holds(
        TS, "SX-YC"
    )


def test_a_hazards_state_at_an_instant_is_replayed_from_its_transitions() -> None:
    row = SimpleNamespace
    transitions = [
        row(hazard_id="H1", action="hazard.detected", to_state="detected", level=None, details={}),
        row(hazard_id="H1", action="routed", to_state="assigned", level=None,
            details={"unit": "SX-YC-XF", "due_at": "2025-09-20T23:59:59+08:00"}),
        row(hazard_id="H1", action="extension.decided", to_state=None, level=None,
            details={"approved": True, "due_at": "2025-09-27T23:59:59+08:00"}),
        row(hazard_id="H1", action="elevated", to_state=None, level="county", details={}),
        row(hazard_id="H1", action="reminded", to_state=None, level=None, details={}),
    ]  # fmt: skip
    states = replay_states(["H1", "H2"], transitions)
    assert states["H1"] == {
        "state": "assigned",
        "unit": "SX-YC-XF",
        "due_at": datetime.fromisoformat("2025-09-27T23:59:59+08:00"),
        "level": "county",
    }
    assert states["H2"] == {"state": None, "unit": None, "due_at": None, "level": "none"}
