"""The outbox stores a notice's hazard snapshot without what the hazard row keeps for good (title, description,
…); a notice read back to be rendered gets the very context that was decided, key for key and in order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from hazardloop.models.core import notice_docs
from hazardloop.models.core.notice_docs import HAZARD_FIXED_PARTICULARS, compact_context, complete_context
from hazardloop.models.store import repository
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.outbox import complete_contexts
from hazardloop.models.store.sweep import sweep
from hazardloop.models.store.tables import NoticeRow
from hazardloop.notifications.dispatch import document_context
from tests.conftest import ready_app
from tests.factories import detected, full_loop

_N = NoticeRow.__table__
NOW = datetime.fromisoformat("2025-03-20T09:00:00+08:00")


def _events() -> list[dict[str, Any]]:
    events = full_loop("CP-1") + full_loop("CP-2", fail_once=True)
    # a hazard left open: the sweep reminds, supervises and escalates it (notices decided by the sweep)
    events.append(detected("CP-3", "2025-03-03T08:00:00+08:00", village="《村》<b>&", address='路1号 "东"'))
    return events


@pytest.fixture
def decided(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app whose outbox holds the loop's and a sweep's notices, and the contexts as ``draft_notice`` made them."""
    made: dict[str, dict[str, Any]] = {}

    def remembering(context: dict[str, Any]) -> dict[str, Any]:
        made[context["number"]] = json.loads(json.dumps(context))  # as JSON gives it back
        return compact_context(context)

    monkeypatch.setattr(repository, "compact_context", remembering)
    with ready_app(sqlite_url) as app:
        lines = [(i, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(_events(), start=1)]
        apply_lines(app.engine, app.rules, lines, source="test", now=NOW - timedelta(days=10))
        sweep(app.engine, app.rules, NOW)
        yield app, made


def test_a_notice_read_back_has_the_context_that_was_decided(decided: Any) -> None:
    app, made = decided
    with unit_of_work(app.engine, write=False) as conn:
        rows = complete_contexts(conn, list(conn.execute(select(_N).order_by(_N.c.id))))
    with_hazard = [r for r in rows if r.hazard_id]
    kinds = {r.kind for r in with_hazard}
    assert kinds >= {"assignment", "verification_request", "return", "clearance"} and len(kinds) > 4, kinds
    for row in with_hazard:
        assert row.context == made[row.number]
        assert list(row.context["hazard"]) == list(made[row.number]["hazard"])  # the same order, too
        assert document_context(row.context, app.rules) == document_context(made[row.number], app.rules)


def test_the_stored_snapshot_leaves_out_what_the_hazard_row_keeps(decided: Any) -> None:
    app, made = decided
    with unit_of_work(app.engine, write=False) as conn:
        stored = list(conn.execute(select(_N.c.number, _N.c.context).where(_N.c.hazard_id.is_not(None))))
    assert stored
    for number, context in stored:
        assert not set(HAZARD_FIXED_PARTICULARS) & set(context["hazard"])
        assert context["hazard"]["state"] == made[number]["hazard"]["state"]
        assert len(json.dumps(context, ensure_ascii=False)) < len(json.dumps(made[number], ensure_ascii=False))


def test_a_notice_stored_whole_before_is_read_as_it_is(decided: Any) -> None:
    app, made = decided
    with unit_of_work(app.engine) as conn:
        number = conn.execute(select(_N.c.number).where(_N.c.kind == "assignment")).scalars().first()
        whole = {**made[number], "hazard": {**made[number]["hazard"], "title": "旧库中的整份快照"}}
        conn.execute(update(_N).where(_N.c.number == number).values(context=whole))
        (row,) = complete_contexts(conn, list(conn.execute(select(_N).where(_N.c.number == number))))
    assert row.context == whole


def test_completing_puts_back_exactly_the_fixed_particulars() -> None:
    hazard = {key: f"v-{key}" for key in notice_docs._PARTICULARS_ORDER}
    context = {"kind": "assignment", "number": "1号", "hazard": hazard, "note": "x"}
    compact = compact_context(context)
    assert "title" not in compact["hazard"] and context["hazard"]["title"] == "v-title"  # the original is untouched
    fixed = {key: hazard[key] for key in HAZARD_FIXED_PARTICULARS}
    completed = complete_context(compact, fixed)
    assert completed == context and list(completed["hazard"]) == list(hazard)
    assert compact_context({"kind": "report", "hazard": None}) == {"kind": "report", "hazard": None}
