"""Properties of the lifecycle: what any file of contract events (plausible or not) can do to the stored
hazards (the table check itself is in tests/unit/test_lifecycle_table_check.py). In-process on SQLite: each
example gets a fresh copy of a prepared database file."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.models.core.errors import Rejections
from hazardloop.models.core.events import EVENT_TYPES
from hazardloop.models.core.lifecycle import INITIAL, TABLE, State, next_state
from hazardloop.models.core.policy import LEVEL_RANK
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.intake import ApplyReport, apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.queries import export_state, show_hazard
from hazardloop.models.store.sweep import sweep
from tests.support.factories import COUNTY_CODE, FIRE_UNIT, TOWNSHIP, TOWNSHIP_CODE
from tests.support.fixtures import CONFIG_DIR

NOW = datetime.fromisoformat("2025-06-30T12:00:00+08:00")
START = datetime.fromisoformat("2025-03-03T08:00:00+08:00")
SWEEP_ACTIONS = {"reminded", "supervised", "elevated"}  # the sweep's rows; the table calls them "swept"
LEVEL_ACTIONS = {"elevated", "hazard.escalated"}
TOWNSHIP_ACTIONS = {"township.listed", "township.delisted"}

DB_EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# --- generated event files ------------------------------------------------------------------------------

REFS = ["H-1", "H-2", "H-3"]
HAZARD_KEYS = [*REFS, *REFS, "HZ-2025-000001", "NO-SUCH-HAZARD"]
RESPONSIBLE = [FIRE_UNIT, TOWNSHIP_CODE, "SX-YC-JSJ"]  # fire, other and gas in 府山街道
SUPERVISORS = [TOWNSHIP_CODE, COUNTY_CODE, "SX", f"{COUNTY_CODE}/赵六"]
STRANGERS = ["SX-KQ", "SX-KQ-KQ", "SX-YC-FS-CQ", "NO-SUCH-UNIT", "system", "SX-KQ-XF"]
PLAUSIBLE_ACTORS = {
    "hazard.detected": [f"{TOWNSHIP_CODE}/网格员", "热心群众"],
    "hazard.assigned": SUPERVISORS,
    "hazard.acknowledged": RESPONSIBLE,
    "hazard.reassigned": SUPERVISORS,
    "extension.requested": RESPONSIBLE,
    "extension.decided": SUPERVISORS,
    "rectification.submitted": RESPONSIBLE,
    "verification.passed": SUPERVISORS + RESPONSIBLE,
    "verification.failed": SUPERVISORS + RESPONSIBLE,
    "hazard.invalidated": SUPERVISORS,
    "hazard.escalated": SUPERVISORS,
    "township.listed": [COUNTY_CODE, "SX", TOWNSHIP_CODE],
    "township.delisted": [COUNTY_CODE, "SX", TOWNSHIP_CODE],
}
# Events that move a hazard forward come up more often, so that generated files reach every state.
EVENT_MIX = [
    *EVENT_TYPES,
    *["hazard.detected"] * 3,
    *["hazard.acknowledged"] * 3,
    *["rectification.submitted"] * 3,
    *["verification.passed", "verification.failed"] * 2,
]
UNITS = ["SX-YC-JSJ", FIRE_UNIT, TOWNSHIP_CODE, "SX-YC-FS-CQ", "NO-SUCH-UNIT"]


def _fields(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    text = st.sampled_from(["已整改", "整改不到位", "设备未到", "群众反映强烈"])
    if kind == "hazard.detected":
        return {
            "hazard": {
                "ref": draw(st.sampled_from(REFS)),
                "title": "生成的隐患",
                "description": "属性测试生成的隐患",
                "field": draw(st.sampled_from(["fire", "fire", "other", "gas", "volcanoes"])),
                "severity": draw(st.sampled_from(["general", "major"])),
                "township": draw(st.sampled_from([TOWNSHIP, TOWNSHIP, TOWNSHIP_CODE, "塔山街道", "柯桥街道"])),
            }
        }
    if kind.startswith("township."):
        return {"township": draw(st.sampled_from([TOWNSHIP, "塔山街道"])), "reason": draw(text)}
    more: dict[str, Any] = {"hazard": draw(st.sampled_from(HAZARD_KEYS))}
    if kind in ("hazard.assigned", "hazard.reassigned"):
        more["unit"] = draw(st.sampled_from(UNITS))
    if kind in ("hazard.reassigned", "extension.requested", "extension.decided", "verification.failed",
                "hazard.invalidated"):  # fmt: skip
        more["reason"] = draw(text)
    if kind == "extension.requested":
        more["days"] = draw(st.integers(1, 40))
    if kind == "extension.decided":
        more["approved"] = draw(st.booleans())
    if kind in ("rectification.submitted", "verification.passed"):
        more["note"] = draw(text)
    if kind == "rectification.submitted":
        more["evidence"] = draw(st.lists(st.sampled_from(["a.jpg", "b.pdf"]), max_size=2))
    if kind == "hazard.escalated":
        more["to"] = draw(st.sampled_from(["township", "county", "city"]))
        more["reason"] = draw(text)
    return more


RESPONSIBLE_FOR = {"fire": FIRE_UNIT, "other": TOWNSHIP_CODE, "gas": "SX-YC-JSJ"}  # routing in 府山街道
VERIFIER_FOR = {"fire": TOWNSHIP_CODE, "other": COUNTY_CODE, "gas": TOWNSHIP_CODE}
MOVES = [
    *[("hazard.acknowledged", "responsible")] * 3,
    *[("rectification.submitted", "responsible")] * 3,
    *[("verification.passed", "verifier")] * 2,
    ("verification.failed", "verifier"),
    ("extension.requested", "responsible"),
    ("extension.decided", "verifier"),
    ("hazard.reassigned", TOWNSHIP_CODE),
    ("hazard.escalated", COUNTY_CODE),
    ("hazard.escalated", "SX"),
]  # invalidation, being final, comes with the noise only


NEXT_STEP = {  # the generator's guess of a hazard's next step, so that files reach every state
    "assigned": ["hazard.acknowledged"],
    "rectifying": ["rectification.submitted"],
    "pending_verification": ["verification.passed", "verification.failed"],
}
GUESSED_AFTER = {
    "hazard.acknowledged": "rectifying",
    "rectification.submitted": "pending_verification",
    "verification.passed": "cleared",
    "verification.failed": "rectifying",
}


@st.composite
def event_files(draw: st.DrawFn, max_lines: int = 30) -> list[tuple[int, str]]:
    """(line number, text) of a JSON Lines file in time order: the three hazards are detected first, then come
    mostly the next step of a hazard's life by the unit that would take it (guessed from its field, and not
    necessarily right), other moves, and noise: any event type by any actor, unknown hazards, now and then a
    line that is not JSON."""
    lines: list[tuple[int, str]] = []
    at = START
    fields = {ref: draw(st.sampled_from(sorted(RESPONSIBLE_FOR))) for ref in REFS}
    guess = dict.fromkeys(REFS, "assigned")

    def add(kind: str, actor: str, more: dict[str, Any]) -> None:
        body = {"type": kind, "event_id": f"gen-{len(lines) + 1}", "at": at.isoformat(), "actor": actor, **more}
        lines.append((len(lines) + 1, json.dumps(body, ensure_ascii=False)))

    for ref in REFS:
        detection = _fields(draw, "hazard.detected")
        detection["hazard"].update(ref=ref, field=fields[ref], township=TOWNSHIP)
        add("hazard.detected", f"{TOWNSHIP_CODE}/网格员", detection)
    for _ in range(draw(st.integers(0, max_lines))):
        at += timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
        roll = draw(st.integers(0, 29))
        ref = draw(st.sampled_from(REFS))
        if roll == 0:
            lines.append((len(lines) + 1, '{"type": "hazard.detected", '))
            continue
        if roll < 7:  # noise
            kind = draw(st.sampled_from(EVENT_MIX))
            add(kind, draw(st.sampled_from(PLAUSIBLE_ACTORS[kind] * 3 + STRANGERS)), _fields(draw, kind))
            continue
        if roll < 13 or guess[ref] not in NEXT_STEP:
            kind, who = draw(st.sampled_from(MOVES))
        else:
            kind = draw(st.sampled_from(NEXT_STEP[guess[ref]]))
            who = "verifier" if kind.startswith("verification.") else "responsible"
        guess[ref] = GUESSED_AFTER.get(kind, guess[ref])
        actor = {"responsible": RESPONSIBLE_FOR[fields[ref]], "verifier": VERIFIER_FOR[fields[ref]]}.get(who, who)
        add(kind, actor, {**_fields(draw, kind), "hazard": ref})
    return lines


# --- databases ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared database (schema + organisation), copied for every example."""
    path = tmp_path_factory.mktemp("template") / "hazardloop.db"
    app = bootstrap(db=f"sqlite:///{path}", config_dir=CONFIG_DIR, now=NOW)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    app.close()
    return path


