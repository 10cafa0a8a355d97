"""The outbox stores a notice's hazard snapshot without what the hazard row keeps for good (title, description,
…); a notice read back to be rendered gets the very context that was decided, key for key and in order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update

from hazardloop.models.core import notice_docs
from hazardloop.models.core.notice_docs import HAZARD_FIXED_PARTICULARS, compact_context, complete_context
from hazardloop.models.store import effects, repository
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.outbox import complete_contexts
from hazardloop.models.store.sweep import sweep
from hazardloop.models.store.tables import NoticeRow
from hazardloop.notifications.dispatch import document_context
from tests.support.factories import detected, full_loop
from tests.support.fixtures import ready_app

_N = NoticeRow.__table__
NOW = datetime.fromisoformat("2025-03-20T09:00:00+08:00")


def _events() -> list[dict[str, Any]]:
    events = full_loop("CP-1") + full_loop("CP-2", fail_once=True)
    # a hazard left open: the sweep reminds, supervises and escalates it (notices decided by the sweep)
    events.append(detected("CP-3", "2025-03-03T08:00:00+08:00", village="《村》<b>&", address='路1号 "东"'))
    return events


def _outbox(url: str) -> dict[str, Any]:
    """Apply the events and sweep; the notices read back for rendering, by document number."""
    with ready_app(url) as app:
        lines = [(i, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(_events(), start=1)]
        apply_lines(app.engine, app.rules, lines, source="test", now=NOW - timedelta(days=10))
        sweep(app.engine, app.rules, NOW)
        with unit_of_work(app.engine, write=False) as conn:
            rows = complete_contexts(conn, list(conn.execute(select(_N).order_by(_N.c.id))))
        rendered = {
            r.number: app.renderer.render(r.kind, document_context(r.context, app.rules)) for r in rows if r.hazard_id
        }
        return {"rows": {r.number: r for r in rows if r.hazard_id}, "rendered": rendered, "url": url}


@pytest.fixture
def decided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The same events and sweep twice: storing the whole snapshot, as the outbox did before, and as it does now."""
    with monkeypatch.context() as before:
        before.setattr(effects, "hazard_facts", notice_docs.hazard_particulars)
        before.setattr(repository, "compact_context", lambda context: context)
        whole = _outbox(f"sqlite:///{tmp_path / 'whole.db'}")
    return whole, _outbox(f"sqlite:///{tmp_path / 'compact.db'}")


def test_a_notice_read_back_has_the_context_and_the_text_it_had_when_stored_whole(decided: Any) -> None:
    whole, compact = decided
    kinds = {r.kind for r in compact["rows"].values()}
    assert kinds >= {"assignment", "verification_request", "return", "clearance"} and len(kinds) > 4, kinds
    assert compact["rows"].keys() == whole["rows"].keys()
    for number, row in compact["rows"].items():
        assert "title" in whole["rows"][number].context["hazard"]  # the reference stored the whole snapshot
        assert row.context == whole["rows"][number].context
        assert list(row.context["hazard"]) == list(whole["rows"][number].context["hazard"])  # in the same order
        assert compact["rendered"][number] == whole["rendered"][number]  # subject, text and HTML, byte for byte


def test_the_stored_snapshot_leaves_out_what_the_hazard_row_keeps(decided: Any) -> None:
    whole, compact = decided
    engine = create_engine(compact["url"])
    with engine.connect() as conn:
        stored = list(conn.execute(select(_N.c.number, _N.c.context).where(_N.c.hazard_id.is_not(None))))
    engine.dispose()
    assert len(stored) == len(whole["rows"])
    for number, context in stored:
        made = whole["rows"][number].context
        assert not set(HAZARD_FIXED_PARTICULARS) & set(context["hazard"])
        assert context["hazard"]["state"] == made["hazard"]["state"]
        assert len(json.dumps(context, ensure_ascii=False)) < len(json.dumps(made, ensure_ascii=False))


def test_a_notice_stored_whole_before_is_read_as_it_is(decided: Any) -> None:
    whole, compact = decided
    engine = create_engine(compact["url"])
    with engine.begin() as conn:
        number = conn.execute(select(_N.c.number).where(_N.c.kind == "assignment")).scalars().first()
        made = whole["rows"][number].context
        stored = {**made, "hazard": {**made["hazard"], "title": "旧库中的整份快照"}}
        conn.execute(update(_N).where(_N.c.number == number).values(context=stored))
        (row,) = complete_contexts(conn, list(conn.execute(select(_N).where(_N.c.number == number))))
    engine.dispose()
    assert row.context == stored


def test_completing_puts_back_exactly_the_fixed_particulars() -> None:
    hazard = {key: f"v-{key}" for key in notice_docs._PARTICULARS_ORDER}
    context = {"kind": "assignment", "number": "1号", "hazard": hazard, "note": "x"}
    compact = compact_context(context)
    assert "title" not in compact["hazard"] and context["hazard"]["title"] == "v-title"  # the original is untouched
    fixed = {key: hazard[key] for key in HAZARD_FIXED_PARTICULARS}
    completed = complete_context(compact, fixed)
    assert completed == context and list(completed["hazard"]) == list(hazard)
    assert compact_context({"kind": "report", "hazard": None}) == {"kind": "report", "hazard": None}


def test_the_console_document_of_a_notice_is_the_one_dispatch_sends(decided: Any) -> None:
    from hazardloop.models.core.authz import declared_principal
    from hazardloop.services.notices import document

    whole, compact = decided
    with ready_app(compact["url"]) as app:
        operator = declared_principal(app.rules.tree, "cli", "operator")
        for number, row in compact["rows"].items():
            shown = document(app, operator, row.id)["document"]
            assert not shown["as_sent"]  # rendered now from the stored context
            assert shown["text"] == whole["rendered"][number].text
            assert shown["html"] == whole["rendered"][number].html
