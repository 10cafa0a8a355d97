"""The hazard lifecycle in memory: the transition table, and the rules that drive a hazard through it. A step the
table does not allow is refused with one typed error (``Refused``, exit 3) that carries the state and the event,
and leaves the hazard as it was."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hazardloop.models.core.errors import InvalidInput, Refused
from hazardloop.models.core.events import HAZARD_EVENT_TYPES
from hazardloop.models.core.lifecycle import (
    CLOCK_RUNNING,
    FINAL,
    INITIAL,
    OPEN,
    SWEPT,
    TABLE,
    State,
    allowed_events,
    next_state,
)
from hazardloop.models.core.policy import Routing
from tests.support.core import act, actions, detect, notice_kinds, rules
from tests.support.factories import COUNTY_CODE, FIRE_UNIT, TOWNSHIP_CODE

PERSON_EVENTS = [t for t in HAZARD_EVENT_TYPES if t != "hazard.detected"]
OUTSIDE_THE_TABLE = [(e, s) for e in PERSON_EVENTS for s in State if (e, s) not in TABLE]


def test_every_step_outside_the_table_is_refused_naming_its_state_and_event() -> None:
    assert len(OUTSIDE_THE_TABLE) > 20
    for event, state in OUTSIDE_THE_TABLE:
        with pytest.raises(Refused) as refused:
            next_state(state, event)
        assert (refused.value.state, refused.value.event, refused.value.field) == (str(state), event, "type")
        assert refused.value.exit_code == 3


def test_every_step_in_the_table_moves_to_the_state_the_table_names() -> None:
    for (event, state), target in TABLE.items():
        assert next_state(state, event) is target


def test_a_refusal_says_in_plain_words_what_the_hazard_is_and_what_it_allows_now() -> None:
    with pytest.raises(Refused) as refused:
        next_state(State.ASSIGNED, "verification.passed")
    message = str(refused.value)
    assert "'verification.passed' is not allowed" in message
    assert "assigned and waiting for acknowledgement" in message
    assert "hazard.acknowledged" in message and "hazard.reassigned" in message


def test_a_closed_hazard_allows_nothing() -> None:
    for final in FINAL:
        assert allowed_events(final) == []
        with pytest.raises(Refused, match=r"nothing \(the hazard is closed\)"):
            next_state(final, "hazard.escalated")


def test_the_engines_own_steps_are_never_offered_as_allowed_events() -> None:
    offered = {event for state in State for event in allowed_events(state)}
    assert "routed" not in offered and "swept" not in offered
    assert offered <= set(PERSON_EVENTS)


def test_a_state_given_as_text_moves_like_the_state_itself() -> None:
    assert next_state("rectifying", "rectification.submitted") is State.PENDING_VERIFICATION
    with pytest.raises(Refused) as refused:
        next_state("cleared", "hazard.acknowledged")
    assert refused.value.state == "cleared"


def test_any_open_hazard_can_be_closed_as_invalid_or_escalated_without_changing_state() -> None:
    for state in OPEN:
        assert next_state(state, "hazard.invalidated") is State.INVALID
        assert next_state(state, "hazard.escalated") is state


def test_the_units_clock_runs_only_while_it_owes_the_work() -> None:
    assert INITIAL is State.DETECTED
    assert {State.ASSIGNED, State.RECTIFYING} == CLOCK_RUNNING
    assert CLOCK_RUNNING | {State.PENDING_VERIFICATION} == SWEPT
    assert not SWEPT & FINAL


@given(st.lists(st.sampled_from(PERSON_EVENTS), max_size=25))
def test_any_sequence_of_events_only_visits_states_the_table_reaches(events: list[str]) -> None:
    state = next_state(INITIAL, "routed")
    for event in events:
        try:
            after = next_state(state, event)
        except Refused as refused:
            assert (event, state) not in TABLE and refused.event == event and refused.state == str(state)
            continue
        assert TABLE[(event, state)] is after
        state = after
    assert state in State


# --- through the rules ---------------------------------------------------------------------------------------


def test_a_detection_is_routed_to_the_department_answering_for_its_field() -> None:
    r = rules()
    h, effects = detect(r, "2025-03-03T08:00:00")
    assert h.state == State.ASSIGNED and h.unit_code == FIRE_UNIT
    assert actions(effects) == ["hazard.detected", "routed"]
    assert notice_kinds(effects) == ["assignment"]
    assert effects.notices[0].recipient_code == FIRE_UNIT and TOWNSHIP_CODE in effects.notices[0].cc_codes


def test_without_automatic_routing_a_detection_waits_for_a_supervisor() -> None:
    r = rules(routing=Routing(auto=False))
    h, effects = detect(r, "2025-03-03T08:00:00")
    assert h.state == State.DETECTED and h.unit_code is None and h.due_at is None
    assert notice_kinds(effects) == []
    act(r, h, "hazard.assigned", "2025-03-03T10:00:00", TOWNSHIP_CODE, unit=FIRE_UNIT)
    assert h.state == State.ASSIGNED and h.unit_code == FIRE_UNIT


def test_the_whole_loop_with_one_failed_verification_counts_one_rework() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    seen = [h.state]
    steps = [
        ("hazard.acknowledged", "09:00", FIRE_UNIT, {}),
        ("rectification.submitted", "10:00", FIRE_UNIT, {"note": "已整改", "evidence": []}),
        ("verification.failed", "11:00", TOWNSHIP_CODE, {"reason": "整改不到位"}),
        ("rectification.submitted", "12:00", FIRE_UNIT, {"note": "再次整改", "evidence": []}),
        ("verification.passed", "15:00", TOWNSHIP_CODE, {"note": "核查合格"}),
    ]
    kinds = []
    for kind, clock, actor, fields in steps:
        kinds += notice_kinds(act(r, h, kind, f"2025-03-03T{clock}:00", actor, **fields))
        seen.append(h.state)
    assert seen == ["assigned", "rectifying", "pending_verification", "rectifying", "pending_verification", "cleared"]
    assert h.rework_count == 1 and h.cleared_at is not None and h.closed_at == h.cleared_at
    assert kinds == ["verification_request", "return", "verification_request", "clearance"]
    assert h.next_action_at is None


def test_a_refused_event_leaves_the_hazard_exactly_as_it_was() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    before = dict(h.__dict__)
    with pytest.raises(Refused) as refused:
        act(r, h, "verification.passed", "2025-03-03T09:00:00", TOWNSHIP_CODE, note="核查合格")
    assert (refused.value.state, refused.value.event) == ("assigned", "verification.passed")
    assert h.__dict__ == before


def test_the_state_is_checked_before_who_is_acting() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    act(r, h, "hazard.invalidated", "2025-03-03T09:00:00", TOWNSHIP_CODE, reason="重复上报")
    with pytest.raises(Refused) as refused:  # the wrong unit, on a closed hazard: the state is what is said
        act(r, h, "hazard.acknowledged", "2025-03-03T10:00:00", "SX-KQ")
    assert refused.value.state == "invalid" and refused.value.field == "type"


def test_only_the_responsible_unit_may_acknowledge() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    with pytest.raises(Refused) as refused:
        act(r, h, "hazard.acknowledged", "2025-03-03T09:00:00", TOWNSHIP_CODE)
    assert refused.value.field == "actor" and h.state == State.ASSIGNED


def test_the_responsible_unit_may_not_verify_its_own_work() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00", field="other")  # no department: the township answers itself
    assert h.unit_code == TOWNSHIP_CODE
    act(r, h, "hazard.acknowledged", "2025-03-03T09:00:00", TOWNSHIP_CODE)
    act(r, h, "rectification.submitted", "2025-03-03T10:00:00", TOWNSHIP_CODE, note="已整改", evidence=[])
    with pytest.raises(Refused, match="may not verify its own work"):
        act(r, h, "verification.passed", "2025-03-03T11:00:00", TOWNSHIP_CODE, note="核查合格")
    act(r, h, "verification.passed", "2025-03-03T11:00:00", COUNTY_CODE, note="核查合格")
    assert h.state == State.CLEARED


def test_an_event_dated_before_the_hazards_last_step_is_invalid_input_naming_at() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    act(r, h, "hazard.acknowledged", "2025-03-03T10:00:00", FIRE_UNIT)
    with pytest.raises(InvalidInput) as invalid:
        act(r, h, "rectification.submitted", "2025-03-03T09:00:00", FIRE_UNIT, note="已整改", evidence=[])
    assert invalid.value.problems[0].field == "at" and "hazard.acknowledged" in str(invalid.value)
    assert h.state == State.RECTIFYING


def test_a_reassignment_keeps_the_running_deadline() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    due = h.due_at
    effects = act(
        r, h, "hazard.reassigned", "2025-03-05T09:00:00", COUNTY_CODE, unit=TOWNSHIP_CODE, reason="不属消防职责"
    )
    assert h.unit_code == TOWNSHIP_CODE and h.due_at == due and h.state == State.ASSIGNED
    assert notice_kinds(effects) == ["assignment"] and FIRE_UNIT in effects.notices[0].cc_codes


def test_an_approved_extension_moves_the_deadline_by_working_days() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")  # due 2025-03-12 (Wednesday)
    act(r, h, "hazard.acknowledged", "2025-03-03T09:00:00", FIRE_UNIT)
    act(r, h, "extension.requested", "2025-03-04T09:00:00", FIRE_UNIT, days=3, reason="需协调物业")
    assert h.pending_extension_days == 3
    act(r, h, "extension.decided", "2025-03-05T09:00:00", TOWNSHIP_CODE, approved=True, reason="同意")
    assert h.due_at is not None and h.due_at.date().isoformat() == "2025-03-17"  # Thu, Fri, then Monday
    assert h.extension_days_granted == 3 and h.pending_extension_days is None


def test_an_extension_longer_than_the_policy_allows_is_refused_on_days() -> None:
    r = rules()
    h, _ = detect(r, "2025-03-03T08:00:00")
    with pytest.raises(Refused) as refused:
        act(r, h, "extension.requested", "2025-03-04T09:00:00", FIRE_UNIT, days=31, reason="工期长")
    assert refused.value.field == "days" and h.extension_count == 0
