"""The hazard list walks the detection-order index on SQLite (the ``INDEXED BY`` hint reaches the database)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.queries import list_hazards
from tests.support.fixtures import CONFIG_DIR


def _statements(tmp_path: Path, **filters: str) -> list[str]:
    app = bootstrap(db=f"sqlite:///{tmp_path / 'plan.db'}", config_dir=CONFIG_DIR)
    upgrade(app.engine)
    seen: list[str] = []
    event.listen(app.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with unit_of_work(app.engine, write=False) as conn:
        list_hazards(conn, app.rules, app.clock.now(), limit=20, **filters)
    app.close()
    return [s for s in seen if "FROM hazards" in s]


def test_an_unfiltered_or_state_filtered_page_walks_the_detection_order_index(tmp_path: Path) -> None:
    (statement,) = _statements(tmp_path, state="cleared", field="fire")
    assert "FROM hazards INDEXED BY ix_hazards_detected" in statement


def test_a_township_filter_keeps_its_own_index(tmp_path: Path) -> None:
    (statement,) = _statements(tmp_path, township="府山街道")
    assert "INDEXED BY" not in statement
