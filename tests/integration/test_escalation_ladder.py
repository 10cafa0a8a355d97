"""The escalation ladder across real holidays (国庆 2025, 春节 2026), driven only by sweeps at hourly steps:
the exact instant of every reminder, supervision and elevation; township listing and the delisting proposal;
idempotent and interruptible sweeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.queries import export_state
from hazardloop.models.store.sweep import sweep
from hazardloop.models.store.tables import ListingRow, TransitionRow
from tests.support.factories import FIRE_UNIT, TOWNSHIP_CODE, at, detected, event
from tests.support.fixtures import CONFIG_DIR, ready_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    with ready_app(f"sqlite:///{tmp_path / 'ladder.db'}") as application:
        yield application


def apply(app: App, events: list[dict[str, Any]], now: str) -> None:
    lines = [(i + 1, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(events)]
    report = apply_lines(app.engine, app.rules, lines, source="test", now=at(now))
    assert not report.rejected


def sweep_hourly(app: App, start: str, end: str) -> None:
    now, stop = at(start), at(end)
    while now <= stop:
        sweep(app.engine, app.rules, now)
        now += timedelta(hours=1)


def ladder(app: App, ref: str) -> list[tuple[str, str, str | None]]:
    """(action, local instant, level) of every automatic step of one hazard."""
    t = TransitionRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        from hazardloop.models.store.queries import find_hazard

        hid = find_hazard(conn, ref).id
        rows = conn.execute(
            select(t)
            .where(t.c.hazard_id == hid, t.c.actor == "system", t.c.action.in_(["reminded", "supervised", "elevated"]))
            .order_by(t.c.id)
        )
        return [(r.action, r.at.astimezone(app.policy.tz).isoformat(), r.level) for r in rows]


def test_general_hazard_across_national_day_climbs_the_ladder_at_hand_counted_instants(app: App) -> None:
    # Fri 2025-09-26; 7 working days: 09-28 (Sun, make-up), 09-29, 09-30, 10-09, 10-10, 10-11 (Sat, make-up), 10-13.
    apply(app, [detected("GEN-1", "2025-09-26T10:00:00+08:00")], "2025-09-26T11:00:00")
    sweep_hourly(app, "2025-09-26T12:00:00", "2025-10-29T00:00:00")
    assert ladder(app, "GEN-1") == [
        # not acknowledged by the end of the first working day after assignment (Sun 09-28, a make-up day)
        ("reminded", "2025-09-29T00:00:00+08:00", None),
        # one working day before the deadline: the start of Sat 10-11 (a make-up day), not Sunday's midnight
        ("reminded", "2025-10-11T00:00:00+08:00", None),
        ("supervised", "2025-10-14T00:00:00+08:00", None),
        # 3 working days overdue: 10-14, 10-15, 10-16
        ("elevated", "2025-10-17T00:00:00+08:00", "county"),
        # 10 working days overdue: 10-14 … 10-17, 10-20 … 10-24, 10-27
        ("elevated", "2025-10-28T00:00:00+08:00", "city"),
    ]


def test_overdue_major_hazard_goes_straight_to_county_then_city(app: App) -> None:
    # 20 working days from Fri 2025-09-26 end on Thu 2025-10-30.
    apply(
        app,
        [
            detected("MAJ-1", "2025-09-26T10:00:00+08:00", severity="major"),
            event("hazard.acknowledged", "MAJ-1", "2025-09-26T11:00:00+08:00", FIRE_UNIT),
        ],
        "2025-09-26T12:00:00",
    )
    sweep_hourly(app, "2025-10-29T00:00:00", "2025-11-15T00:00:00")
    assert ladder(app, "MAJ-1") == [
        ("reminded", "2025-10-29T00:00:00+08:00", None),  # Wed, the working day before Thu's deadline
        ("supervised", "2025-10-31T00:00:00+08:00", None),
        ("elevated", "2025-10-31T00:00:00+08:00", "county"),
        ("elevated", "2025-11-14T00:00:00+08:00", "city"),
    ]


def test_spring_festival_2026_pushes_the_deadline_past_the_holiday(app: App) -> None:
    # Thu 2026-02-12 + 7 working days: 02-13, Sat 02-14 (make-up), 02-24 … 02-27, Sat 02-28 (make-up).
    apply(
        app,
        [
            detected("SF-1", "2026-02-12T09:00:00+08:00"),
            event("hazard.acknowledged", "SF-1", "2026-02-12T10:00:00+08:00", FIRE_UNIT),
        ],
        "2026-02-12T12:00:00",
    )
    sweep_hourly(app, "2026-02-12T12:00:00", "2026-03-02T00:00:00")
    assert ladder(app, "SF-1") == [
        ("reminded", "2026-02-27T00:00:00+08:00", None),  # Fri 02-27, the working day before Sat 02-28
        ("supervised", "2026-03-01T00:00:00+08:00", None),
    ]


def test_an_approved_extension_sets_a_new_deadline_and_a_new_reminder(app: App) -> None:
    apply(
        app,
        [
            detected("EXT-1", "2025-09-26T10:00:00+08:00"),
            event("hazard.acknowledged", "EXT-1", "2025-09-26T11:00:00+08:00", FIRE_UNIT),
        ],
        "2025-09-26T12:00:00",
    )
    sweep_hourly(app, "2025-09-26T12:00:00", "2025-10-12T12:00:00")  # first reminder fired at 10-11 00:00
    apply(
        app,
        [
            event("extension.requested", "EXT-1", "2025-10-12T13:00:00+08:00", FIRE_UNIT, days=3, reason="需采购"),
            event(
                "extension.decided", "EXT-1", "2025-10-12T14:00:00+08:00", TOWNSHIP_CODE, approved=True, reason="同意"
            ),
        ],
        "2025-10-12T15:00:00",
    )
    sweep_hourly(app, "2025-10-12T15:00:00", "2025-10-18T00:00:00")
    # new deadline: 10-13 + 3 working days = Thu 10-16, reminded on Wed 10-15
    assert ladder(app, "EXT-1") == [
        ("reminded", "2025-10-11T00:00:00+08:00", None),
        ("reminded", "2025-10-15T00:00:00+08:00", None),
        ("supervised", "2025-10-17T00:00:00+08:00", None),
    ]


def test_a_township_that_goes_bad_is_listed_once_and_proposed_for_delisting_when_it_recovers(app: App) -> None:
    refs = [f"BAD-{i}" for i in range(12)]
    # field 'other' has no department: 柯桥街道 itself is responsible, and it does nothing
    apply(
        app,
        [detected(r, "2025-09-26T10:00:00+08:00", field="other", township="柯桥街道", actor="SX-KQ") for r in refs],
        "2025-09-26T12:00:00",
    )
    sweep_hourly(app, "2025-10-13T20:00:00", "2025-10-14T03:00:00")
    lt = ListingRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        listings = list(conn.execute(select(lt)))
    assert len(listings) == 1
    listing = listings[0]
    assert listing.township_code == "SX-KQ-KQ"
    assert listing.listed_at.astimezone(app.policy.tz).isoformat() == "2025-10-14T00:00:00+08:00"
    assert listing.figures["overdue"] == 12 and len(listing.problem_hazards) == 12
    assert listing.delist_proposed_at is None
    # the township clears everything; the next sweep proposes delisting, but only a supervisor delists
    events = []
    for r in refs:
        events += [
            event("hazard.acknowledged", r, "2025-10-20T09:00:00+08:00", "SX-KQ-KQ"),
            event("rectification.submitted", r, "2025-10-20T10:00:00+08:00", "SX-KQ-KQ", note="已整改", evidence=[]),
            event("verification.passed", r, "2025-10-20T15:00:00+08:00", "SX-KQ", note="合格"),
        ]
    apply(app, events, "2025-10-20T16:00:00")
    sweep(app.engine, app.rules, at("2025-10-20T17:00:00"))
    with unit_of_work(app.engine, write=False) as conn:
        listing = conn.execute(select(lt)).one()
    assert listing.delisted_at is None
    assert listing.delist_proposed_at.astimezone(app.policy.tz).isoformat() == "2025-10-20T17:00:00+08:00"


def test_every_sweep_run_twice_at_the_same_instant_changes_nothing_the_second_time(app: App) -> None:
    apply(
        app,
        [
            detected(
                f"TW-{i}",
                "2025-09-26T10:00:00+08:00",
                severity="major" if i % 3 == 0 else "general",
                field="other" if i % 2 else "fire",
            )
            for i in range(30)
        ],
        "2025-09-26T12:00:00",
    )
    for instant in ("2025-09-29T09:00:00", "2025-10-12T09:00:00", "2025-10-14T09:00:00", "2025-11-20T09:00:00"):
        sweep(app.engine, app.rules, at(instant))
        with unit_of_work(app.engine, write=False) as conn:
            before = export_state(conn, app.rules, at(instant))
        second = sweep(app.engine, app.rules, at(instant))
        assert (second.reminders, second.supervisions, second.elevations, second.listed) == (0, 0, 0, [])
        with unit_of_work(app.engine, write=False) as conn:
            assert export_state(conn, app.rules, at(instant)) == before


def test_a_sweep_killed_half_way_then_rerun_ends_as_one_clean_run(tmp_path: Path) -> None:
    events = [detected(f"KILL-{i}", "2025-09-26T10:00:00+08:00") for i in range(40)]

    def build(name: str) -> App:
        application = bootstrap(db=f"sqlite:///{tmp_path / name}", config_dir=CONFIG_DIR)
        upgrade(application.engine)
        sync_units(application.engine, application.org)
        apply(application, events, "2025-09-26T12:00:00")
        return application

    late = at("2025-10-20T09:00:00")
    clean, broken = build("clean.db"), build("broken.db")
    sweep(clean.engine, clean.rules, late, batch_size=7)
    with pytest.raises(RuntimeError, match="injected fault"):
        sweep(broken.engine, broken.rules, late, batch_size=7, fault_after_batches=2)
    with unit_of_work(broken.engine, write=False) as conn:
        partial = export_state(conn, broken.rules, late)
    assert 0 < sum(t["action"] == "supervised" for t in partial["transitions"]) < 40
    sweep(broken.engine, broken.rules, late, batch_size=7)
    with unit_of_work(clean.engine, write=False) as c1, unit_of_work(broken.engine, write=False) as c2:
        assert export_state(c2, broken.rules, late) == export_state(c1, clean.rules, late)
    clean.close()
    broken.close()


def test_a_sweep_with_nothing_due_reads_nothing(app: App) -> None:
    apply(app, [detected("ND-1", "2025-09-26T10:00:00+08:00")], "2025-09-26T12:00:00")
    report = sweep(app.engine, app.rules, at("2025-09-26T13:00:00"))
    assert report.examined == 0 and report.notices == 0
