"""The listing mark: a sweep skips the township figures when nothing they depend on can have changed since the
last evaluation, and evaluates (and lists) as soon as something has — a transition, the clock passing a
deadline, a hazard leaving the clearance window, new thresholds, a writer that was still in flight. Real SQLite
files and the real PostgreSQL server; every sweep is the real one."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, select

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.models.core.rules import Rules
from hazardloop.models.store import listing
from hazardloop.models.store.db import make_engine, unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.sweep import SweepReport, sweep
from hazardloop.models.store.tables import HazardRow, ListingMarkRow, ListingRow, TransitionRow
from tests.support.factories import FIRE_UNIT, TOWNSHIP, TOWNSHIP_CODE, detected, full_loop
from tests.support.factories import event as hazard_event
from tests.support.fixtures import CONFIG_DIR, Cli, initialised_cli

KQ, KQ_TOWNSHIP, KQ_COUNTY = "SX-KQ-KQ", "柯桥街道", "SX-KQ"  # field 'other': the township answers itself


def at(text: str) -> datetime:
    return datetime.fromisoformat(text if "+" in text else text + "+08:00")


def apply(app: App, events: list[dict[str, Any]], now: str) -> None:
    lines = [(i + 1, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(events)]
    report = apply_lines(app.engine, app.rules, lines, source="test", now=at(now))
    assert not report.rejected


def run(app: App, now: str, rules: Rules | None = None) -> SweepReport:
    return sweep(app.engine, rules or app.rules, at(now))


def mark(app: App) -> Any:
    t = ListingMarkRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        return conn.execute(select(t).where(t.c.name == listing.MARK)).one_or_none()


def active_listings(app: App) -> dict[str, Any]:
    with unit_of_work(app.engine, write=False) as conn:
        return listing.active_listings(conn)


def transition_count(app: App) -> int:
    with unit_of_work(app.engine, write=False) as conn:
        return len(conn.execute(select(TransitionRow.__table__.c.id)).all())


def with_listing(rules: Rules, **thresholds: object) -> Rules:
    """The same rules under other listing thresholds."""
    policy = rules.policy.model_copy(update={"listing": rules.policy.listing.model_copy(update=thresholds)})
    return Rules.build(policy, rules.tree)


def kq_hazards(refs: list[str], day: str) -> list[dict[str, Any]]:
    """Hazards in 柯桥街道 detected and acknowledged on ``day``: 7 working days to rectify."""
    events: list[dict[str, Any]] = []
    for ref in refs:
        events += [
            detected(ref, f"{day}T08:00:00+08:00", field="other", township=KQ_TOWNSHIP, actor=KQ_COUNTY),
            hazard_event("hazard.acknowledged", ref, f"{day}T09:00:00+08:00", KQ),
        ]
    return events


def due_at(app: App, ref: str) -> str:
    h = HazardRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        value = conn.execute(select(h.c.due_at).where(h.c.ref == ref)).scalar_one()
    return value.astimezone(app.policy.tz).isoformat()


def test_a_sweep_with_nothing_new_does_not_evaluate_the_figures_again(app: App) -> None:
    apply(app, kq_hazards([f"IDLE-{i}" for i in range(3)], "2025-03-03"), "2025-03-03T10:00:00")
    first = run(app, "2025-03-03T12:00:00")
    assert first.figures_evaluated
    evaluated = mark(app)
    assert evaluated.evaluated_at == at("2025-03-03T12:00:00")
    written = transition_count(app)

    # the same instant, then the scheduler's next ticks: no transition, no deadline passed
    for tick in ("2025-03-03T12:00:00", "2025-03-03T12:15:00", "2025-03-03T12:30:00", "2025-03-04T00:00:00"):
        again = run(app, tick)
        assert not again.figures_evaluated, tick
        assert (again.examined, again.notices, again.listed, again.delist_proposed) == (0, 0, [], [])
    assert mark(app) == evaluated  # not even rewritten
    assert transition_count(app) == written


def test_a_transition_makes_the_next_sweep_evaluate_and_list(app: App) -> None:
    refs = [f"TR-{i}" for i in range(11)]
    apply(app, kq_hazards(refs, "2025-03-03"), "2025-03-03T10:00:00")
    # one of the eleven is handed in for verification before its deadline: its clock stops
    apply(
        app,
        [hazard_event("rectification.submitted", "TR-0", "2025-03-10T10:00:00+08:00", KQ, note="已整改", evidence=[])],
        "2025-03-10T11:00:00",
    )
    assert due_at(app, "TR-1") == "2025-03-12T23:59:59+08:00"
    now = "2025-03-13T09:00:00"
    first = run(app, now)
    assert first.figures_evaluated and first.supervisions == 10 and first.listed == []  # 10 is not more than 10
    assert not run(app, now).figures_evaluated

    # the verifier sends it back at the same instant: eleven overdue, and only a transition tells the sweep
    apply(app, [hazard_event("verification.failed", "TR-0", f"{now}+08:00", KQ_COUNTY, reason="整改不到位")], now)
    after = run(app, now)
    assert after.figures_evaluated
    assert after.listed == [KQ]
    assert active_listings(app)[KQ].figures["overdue"] == 11
    assert mark(app).evaluated_at == at(now)


def test_the_clock_passing_a_deadline_makes_the_sweep_evaluate_and_list(app: App) -> None:
    apply(app, kq_hazards([f"CLK-{i}" for i in range(10)], "2025-03-03"), "2025-03-03T10:00:00")
    apply(app, kq_hazards(["CLK-LAST"], "2025-03-04"), "2025-03-04T10:00:00")
    assert due_at(app, "CLK-0") == "2025-03-12T23:59:59+08:00"
    assert due_at(app, "CLK-LAST") == "2025-03-13T23:59:59+08:00"
    first = run(app, "2025-03-13T09:00:00")  # ten supervised, CLK-LAST reminded
    assert first.figures_evaluated and first.supervisions == 10 and first.reminders == 1 and first.listed == []

    # CLK-LAST's next rung (supervision) is at 03-14 00:00:00, so these sweeps write nothing: only the clock moves
    before = run(app, "2025-03-13T23:59:58.900000")
    assert not before.figures_evaluated and before.examined == 0
    crossed = run(app, "2025-03-13T23:59:59.500000")  # past the deadline, not yet at the supervision rung
    assert crossed.examined == 0 and crossed.supervisions == 0
    assert crossed.figures_evaluated
    assert crossed.listed == [KQ]
    assert active_listings(app)[KQ].figures["overdue"] == 11


def test_a_hazard_leaving_the_clearance_window_makes_the_sweep_evaluate_and_list(app: App) -> None:
    # 25 hazards fall due in the window, 15 of them cleared: a rate of exactly 60 %, not below the policy's 60 %.
    # The earliest (due 03-12) is cleared; when it leaves the 30-day window, 14 of 24 remain: 58 %.
    events = full_loop("WIN-EARLY", day="2025-03-03")
    for i in range(14):
        events += full_loop(f"WIN-C{i}", day="2025-03-10")
    for i in range(10):
        ref = f"WIN-S{i}"
        events += [
            detected(ref, "2025-03-10T08:00:00+08:00"),
            hazard_event("hazard.acknowledged", ref, "2025-03-10T09:00:00+08:00", FIRE_UNIT),
            hazard_event(
                "rectification.submitted", ref, "2025-03-10T10:00:00+08:00", FIRE_UNIT, note="已整改", evidence=[]
            ),
        ]
    apply(app, events, "2025-03-10T16:00:00")
    assert due_at(app, "WIN-EARLY") == "2025-03-12T23:59:59+08:00"
    assert due_at(app, "WIN-C0") == due_at(app, "WIN-S0") == "2025-03-19T23:59:59+08:00"

    first = run(app, "2025-04-01T09:00:00")
    assert first.figures_evaluated and first.listed == []
    # 03-12 09:00 is the window's start: WIN-EARLY is still in it
    assert not run(app, "2025-04-11T09:00:00").figures_evaluated
    left = run(app, "2025-04-12T12:00:00")  # the window starts 03-13 12:00: WIN-EARLY is out
    assert left.examined == 0
    assert left.figures_evaluated
    assert left.listed == [TOWNSHIP_CODE]
    figures = active_listings(app)[TOWNSHIP_CODE].figures
    assert (figures["due_in_window"], figures["clearance_rate"]) == (24, round(14 / 24, 4))


def test_new_listing_thresholds_make_the_sweep_evaluate_and_list(app: App) -> None:
    apply(app, kq_hazards([f"POL-{i}" for i in range(6)], "2025-03-03"), "2025-03-03T10:00:00")
    now = "2025-03-13T09:00:00"
    assert run(app, now).listed == []  # six overdue, the policy allows ten
    assert not run(app, now).figures_evaluated

    stricter = with_listing(app.rules, max_overdue=5)
    after = run(app, now, stricter)
    assert after.figures_evaluated
    assert after.listed == [KQ]
    assert not run(app, now, stricter).figures_evaluated
    # and back to the policy file: evaluated again (the township stays listed until a supervisor delists it)
    assert run(app, now).figures_evaluated


def test_a_sweep_as_of_an_earlier_instant_always_evaluates(app: App) -> None:
    apply(app, kq_hazards([f"EARLY-{i}" for i in range(11)], "2025-03-03"), "2025-03-03T10:00:00")
    assert run(app, "2025-03-03T12:00:00").figures_evaluated
    assert run(app, "2025-03-03T11:00:00").figures_evaluated
    assert mark(app).evaluated_at == at("2025-03-03T11:00:00")
    assert not run(app, "2025-03-03T11:30:00").figures_evaluated
    # from an hour that lies before the deadline the sweep cannot carry the mark past it
    assert run(app, "2025-03-13T00:00:00").listed == [KQ]


def test_a_delisted_township_that_still_breaks_the_policy_is_listed_again(app: App) -> None:
    apply(app, kq_hazards([f"DEL-{i}" for i in range(11)], "2025-03-03"), "2025-03-03T10:00:00")
    now = "2025-03-13T09:00:00"
    assert run(app, now).listed == [KQ]
    assert not run(app, now).figures_evaluated
    delisting = {
        "type": "township.delisted",
        "event_id": "delist-kq-1",
        "at": f"{now}+08:00",
        "actor": "SX/市平安办",
        "township": KQ_TOWNSHIP,
        "reason": "误挂",
        "force": True,  # its problems are all still open: only a forced delisting passes
    }
    apply(app, [delisting], now)
    assert KQ not in active_listings(app)
    again = run(app, now)
    assert again.figures_evaluated and again.listed == [KQ]


def test_forgetting_the_evaluation_makes_the_next_sweep_evaluate(app: App) -> None:
    apply(app, kq_hazards(["FGT-0"], "2025-03-03"), "2025-03-03T10:00:00")
    assert run(app, "2025-03-03T12:00:00").figures_evaluated
    assert not run(app, "2025-03-03T12:00:00").figures_evaluated
    with unit_of_work(app.engine) as conn:
        listing.forget_evaluation(conn)
    assert mark(app) is None
    assert run(app, "2025-03-03T12:00:00").figures_evaluated


def test_recomputed_deadlines_make_the_next_sweep_evaluate(app: App) -> None:
    """`recompute-deadlines` moves deadlines without a transition: it must forget the mark when it moves one."""
    from sqlalchemy import update

    from hazardloop.models.store.deadlines import recompute_provisional

    apply(app, kq_hazards(["RCP-0"], "2025-03-03"), "2025-03-03T10:00:00")
    assert run(app, "2025-03-03T12:00:00").figures_evaluated
    assert not run(app, "2025-03-03T12:00:00").figures_evaluated
    h = HazardRow.__table__
    # as a newer holiday calendar would: the stored working-day count no longer gives the stored deadline
    with unit_of_work(app.engine) as conn:
        conn.execute(update(h).where(h.c.ref == "RCP-0").values(deadline_provisional=True, deadline_days=3))
    assert not run(app, "2025-03-03T12:00:00").figures_evaluated  # the direct write above is not a transition
    assert recompute_provisional(app.engine, app.rules, at("2025-03-03T12:00:00"))["changed"] == 1
    assert mark(app) is None
    assert run(app, "2025-03-03T12:00:00").figures_evaluated
    # nothing moved: the mark stays
    assert recompute_provisional(app.engine, app.rules, at("2025-03-03T12:00:00"))["changed"] == 0
    assert not run(app, "2025-03-03T12:00:00").figures_evaluated


def test_the_sweep_command_reports_whether_it_evaluated(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli: Cli = initialised_cli(sqlite_url, tmp_path, monkeypatch)
    now = "2025-03-13T09:00:00+08:00"
    assert json.loads(cli.ok("sweep", "--json", now=now).stdout)["figures_evaluated"] is True
    assert json.loads(cli.ok("sweep", "--json", now=now).stdout)["figures_evaluated"] is False


@pytest.mark.postgres
def test_a_writer_in_flight_during_the_evaluation_is_caught_once_it_commits(pg_url: str) -> None:
    """On PostgreSQL transition ids are handed out before commit: a writer can hold a lower id than one that
    committed first. Its change was invisible to the evaluation, and the highest id alone cannot tell."""
    application = bootstrap(db=pg_url, config_dir=CONFIG_DIR)
    upgrade(application.engine)
    sync_units(application.engine, application.org)
    refs = [f"FLY-{i}" for i in range(11)]
    events: list[dict[str, Any]] = []
    for ref in refs:
        events += [
            detected(ref, "2025-03-03T08:00:00+08:00"),
            hazard_event("hazard.acknowledged", ref, "2025-03-03T09:00:00+08:00", FIRE_UNIT),
        ]
    apply(application, events, "2025-03-03T10:00:00")
    lenient = with_listing(application.rules, max_overdue=100)
    assert run(application, "2025-03-13T01:00:00", lenient).supervisions == 11
    apply(
        application,
        [
            hazard_event(
                "rectification.submitted", "FLY-0", "2025-03-13T08:00:00+08:00", FIRE_UNIT, note="已整改", evidence=[]
            )
        ],
        "2025-03-13T08:00:00",
    )
    now = "2025-03-13T10:10:00"
    assert run(application, now).listed == []  # ten overdue under the policy's limit of ten

    # The verifier's return of FLY-0 is written and then held just before its commit.
    holder = make_engine(pg_url)
    with holder.connect():
        pass  # connect before the hold is installed
    reached, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    @event.listens_for(holder, "commit")
    def _hold(conn: Connection) -> None:
        reached.set()
        release.wait(60)

    returned = hazard_event("verification.failed", "FLY-0", "2025-03-13T10:00:00+08:00", TOWNSHIP_CODE, reason="不到位")

    def writer() -> None:
        try:
            lines = [(1, json.dumps(returned, ensure_ascii=False))]
            apply_lines(holder, application.rules, lines, source="held", now=at("2025-03-13T10:00:00"))
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert reached.wait(60), "the held writer never reached its commit"
        # meanwhile another writer commits, taking higher transition ids
        apply(application, [detected("FLY-OTHER", "2025-03-13T10:05:00+08:00", township="塔山街道")], now)
        during = run(application, now)
        assert during.figures_evaluated and during.listed == []  # FLY-0's return is not visible yet
        assert len(mark(application).in_flight) == 1
        assert not run(application, now).figures_evaluated  # still in flight: nothing visible has changed
    finally:
        release.set()
        thread.join(60)
        holder.dispose()
    assert not failures, failures

    with unit_of_work(application.engine, write=False) as conn:
        held_id, held_xmin = conn.exec_driver_sql(
            "SELECT id, CAST(xmin AS text) FROM transitions WHERE action = 'verification.failed'"
        ).one()
    evaluated = mark(application)
    assert held_id < evaluated.transition_id  # below the mark's id: the highest id alone would miss it
    assert int(evaluated.in_flight[0]) % 2**32 == int(held_xmin)

    after = run(application, now)
    assert after.examined == 0  # FLY-0 was supervised before it was handed in: no rung is due, no transition
    assert after.figures_evaluated
    assert after.listed == [TOWNSHIP_CODE]
    with unit_of_work(application.engine, write=False) as conn:
        row = conn.execute(select(ListingRow.__table__).where(ListingRow.__table__.c.township_code == TOWNSHIP_CODE))
        assert row.one().figures["overdue"] == 11
    application.close()


def test_whenever_a_sweep_skips_the_figures_they_are_what_an_evaluation_would_find(app: App) -> None:
    """Sweeps across six weeks — every twelve hours, and at each deadline, each moment a deadline leaves the
    window, and half a second after each (before the supervision rung writes anything): whenever a sweep skips,
    the figures as of its instant equal those as of the mark's."""
    days = ["2025-03-03", "2025-03-04", "2025-03-06", "2025-03-10", "2025-03-12", "2025-03-17"]
    events: list[dict[str, Any]] = []
    for n, day in enumerate(days):
        for i in range(4):
            ref = f"PROP-{n}-{i}"
            if i == 0:
                events += full_loop(ref, day=day)  # cleared the same day
            else:
                township, actor = ((TOWNSHIP, "SX-YC-FS"), (KQ_TOWNSHIP, KQ_COUNTY))[i % 2]
                events.append(detected(ref, f"{day}T08:00:00+08:00", field="other", township=township, actor=actor))
    apply(app, events, "2025-03-17T18:00:00")
    h = HazardRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        deadlines = {r[0] for r in conn.execute(select(h.c.due_at).where(h.c.due_at.is_not(None)))}
    window = timedelta(days=app.policy.listing.window_days)
    half = timedelta(milliseconds=500)
    instants = {at("2025-03-17T18:00:00") + timedelta(hours=12 * k) for k in range(84)}
    for due in deadlines:
        instants |= {due, due + half, due + window, due + window + half}
    skipped = evaluated = 0
    for now in sorted(instants):
        report = sweep(app.engine, app.rules, now)
        if report.figures_evaluated:
            evaluated += 1
            continue
        skipped += 1
        since = mark(app).evaluated_at
        with unit_of_work(app.engine, write=False) as conn:
            then, current = (listing.township_figures(conn, app.rules, t) for t in (since, now))
        assert current == then, f"skipped at {now.isoformat()} though the figures changed since {since.isoformat()}"
    assert skipped > 20 and evaluated > 20, (skipped, evaluated)
