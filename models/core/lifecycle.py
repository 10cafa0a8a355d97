"""The hazard lifecycle: one declarative table of states and the events that move between them, checked
when this module loads (one initial state, final states without exits, nothing unreachable, no trap)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from hazardloop.models.core.actions import Action
from hazardloop.models.core.errors import Refused


class State(StrEnum):
    DETECTED = "detected"
    ASSIGNED = "assigned"
    RECTIFYING = "rectifying"
    PENDING_VERIFICATION = "pending_verification"
    CLEARED = "cleared"
    INVALID = "invalid"


INITIAL = State.DETECTED
FINAL = frozenset({State.CLEARED, State.INVALID})
OPEN = tuple(s for s in State if s not in FINAL)
# States in which the deadline runs: the unit owes the work. While waiting for verification the clock for
# the unit stops; a failed verification restarts it against the same deadline.
CLOCK_RUNNING = frozenset({State.ASSIGNED, State.RECTIFYING})
# States the escalation sweep looks at: the unit's clock, or the verifier's while waiting for verification.
SWEPT = frozenset({*CLOCK_RUNNING, State.PENDING_VERIFICATION})

_S = State
_A = Action
# (event type, from state) -> to state. Events that keep the state still appear: they are allowed only there.
# "routed" is the engine's own routing of a fresh detection; "swept" covers reminders, supervision and
# automatic elevation.
TABLE: Mapping[tuple[str, State], State] = {
    (_A.ROUTED, _S.DETECTED): _S.ASSIGNED,
    (_A.ASSIGNED, _S.DETECTED): _S.ASSIGNED,
    (_A.ACKNOWLEDGED, _S.ASSIGNED): _S.RECTIFYING,
    (_A.REASSIGNED, _S.ASSIGNED): _S.ASSIGNED,
    (_A.REASSIGNED, _S.RECTIFYING): _S.ASSIGNED,
    (_A.EXTENSION_REQUESTED, _S.ASSIGNED): _S.ASSIGNED,
    (_A.EXTENSION_REQUESTED, _S.RECTIFYING): _S.RECTIFYING,
    (_A.EXTENSION_DECIDED, _S.ASSIGNED): _S.ASSIGNED,
    (_A.EXTENSION_DECIDED, _S.RECTIFYING): _S.RECTIFYING,
    (_A.RECTIFICATION_SUBMITTED, _S.RECTIFYING): _S.PENDING_VERIFICATION,
    (_A.VERIFICATION_PASSED, _S.PENDING_VERIFICATION): _S.CLEARED,
    (_A.VERIFICATION_FAILED, _S.PENDING_VERIFICATION): _S.RECTIFYING,
    **{(_A.INVALIDATED, s): _S.INVALID for s in OPEN},
    **{(_A.ESCALATED, s): s for s in OPEN},
    (_A.SWEPT, _S.ASSIGNED): _S.ASSIGNED,
    (_A.SWEPT, _S.RECTIFYING): _S.RECTIFYING,
    (_A.SWEPT, _S.PENDING_VERIFICATION): _S.PENDING_VERIFICATION,  # the verifier's clock
}

_PLAIN_STATE = {
    _S.DETECTED: "not yet routed",
    _S.ASSIGNED: "assigned and waiting for acknowledgement",
    _S.RECTIFYING: "being rectified",
    _S.PENDING_VERIFICATION: "waiting for verification",
    _S.CLEARED: "already cleared",
    _S.INVALID: "closed as invalid",
}


_INTERNAL = frozenset({Action.ROUTED, Action.SWEPT})  # the engine's own steps, not events anyone can send


def allowed_events(state: State) -> list[str]:
    return sorted({event for (event, src) in TABLE if src == state and event not in _INTERNAL})


def next_state(state: State | str, event: str) -> State:
    """The state after ``event``; raises ``Refused`` carrying the state and the event when not allowed."""
    found = TABLE.get((event, state))  # StrEnum members hash like their strings: no Enum() call on the hot path
    if found is not None:
        return found
    state = State(state)
    allowed = ", ".join(allowed_events(state)) or "nothing (the hazard is closed)"
    raise Refused(
        f"'{event}' is not allowed: the hazard is {_PLAIN_STATE[state]} (state '{state}'); allowed now: {allowed}",
        field="type",
        state=str(state),
        event=event,
    )


def check_table(table: Mapping[tuple[str, State], State]) -> None:
    """Refuse a table with an unreachable state, a final state with exits, or a trap (an open state from
    which no final state can be reached)."""
    edges: dict[State, set[State]] = {s: set() for s in State}
    for (_event, src), dst in table.items():
        edges[src].add(dst)
    for final in FINAL:
        if any(dst != final for dst in edges[final]) or edges[final]:
            raise AssertionError(f"final state {final} has exits")
    reachable, frontier = {INITIAL}, [INITIAL]
    while frontier:
        for dst in edges[frontier.pop()]:
            if dst not in reachable:
                reachable.add(dst)
                frontier.append(dst)
    if missing := set(State) - reachable:
        raise AssertionError(f"unreachable states: {sorted(missing)}")
    for state in OPEN:
        seen, frontier = {state}, [state]
        while frontier:
            for dst in edges[frontier.pop()]:
                if dst not in seen:
                    seen.add(dst)
                    frontier.append(dst)
        if not seen & FINAL:
            raise AssertionError(f"state {state} is a trap: no final state can be reached from it")


check_table(TABLE)
