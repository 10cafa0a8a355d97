"""A file is applied in chunks; an event repeated in a later chunk of the same file is recognised from the events
table (written earlier in the same transaction, or committed in partial mode): applied once, or refused when its
event_id comes back with different content. On both backends, both modes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hazardloop.config.bootstrap import App
from hazardloop.models.core.errors import Rejections
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.queries import export_state
from tests.support.factories import detected

NOW = datetime.fromisoformat("2025-03-04T08:00:00+08:00")


def _lines(events: list[dict[str, object]]) -> list[tuple[int, str]]:
    return [(i, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(events, start=1)]


def _export(app: App) -> dict[str, object]:
    with unit_of_work(app.engine, write=False) as conn:
        return export_state(conn, app.rules, NOW)


@pytest.mark.parametrize("partial", [False, True], ids=["all-or-nothing", "partial"])
def test_an_event_repeated_in_a_later_chunk_is_applied_once(app: App, partial: bool) -> None:
    first = [detected(f"CH-{i}", "2025-03-03T08:00:00+08:00") for i in range(5)]
    events = [*first, first[0], first[3]]  # chunks of two: the repeats come three chunks later
    report = apply_lines(app.engine, app.rules, _lines(events), source="f", now=NOW, partial=partial, chunk_lines=2)
    assert (report.applied, report.duplicates, report.rejected) == (5, 2, [])
    assert len(_export(app)["hazards"]) == 5  # type: ignore[arg-type]


def test_an_event_id_reused_for_other_content_in_a_later_chunk_refuses_the_file(app: App) -> None:
    first = [detected(f"CH-{i}", "2025-03-03T08:00:00+08:00") for i in range(5)]
    changed = {**first[1], "hazard": {**first[1]["hazard"], "title": "另一隐患"}}  # type: ignore[dict-item]
    before = _export(app)
    with pytest.raises(Rejections) as refused:
        apply_lines(app.engine, app.rules, _lines([*first, changed]), source="f", now=NOW, chunk_lines=2)
    (problem,) = refused.value.problems
    assert problem.line == 6 and problem.field == "event_id" and "already used for a different event" in problem.message
    assert _export(app) == before


def test_partial_mode_rejects_only_the_reused_event_id(app: App) -> None:
    first = [detected(f"CH-{i}", "2025-03-03T08:00:00+08:00") for i in range(5)]
    changed = {**first[1], "hazard": {**first[1]["hazard"], "title": "另一隐患"}}  # type: ignore[dict-item]
    report = apply_lines(
        app.engine, app.rules, _lines([*first, changed]), source="f", now=NOW, partial=True, chunk_lines=2
    )
    assert report.applied == 5 and [p.line for p in report.rejected] == [6]
    titles = {h["title"] for h in _export(app)["hazards"]}  # type: ignore[union-attr,index]
    assert "另一隐患" not in titles
