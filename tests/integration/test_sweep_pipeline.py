"""The pipelined sweep on the real PostgreSQL server: the next batch is decided while a second thread writes the
last one. It must leave exactly what a sequential sweep leaves, stop cleanly between batches, and take a batch
whose write lost a race again without doubling or losing anything."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from hazardloop.config.bootstrap import App
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.queries import export_state
from hazardloop.models.store.sweep import sweep
from tests.support.factories import at, detected
from tests.support.fixtures import pg_database, ready_app

pytestmark = pytest.mark.postgres

HAZARDS = 40
BATCH = 7  # six batches: several overlap, the last one is short


@pytest.fixture
def apps() -> Iterator[tuple[App, App]]:
    """Two fresh PostgreSQL databases with the same 40 hazards (a quarter of them major), detected before 国庆."""
    lines = [
        (i + 1, json.dumps(detected(f"PIPE-{i}", "2025-09-26T10:00:00+08:00", severity=_severity(i))))
        for i in range(HAZARDS)
    ]
    with ExitStack() as stack:
        pair = [stack.enter_context(ready_app(stack.enter_context(pg_database()))) for _ in range(2)]
        for application in pair:
            rules, engine = application.rules, application.engine
            report = apply_lines(engine, rules, lines, source="t", now=at("2025-09-26T12:00:00"))
            assert report.applied == HAZARDS
        yield pair[0], pair[1]


def _severity(i: int) -> str:
    return "major" if i % 4 == 0 else "general"


def _state(app: App, instant: str) -> dict[str, Any]:
    with unit_of_work(app.engine, write=False) as conn:
        return export_state(conn, app.rules, at(instant))


LADDER = ("2025-09-29T09:00:00", "2025-10-12T09:00:00", "2025-10-14T09:00:00", "2025-11-20T09:00:00")


def test_a_pipelined_sweep_leaves_exactly_what_a_sequential_one_leaves(apps: tuple[App, App]) -> None:
    sequential, pipelined = apps
    batches = []
    for instant in LADDER:
        one = sweep(sequential.engine, sequential.rules, at(instant), batch_size=BATCH, pipelined=False)
        two = sweep(pipelined.engine, pipelined.rules, at(instant), batch_size=BATCH, pipelined=True)
        assert two.as_dict() == one.as_dict()
        assert _state(pipelined, instant) == _state(sequential, instant)
        batches.append(two.batches)
    assert max(batches) == 6  # 40 hazards in batches of 7: the pipeline ran with batches in flight
    supervised = [t for t in _state(pipelined, LADDER[-1])["transitions"] if t["action"] == "supervised"]
    assert len(supervised) == HAZARDS


def test_a_pipelined_sweep_stopped_after_two_batches_wrote_two_and_a_rerun_finishes_the_work(
    apps: tuple[App, App],
) -> None:
    clean, broken = apps
    late = at("2025-10-20T09:00:00")
    sweep(clean.engine, clean.rules, late, batch_size=BATCH, pipelined=True)
    with pytest.raises(RuntimeError, match="injected fault after 2"):
        sweep(broken.engine, broken.rules, late, batch_size=BATCH, pipelined=True, fault_after_batches=2)
    partial = _state(broken, "2025-10-20T09:00:00")
    # the third batch was decided while the second was written: it was rolled back, not half-written
    assert len(_swept(partial, late)) == 2 * BATCH
    sweep(broken.engine, broken.rules, late, batch_size=BATCH, pipelined=True)
    assert _state(broken, "2025-10-20T09:00:00") == _state(clean, "2025-10-20T09:00:00")


def _swept(state: dict[str, Any], instant: datetime) -> set[str]:
    """The hazards the sweep at ``instant`` wrote a step for."""
    return {t["hazard"] for t in state["transitions"] if t["recorded_at"] == instant.isoformat() and t["hazard"]}


def _fail_transition_writes(app: App, failing: tuple[int, ...], sqlstate: str) -> None:
    """The transactions that write transitions fail with ``sqlstate`` if they are among the ``failing`` (counted
    from 1; one sweep batch is one transaction). A sequence counts them, as it is not rolled back with a failed
    transaction; a transaction-local setting remembers which one a transaction is."""
    with app.engine.begin() as conn:
        conn.execute(text("CREATE SEQUENCE failing_writes"))
        conn.execute(
            text(
                f"""
                CREATE FUNCTION fail_some_writes() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF coalesce(current_setting('hz_test.write', true), '') = '' THEN
                        PERFORM set_config('hz_test.write', nextval('failing_writes')::text, true);
                    END IF;
                    IF current_setting('hz_test.write')::int IN ({", ".join(map(str, failing))}) THEN
                        RAISE EXCEPTION 'injected failure' USING ERRCODE = '{sqlstate}';
                    END IF;
                    RETURN NULL;
                END $$
                """
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER fail_some_writes AFTER INSERT ON transitions "
                "FOR EACH STATEMENT EXECUTE FUNCTION fail_some_writes()"
            )
        )


def _outcome(state: dict[str, Any]) -> dict[str, Any]:
    """What a sweep decided, without the order it was written in (ids, document numbers)."""
    return {
        "hazards": state["hazards"],
        "transitions": sorted(
            json.dumps({k: v for k, v in t.items() if k not in ("id", "details")}, sort_keys=True)
            for t in state["transitions"]
        ),
        "notices": sorted(n["key"] for n in state["notices"]),
    }


@pytest.mark.parametrize(
    "failing",
    [(1, 2), (6,)],
    ids=["the first two writes", "the last batch's write, when nothing else is left to claim"],
)
def test_a_batch_whose_write_lost_a_race_is_claimed_again_and_written_once(
    apps: tuple[App, App], failing: tuple[int, ...]
) -> None:
    clean, racing = apps
    late = at("2025-10-20T09:00:00")
    expected = sweep(clean.engine, clean.rules, late, batch_size=BATCH, pipelined=True)
    _fail_transition_writes(racing, failing, "40001")  # a serialization failure: those writes lose a race
    report = sweep(racing.engine, racing.rules, late, batch_size=BATCH, pipelined=True)
    assert (report.examined, report.supervisions, report.elevations, report.notices) == (
        expected.examined,
        expected.supervisions,
        expected.elevations,
        expected.notices,
    )
    with racing.engine.connect() as conn:  # the two failures did happen, and writes went on after them
        assert conn.execute(text("SELECT last_value FROM failing_writes")).scalar_one() > max(failing)
    state = _state(racing, "2025-10-20T09:00:00")
    assert _outcome(state) == _outcome(_state(clean, "2025-10-20T09:00:00"))
    steps = Counter((t["hazard"], t["action"]) for t in state["transitions"] if t["recorded_at"] == late.isoformat())
    assert set(steps.values()) == {1}  # no step written twice
    assert _swept(state, late) == {h["id"] for h in state["hazards"]}  # and no hazard left out
    numbers = [n["number"] for n in state["notices"]]
    assert len(numbers) == len(set(numbers))  # no document number taken twice by a batch that was done again


def test_a_write_that_fails_for_good_stops_the_sweep_with_the_error_and_keeps_what_committed(
    apps: tuple[App, App],
) -> None:
    _, broken = apps
    _fail_transition_writes(broken, tuple(range(1, 100)), "P0001")  # not a race: retrying cannot help
    with pytest.raises(Exception, match="injected failure"):
        sweep(broken.engine, broken.rules, at("2025-10-20T09:00:00"), batch_size=BATCH, pipelined=True)
    state = _state(broken, "2025-10-20T09:00:00")
    assert not [t for t in state["transitions"] if t["action"] == "supervised"]
    assert all(h["level"] == "none" for h in state["hazards"])
