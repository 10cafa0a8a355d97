"""The lifecycle table's own check, in memory: a table with a trap, an unreachable state or an exit from a final
state is refused, and generated tables are accepted exactly when an independent statement of the rules holds."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hazardloop.models.core.events import EVENT_TYPES
from hazardloop.models.core.lifecycle import FINAL, INITIAL, OPEN, TABLE, State, check_table

# --------------------------------------------------------------------------

Table = dict[tuple[str, State], State]


def base_table() -> Table:
    return dict(TABLE)


def test_the_shipped_table_passes_its_own_check() -> None:
    check_table(TABLE)


def test_a_table_with_a_trap_is_refused() -> None:
    table = {k: v for k, v in base_table().items() if k[1] != State.PENDING_VERIFICATION}
    table[("hazard.escalated", State.PENDING_VERIFICATION)] = State.PENDING_VERIFICATION  # only a self-loop
    table[("verification.passed", State.RECTIFYING)] = State.CLEARED  # every state stays reachable
    with pytest.raises(AssertionError, match="trap"):
        check_table(table)


def test_a_table_with_an_unreachable_state_is_refused() -> None:
    table = {k: v for k, v in base_table().items() if v != State.PENDING_VERIFICATION}
    with pytest.raises(AssertionError, match="unreachable"):
        check_table(table)


@pytest.mark.parametrize("final", sorted(FINAL))
def test_a_table_with_an_exit_from_a_final_state_is_refused(final: State) -> None:
    table = base_table()
    table[("hazard.reopened", final)] = State.RECTIFYING
    with pytest.raises(AssertionError, match="final"):
        check_table(table)


def _reach(edges: dict[State, set[State]], start: State) -> set[State]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def table_is_sound(table: Table) -> bool:
    """An independent statement of the rules: one initial state from which every state is reachable, no
    transition out of a final state (not even to itself), and a final state reachable from every open one."""
    edges: dict[State, set[State]] = defaultdict(set)
    for (_event, src), dst in table.items():
        edges[src].add(dst)
    if any(edges[f] for f in FINAL):
        return False
    if _reach(edges, INITIAL) != set(State):
        return False
    return all(_reach(edges, s) & FINAL for s in OPEN)


states = st.sampled_from(list(State))
event_names = st.sampled_from([*EVENT_TYPES, "routed", "swept", "hazard.reopened"])


@st.composite
def mutated_tables(draw: st.DrawFn) -> Table:
    items = sorted(TABLE.items())
    keep = draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    table = {k: v for (k, v), kept in zip(items, keep, strict=True) if kept or draw(st.booleans())}
    for _ in range(draw(st.integers(0, 3))):
        table[(draw(event_names), draw(states))] = draw(states)
    return table


@settings(max_examples=300, deadline=None)
@given(mutated_tables())
def test_the_table_check_accepts_exactly_the_sound_tables(table: Table) -> None:
    if table_is_sound(table):
        check_table(table)
    else:
        with pytest.raises(AssertionError):
            check_table(table)
