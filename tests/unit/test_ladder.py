"""The escalation ladder in memory (催办 → 督办 → 提级), by the default policy: which rung fires at which instant,
counted in working days (holidays and make-up days included), once per cause; major hazards go up at once.

The reference hazard: a general fire hazard in 府山街道 detected Monday 2025-03-03 08:00, assigned to 越城区消防救援
大队 with 7 working days, so due Wednesday 2025-03-12 23:59:59; acknowledged at 09:00."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hazardloop.models.core.lifecycle import State
from tests.support.core import acknowledged_fire_hazard, act, actions, detect, notice_kinds, rules, sweep
from tests.support.factories import FIRE_UNIT, TOWNSHIP_CODE, at


def test_the_deadline_is_seven_working_days_after_assignment_at_the_end_of_the_day() -> None:
    h = acknowledged_fire_hazard(rules())
    assert h.due_at == at("2025-03-12T23:59:59")
    assert h.deadline_days == 7 and not h.deadline_provisional


def test_a_major_hazard_has_twenty_working_days_and_a_field_may_have_its_own() -> None:
    r = rules()
    major, _ = detect(r, "2025-03-03T08:00:00", severity="major")
    road, _ = detect(r, "2025-03-03T08:00:00", field="road_traffic")
    assert major.due_at == at("2025-03-31T23:59:59")
    assert road.due_at == at("2025-03-10T23:59:59")  # road_traffic: 5 working days


def test_nothing_fires_before_the_first_rung() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    effects = sweep(r, h, "2025-03-10T23:59:59")
    assert actions(effects) == [] and notice_kinds(effects) == []
    assert h.next_action_at == at("2025-03-11T00:00:00")


def test_the_deadline_reminder_comes_at_the_start_of_the_working_day_before_the_due_day() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    effects = sweep(r, h, "2025-03-11T00:00:00")
    assert actions(effects) == ["reminded"] and notice_kinds(effects) == ["reminder"]
    assert effects.notices[0].recipient_code == FIRE_UNIT
    assert effects.notices[0].extra["reminder_reason"] == "deadline"


def test_an_unacknowledged_hazard_is_reminded_after_one_working_day() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    assert h.next_action_at == at("2025-03-05T00:00:00")
    assert actions(sweep(r, h, "2025-03-04T23:59:59")) == []
    effects = sweep(r, h, "2025-03-05T00:00:00")
    assert actions(effects) == ["reminded"]
    assert effects.transitions[0].details["why"] == "acknowledge"
    assert effects.notices[0].extra["reminder_reason"] == "acknowledge"


def test_the_acknowledgement_reminder_skips_the_weekend() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-07T08:00:00")  # a Friday: one working day is Monday the 10th
    assert h.next_action_at == at("2025-03-11T00:00:00")


def test_supervision_comes_the_first_instant_after_the_deadline() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    sweep(r, h, "2025-03-11T00:00:00")
    assert actions(sweep(r, h, "2025-03-12T23:59:59")) == []
    effects = sweep(r, h, "2025-03-13T00:00:00")
    assert actions(effects) == ["supervised"] and notice_kinds(effects) == ["supervision"]
    assert h.overdue_since == at("2025-03-13T00:00:00") and h.level == "none"


def test_a_late_sweep_sends_the_supervision_without_the_reminder_it_overtook() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    effects = sweep(r, h, "2025-03-14T10:00:00")
    assert notice_kinds(effects) == ["supervision"]
    assert "reminded" not in actions(effects)


def test_county_supervision_after_three_working_days_overdue() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    sweep(r, h, "2025-03-13T00:00:00")
    # overdue Thursday 13th, Friday 14th and Monday 17th: the third working day ends at Monday's midnight
    assert actions(sweep(r, h, "2025-03-17T23:59:59")) == [] and h.level == "none"
    effects = sweep(r, h, "2025-03-18T00:00:00")
    assert actions(effects) == ["elevated"] and notice_kinds(effects) == ["elevation"]
    assert h.level == "county" and effects.transitions[0].level == "county"


def test_city_supervision_after_ten_working_days_overdue() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    sweep(r, h, "2025-03-18T00:00:00")
    assert h.level == "county" and h.next_action_at == at("2025-03-27T00:00:00")
    assert actions(sweep(r, h, "2025-03-26T23:59:59")) == []
    sweep(r, h, "2025-03-27T00:00:00")
    assert h.level == "city" and h.next_action_at is None


def test_a_sweep_that_finds_two_levels_due_goes_straight_to_the_higher_with_one_notice() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    effects = sweep(r, h, "2025-03-28T10:00:00")
    assert actions(effects) == ["supervised", "elevated"]
    assert notice_kinds(effects).count("elevation") == 1 and h.level == "city"


def test_an_overdue_major_hazard_goes_to_the_county_at_once() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00", severity="major")
    act(r, h, "hazard.acknowledged", "2025-03-03T09:00:00", FIRE_UNIT)
    overdue = h.due_at + timedelta(seconds=1) if h.due_at else None
    assert overdue == at("2025-04-01T00:00:00")
    sweep(r, h, overdue - timedelta(seconds=1))
    assert h.level == "none"
    effects = sweep(r, h, overdue)
    assert actions(effects) == ["supervised", "elevated"] and h.level == "county"
    assert "重大隐患" in (effects.transitions[-1].reason or "")


def test_a_rung_fires_once_however_often_the_sweep_runs() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    first = sweep(r, h, "2025-03-13T00:00:00")
    again = sweep(r, h, "2025-03-13T00:00:00")
    later = sweep(r, h, "2025-03-13T12:00:00")
    assert actions(first) == ["supervised"] and actions(again) == [] and actions(later) == []


def test_each_rung_names_the_instant_it_fell_due_even_when_the_sweep_is_late() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    effects = sweep(r, h, "2025-03-14T10:00:00")
    supervision = effects.transitions[0]
    assert supervision.at == at("2025-03-14T10:00:00")
    assert supervision.details["fell_due_at"] == "2025-03-13T00:00:00+08:00"


def test_a_closed_hazard_has_no_next_action_and_the_sweep_leaves_it_alone() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    act(r, h, "hazard.invalidated", "2025-03-03T09:00:00", TOWNSHIP_CODE, reason="重复上报")
    assert h.next_action_at is None
    assert actions(sweep(r, h, "2025-06-01T00:00:00")) == [] and h.level == "none"


def test_while_waiting_for_verification_the_verifier_is_chased_not_the_unit() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    act(r, h, "rectification.submitted", "2025-03-04T10:00:00", FIRE_UNIT, note="已整改", evidence=[])
    assert h.state == State.PENDING_VERIFICATION
    assert h.verify_due_at == at("2025-03-07T23:59:59")  # three working days for the verifier
    effects = sweep(r, h, "2025-03-08T00:00:00")
    assert "supervision" in notice_kinds(effects)
    notice = effects.notices[notice_kinds(effects).index("supervision")]
    assert notice.recipient_code == TOWNSHIP_CODE and notice.extra["duty"] == "verification"
    assert h.overdue_since is None  # the unit is not overdue: its clock stopped at submission


def test_an_approved_extension_gives_the_new_deadline_its_own_reminder_and_supervision() -> None:
    r = rules()
    h = acknowledged_fire_hazard(r)
    sweep(r, h, "2025-03-11T00:00:00")  # reminded for the 12th
    act(r, h, "extension.requested", "2025-03-11T09:00:00", FIRE_UNIT, days=5, reason="需协调物业")
    act(r, h, "extension.decided", "2025-03-11T15:00:00", TOWNSHIP_CODE, approved=True, reason="同意")
    assert h.due_at == at("2025-03-19T23:59:59")
    assert actions(sweep(r, h, "2025-03-13T00:00:00")) == []  # the old deadline no longer counts
    assert notice_kinds(sweep(r, h, "2025-03-19T00:00:00")) == ["reminder"]
    assert notice_kinds(sweep(r, h, "2025-03-20T00:00:00")) == ["supervision"]


def test_national_day_and_its_make_up_days_move_the_deadline() -> None:
    r = rules()
    h, _ = detect(r, "2025-09-26T10:00:00")  # Friday before 国庆 2025
    # Sun 28 (make-up), Mon 29, Tue 30, [1-8 October off], Thu 9, Fri 10, Sat 11 (make-up), Mon 13
    assert h.due_at == at("2025-10-13T23:59:59")
    act(r, h, "hazard.acknowledged", "2025-09-26T11:00:00", FIRE_UNIT)
    assert h.next_action_at == at("2025-10-11T00:00:00")  # the working day before is the make-up Saturday


def test_a_make_up_sunday_counts_toward_the_county_rung() -> None:
    r = rules()
    h, _ = detect(r, "2025-09-17T10:00:00")  # due Friday 2025-09-26
    act(r, h, "hazard.acknowledged", "2025-09-17T11:00:00", FIRE_UNIT)
    assert h.due_at == at("2025-09-26T23:59:59")
    sweep(r, h, "2025-09-27T00:00:00")
    # overdue working days: Sun 28 (make-up), Mon 29, Tue 30; then the holiday
    sweep(r, h, "2025-09-30T23:59:59")
    assert h.level == "none"
    sweep(r, h, "2025-10-01T00:00:00")
    assert h.level == "county"


@pytest.mark.parametrize("calendar", ["cn", "weekdays"])
def test_the_two_calendars_agree_on_an_ordinary_week(calendar: str) -> None:
    r = rules(calendar=calendar)
    h = acknowledged_fire_hazard(r)
    assert h.due_at == at("2025-03-12T23:59:59")


def test_the_weekday_calendar_does_not_know_the_holidays() -> None:
    r = rules(calendar="weekdays")
    h, _ = detect(r, "2025-09-26T10:00:00")
    assert h.due_at == at("2025-10-07T23:59:59")  # Mon 29 … Tue 7 October, seven weekdays


def test_a_deadline_that_runs_into_a_year_without_published_holidays_is_provisional() -> None:
    r = rules()
    last_covered = r.calendar.covered_years().stop - 1  # type: ignore[attr-defined]
    h, _ = detect(r, f"{last_covered}-12-24T10:00:00")
    assert h.deadline_provisional
    inside, _ = detect(r, f"{last_covered}-06-02T10:00:00")
    assert not inside.deadline_provisional


def test_a_rung_title_with_a_control_character_is_refused() -> None:
    """A rung's title goes into audit rows, notices and the terminal: one line of plain text only."""
    import pydantic
    import pytest

    from hazardloop.models.core.ladder import RungSpec

    with pytest.raises(pydantic.ValidationError, match="title"):
        RungSpec(name="interview", title="约谈\x1b[2J", overdue_days=15, notice="supervision")
    assert RungSpec(name="interview", title="约谈", overdue_days=15, notice="supervision").title == "约谈"