@contextmanager
def fresh_app(template: Path) -> Iterator[App]:
    folder = Path(tempfile.mkdtemp(prefix="hz-prop-"))
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, folder / f"hazardloop.db{suffix}")
    app = bootstrap(db=f"sqlite:///{folder / 'hazardloop.db'}", config_dir=CONFIG_DIR, now=NOW)
    try:
        yield app
    finally:
        app.close()
        shutil.rmtree(folder, ignore_errors=True)


def apply_partial(app: App, lines: list[tuple[int, str]], now: datetime = NOW) -> ApplyReport:
    return apply_lines(app.engine, app.rules, lines, source="generated.jsonl", now=now, partial=True)


def export(app: App, now: datetime = NOW) -> dict[str, Any]:
    with unit_of_work(app.engine, write=False) as conn:
        return export_state(conn, app.rules, now)


def hazard_trails(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each hazard's transitions in the order they were recorded (the export lists them by id)."""
    trails: dict[str, list[dict[str, Any]]] = {h["id"]: [] for h in state["hazards"]}
    for t in state["transitions"]:
        if t["hazard"] is not None:
            trails[t["hazard"]].append(t)
    return trails


# --- (b) every stored state and transition is one the table allows ------------------------------------------


def assert_transition_allowed(t: dict[str, Any]) -> None:
    action, src, dst = t["action"], t["from"], t["to"]
    if action == "hazard.detected":
        assert (src, dst) == (None, INITIAL), t
    elif action in SWEEP_ACTIONS:
        assert ("swept", State(src)) in TABLE and dst == src, t
    else:
        assert (action, State(src)) in TABLE, f"{action} from {src} is not in the table: {t}"
        assert TABLE[(action, State(src))] == dst, t


@DB_EXAMPLES
@given(lines=event_files(), then_sweep=st.booleans())
def test_random_event_files_only_make_transitions_the_table_allows(
    template_db: Path, lines: list[tuple[int, str]], then_sweep: bool
) -> None:
    with fresh_app(template_db) as app:
        report = apply_partial(app, lines)
        if then_sweep:
            sweep(app.engine, app.rules, NOW)
        state = export(app)
    assert report.applied + report.duplicates + len({p.line for p in report.rejected}) == len(lines)
    allowed_states = {str(s) for s in State}
    trails = hazard_trails(state)
    for t in state["transitions"]:
        if t["hazard"] is None:
            assert t["action"] in TOWNSHIP_ACTIONS, t
        else:
            assert_transition_allowed(t)
    for h in state["hazards"]:
        assert h["state"] in allowed_states
        assert h["level"] in LEVEL_RANK
        failed = sum(t["action"] == "verification.failed" for t in trails[h["id"]])
        assert h["rework_count"] == failed, h["id"]


# --- (c) the audit trail replays to the stored hazard -------------------------------------------------------


def replay(trail: list[dict[str, Any]]) -> tuple[State, int, str]:
    """Rebuild (state, rework count, level) from a hazard's transitions through the lifecycle table."""
    state: State | None = None
    rework, level = 0, "none"
    for t in trail:
        if state is None:
            assert t["action"] == "hazard.detected" and t["from"] is None, t
            state = INITIAL
        else:
            assert t["from"] == state, f"the trail jumps from {state} to a row starting at {t['from']}: {t}"
            state = next_state(state, "swept" if t["action"] in SWEEP_ACTIONS else t["action"])
        assert t["to"] == state, t
        rework += t["action"] == "verification.failed"
        if t["action"] in LEVEL_ACTIONS:
            assert LEVEL_RANK[t["level"]] > LEVEL_RANK[level], f"supervision went from {level} to {t['level']}"
            level = t["level"]
    assert state is not None, "a hazard without its detection row"
    return state, rework, level


@DB_EXAMPLES
@given(lines=event_files(), split=st.floats(0, 1))
def test_replaying_the_audit_trail_reproduces_each_hazard(
    template_db: Path, lines: list[tuple[int, str]], split: float
) -> None:
    """Apply the file in two parts with a sweep after each (the sweep acts as of the last event applied)."""
    cut = int(len(lines) * split)
    first, second = lines[:cut], lines[cut:]
    with fresh_app(template_db) as app:
        if first:
            ats = [json.loads(text)["at"] for _n, text in first if text.endswith("}")]
            midway = max([datetime.fromisoformat(a) for a in ats], default=START)
            apply_partial(app, first, now=midway)
            sweep(app.engine, app.rules, midway)
        apply_partial(app, second)
        sweep(app.engine, app.rules, NOW)
        state = export(app)
    trails = hazard_trails(state)
    for h in state["hazards"]:
        assert replay(trails[h["id"]]) == (h["state"], h["rework_count"], h["level"]), h["id"]


def test_the_history_shown_in_time_order_reads_consistently_after_a_late_sweep(template_db: Path) -> None:
    """``show`` lists a hazard's history by time. Read in that order it must still chain (each row starts in
    the state the previous one left), also when the sweep runs late (the scheduler was down for a week) and
    the hazard was acknowledged after its deadline but before that sweep."""
    detected_at = "2025-03-03T08:00:00+08:00"  # due 2025-03-12, overdue from the 13th
    lines = [
        {"type": "hazard.detected", "event_id": "late-1", "at": detected_at, "actor": TOWNSHIP_CODE,
         "hazard": {"ref": "LATE-1", "title": "灭火器过期", "description": "灭火器过期", "field": "fire",
                    "severity": "general", "township": TOWNSHIP}},
        {"type": "hazard.acknowledged", "event_id": "late-2", "at": "2025-03-20T09:00:00+08:00",
         "actor": FIRE_UNIT, "hazard": "LATE-1"},
    ]  # fmt: skip
    acknowledged = datetime.fromisoformat("2025-03-20T10:00:00+08:00")
    swept = datetime.fromisoformat("2025-03-21T10:00:00+08:00")
    with fresh_app(template_db) as app:
        numbered = [(n, json.dumps(line, ensure_ascii=False)) for n, line in enumerate(lines, start=1)]
        apply_lines(app.engine, app.rules, numbered, source="late.jsonl", now=acknowledged)
        sweep(app.engine, app.rules, swept)
        with unit_of_work(app.engine, write=False) as conn:
            shown = show_hazard(conn, app.rules, swept, "LATE-1")
    history = [(t["at"][:16], t["action"], t["from"], t["to"]) for t in shown["history"]]
    assert {"supervised", "hazard.acknowledged"} <= {action for _at, action, _f, _t in history}
    assert replay(shown["history"]) == (shown["state"], shown["rework_count"], shown["level"]), history


# --- (d) applying a file again changes nothing ---------------------------------------------------------------


@DB_EXAMPLES
@given(lines=event_files())
def test_applying_a_file_twice_changes_nothing(template_db: Path, lines: list[tuple[int, str]]) -> None:
    with fresh_app(template_db) as partial_db:
        report = apply_partial(partial_db, lines)
        after_partial = export(partial_db)
    rejected = {p.line for p in report.rejected}
    good = [(n, text) for n, text in lines if n not in rejected]
    with fresh_app(template_db) as app:
        # the good lines alone go through all-or-nothing and land exactly where --partial did
        apply_lines(app.engine, app.rules, good, source="good.jsonl", now=NOW)
        once = export(app)
        assert once == after_partial
        again = apply_lines(app.engine, app.rules, good, source="good.jsonl", now=NOW)
        assert again.applied == 0 and again.duplicates == len(good)
        assert export(app) == once
    with fresh_app(template_db) as app:
        # the whole file, all-or-nothing, twice: it names the lines --partial rejected (and then writes nothing)
        # or it lands where --partial did; the second run changes nothing either way
        pristine = export(app)
        named, states = [], []
        for _ in range(2):
            try:
                apply_lines(app.engine, app.rules, lines, source="all.jsonl", now=NOW)
                named.append(set())
            except Rejections as exc:
                named.append({p.line for p in exc.problems})
            states.append(export(app))
        assert named == [rejected, rejected if rejected else set()]
        assert states[0] == (pristine if rejected else after_partial)
        assert states[1] == states[0]
