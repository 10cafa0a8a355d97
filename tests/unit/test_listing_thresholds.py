"""Listing decisions in memory: which of a township's figures break the policy's thresholds (提级挂牌督办), each as
the problem statement the listing notice carries. The default policy: more than 10 overdue, more than 2 overdue
major hazards, or a clearance rate under 60 % once at least 20 hazards fell due in the 30-day window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hazardloop.models.core.listing import Figures, breaches
from hazardloop.models.core.policy import Listing
from tests.support.core import rules


def figures(open: int = 5, overdue: int = 0, major: int = 0, due: int = 0, cleared: int = 0) -> Figures:
    return Figures("SX-YC-FS", open, overdue, major, due, cleared)


def test_a_township_within_every_bound_breaks_nothing() -> None:
    assert breaches(rules(), figures(open=30, overdue=10, major=2, due=20, cleared=12)) == []


def test_one_overdue_hazard_over_the_limit_breaks_it_naming_count_and_limit() -> None:
    assert breaches(rules(), figures(overdue=11)) == ["逾期未整改隐患11件，超过10件的限值"]


def test_overdue_major_hazards_over_the_limit_break_it() -> None:
    assert breaches(rules(), figures(major=3)) == ["重大隐患逾期未整改3件，超过2件的限值"]


def test_a_low_clearance_rate_breaks_it_once_enough_hazards_fell_due() -> None:
    found = breaches(rules(), figures(due=20, cleared=11))
    assert found == ["近30日到期隐患整改销号率55.0%，低于60%的要求"]


def test_a_low_clearance_rate_on_too_few_hazards_is_no_breach() -> None:
    assert breaches(rules(), figures(due=19, cleared=0)) == []


def test_with_nothing_due_there_is_no_rate_and_no_rate_breach() -> None:
    f = figures(due=0, cleared=0)
    assert f.clearance_rate is None
    assert breaches(rules(), f) == []


def test_every_broken_threshold_is_listed_in_the_order_of_the_notice() -> None:
    found = breaches(rules(), figures(overdue=12, major=4, due=40, cleared=4))
    assert [p[:4] for p in found] == ["逾期未整", "重大隐患", "近30日"]


def test_the_thresholds_come_from_the_policy() -> None:
    strict = rules(listing=Listing(max_overdue=2, max_overdue_major=0, min_clearance_rate=0.9, min_hazards_for_rate=5))
    found = breaches(strict, figures(overdue=3, major=1, due=5, cleared=4))
    assert len(found) == 3 and "超过2件的限值" in found[0] and "低于90%的要求" in found[2]


def test_the_figures_as_the_notice_shows_them() -> None:
    f = figures(open=30, overdue=4, major=1, due=30, cleared=20)
    assert f.as_dict(30) == {
        "open": 30,
        "overdue": 4,
        "overdue_major": 1,
        "due_in_window": 30,
        "clearance_rate": 0.6667,
        "window_days": 30,
    }


@given(
    st.integers(0, 30),
    st.integers(0, 6),
    st.integers(0, 60).flatmap(lambda due: st.tuples(st.just(due), st.integers(0, due))),
)
def test_a_township_is_in_breach_exactly_when_one_threshold_is_broken(
    overdue: int, major: int, due_and_cleared: tuple[int, int]
) -> None:
    due, cleared = due_and_cleared
    rate_low = due >= 20 and cleared / due < 0.6
    assert bool(breaches(rules(), figures(overdue=overdue, major=major, due=due, cleared=cleared))) == (
        overdue > 10 or major > 2 or rate_low
    )
