"""The bulk write paths under the services: an update writes only the columns its batch changed, every row is
guarded by the version it was read at, what is written reads back exactly, and a broken unique key surfaces as
the same ``IntegrityError`` on every path (the retry logic depends on it). Small batches go row by row; on
PostgreSQL larger ones go by COPY and one ``unnest`` update — both sizes run here, on real SQLite files and the
real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from hazardloop.config.bootstrap import App
from hazardloop.models.core.errors import ConflictError
from hazardloop.models.core.hazard import HAZARD_COLUMNS, Hazard, Transition
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.repository import insert_hazards, insert_transitions, load_hazards, update_hazards
from hazardloop.models.store.tables import HazardRow, TransitionRow
from tests.support.factories import TOWNSHIP_CODE

NOW = datetime.fromisoformat("2025-06-16T09:00:00+08:00")
SIZES = [3, 120]  # below and above the size where PostgreSQL switches to COPY / unnest


def _hazards(n: int, prefix: str) -> list[Hazard]:
    return [
        Hazard(
            id=f"HZ-T-{prefix}{i:04d}",
            ref=f"{prefix}-{i}",
            title=f"消防通道堵塞 <{i}>",
            description="第\n二行 'quoted' \"double\" \\ backslash",
            field="fire",
            severity="general",
            township_code=TOWNSHIP_CODE,
            county_code="SX-YC",
            detected_at=NOW - timedelta(days=3, microseconds=i),
            reporter="SX-YC-FS/网格员",
            state="rectifying",
            due_at=NOW + timedelta(days=2),
            deadline_provisional=bool(i % 2),
            next_action_at=NOW + timedelta(days=1),
        )
        for i in range(n)
    ]


def _inserted(app: App, size: int, prefix: str) -> tuple[list[Hazard], list[str]]:
    hazards = _hazards(size, prefix)
    with unit_of_work(app.engine) as conn:
        insert_hazards(conn, hazards, NOW)
    return hazards, [h.id for h in hazards]


def _stored(app: App, ids: list[str]) -> dict[str, dict[str, object]]:
    with unit_of_work(app.engine, write=False) as conn:
        return {h.id: {c: getattr(h, c) for c in HAZARD_COLUMNS} for h in load_hazards(conn, ids)}


@pytest.mark.parametrize("size", SIZES)
def test_hazards_round_trip_and_updates_keep_what_they_did_not_change(app: App, size: int) -> None:
    hazards, ids = _inserted(app, size, "A")
    stored = _stored(app, ids)
    for h in hazards:
        assert stored[h.id] == {c: getattr(h, c) for c in HAZARD_COLUMNS}

    with unit_of_work(app.engine) as conn:
        loaded = load_hazards(conn, ids, lock=True)
        for h in loaded:
            h.level = "county"
            h.supervised_seq += 1
            h.overdue_since = NOW
        update_hazards(conn, loaded, NOW + timedelta(hours=1))
    after = _stored(app, ids)
    for h in loaded:
        row = after[h.id]
        assert row == {c: getattr(h, c) for c in HAZARD_COLUMNS}
        assert (row["level"], row["version"], row["overdue_since"]) == ("county", 2, NOW)
        assert row["updated_at"] == NOW + timedelta(hours=1)
        assert row["title"] == stored[h.id]["title"] and row["due_at"] == stored[h.id]["due_at"]


@pytest.mark.parametrize("size", SIZES)
def test_an_update_sets_only_the_columns_its_batch_changed(app: App, size: int) -> None:
    """Observed through an ``UPDATE OF state`` trigger: it fires only when ``state`` is in the SET list, the same
    rule by which the database decides which indexes an update must touch."""
    hazards = _hazards(size, "B")
    with unit_of_work(app.engine) as conn:
        insert_hazards(conn, hazards, NOW)
        conn.execute(text("CREATE TABLE state_writes (hazard_id VARCHAR(32))"))
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER log_state AFTER UPDATE OF state ON hazards "
                    "BEGIN INSERT INTO state_writes VALUES (NEW.id); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION log_state() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN INSERT INTO state_writes VALUES (NEW.id); RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER log_state AFTER UPDATE OF state ON hazards "
                    "FOR EACH ROW EXECUTE FUNCTION log_state()"
                )
            )
    ids = [h.id for h in hazards]

    def writes() -> int:
        with unit_of_work(app.engine, write=False) as conn:
            return int(conn.execute(text("SELECT count(*) FROM state_writes")).scalar_one())

    with unit_of_work(app.engine) as conn:
        loaded = load_hazards(conn, ids, lock=True)
        for h in loaded:
            h.next_action_at = NOW + timedelta(days=5)
        update_hazards(conn, loaded, NOW)
    assert writes() == 0  # the sweep's kind of change: the state column, and its indexes, untouched

    with unit_of_work(app.engine) as conn:
        loaded = load_hazards(conn, ids, lock=True)
        loaded[-1].state = "submitted"  # one hazard of the batch changes state: the batch sets the column
        update_hazards(conn, loaded, NOW)
    assert writes() == size
    assert _stored(app, ids)[ids[-1]]["state"] == "submitted"
    assert {_stored(app, ids)[i]["state"] for i in ids[:-1]} == {"rectifying"}

    fresh = _hazards(size, "B")  # built, not read: nothing known about the stored values, every column is set
    for h in fresh:
        h.version = 3
    with unit_of_work(app.engine) as conn:
        update_hazards(conn, fresh, NOW)
    assert writes() == 2 * size
    assert {row["state"] for row in _stored(app, ids).values()} == {"rectifying"}


@pytest.mark.parametrize("size", SIZES)
def test_a_batch_that_changed_nothing_still_records_the_write(app: App, size: int) -> None:
    """Hazards touched without any change (a sweep that found nothing due for them) get a new version and
    ``updated_at``, and nothing else is set."""
    hazards, ids = _inserted(app, size, "E")
    with unit_of_work(app.engine) as conn:
        update_hazards(conn, load_hazards(conn, ids, lock=True), NOW + timedelta(minutes=15))
    after = _stored(app, ids)
    for h in hazards:
        assert after[h.id]["version"] == 2 and after[h.id]["updated_at"] == NOW + timedelta(minutes=15)
        assert {c: after[h.id][c] for c in HAZARD_COLUMNS if c not in ("version", "updated_at")} == {
            c: getattr(h, c) for c in HAZARD_COLUMNS if c not in ("version", "updated_at")
        }


@pytest.mark.parametrize("size", SIZES)
def test_a_stale_version_refuses_the_whole_batch(app: App, size: int) -> None:
    _, ids = _inserted(app, size, "C")
    with unit_of_work(app.engine) as conn:
        stale = load_hazards(conn, ids)
    with unit_of_work(app.engine) as conn:  # another writer changes one hazard in between
        winner = load_hazards(conn, [ids[0]], lock=True)[0]
        winner.rework_count = 7
        update_hazards(conn, [winner], NOW)
    before = _stored(app, ids)
    with pytest.raises(ConflictError), unit_of_work(app.engine) as conn:
        for h in stale:
            h.level = "city"
        update_hazards(conn, stale, NOW)
    assert _stored(app, ids) == before


@pytest.mark.parametrize("size", SIZES)
def test_transitions_round_trip_and_a_repeated_cause_is_an_integrity_error(app: App, size: int) -> None:
    hazards = _hazards(1, "D")
    with unit_of_work(app.engine) as conn:
        insert_hazards(conn, hazards, NOW)
    rows = [
        Transition(
            hazards[0].id,
            TOWNSHIP_CODE,
            "supervised",
            "rectifying",
            "rectifying",
            NOW + timedelta(seconds=i),
            "system",
            reason="已超过整改期限未完成整改",
            cause_key=f"supervision:{hazards[0].id}:{i}",
            details={"due_at": NOW.isoformat(), "说明": ["甲", None, 1.5]},
        )
        for i in range(size)
    ]
    with unit_of_work(app.engine) as conn:
        insert_transitions(conn, rows, NOW)
    with unit_of_work(app.engine, write=False) as conn:
        stored = conn.execute(select(TransitionRow).order_by(TransitionRow.at)).all()
    assert len(stored) == size
    first = stored[0]._mapping
    assert first["at"] == NOW.astimezone(UTC)
    assert first["details"] == {"due_at": NOW.isoformat(), "说明": ["甲", None, 1.5]}
    assert first["recorded_at"] == NOW and first["reason"] == "已超过整改期限未完成整改"

    again = [*rows[1:], rows[0]]  # the same causes once more: refused whole, nothing added
    with pytest.raises(IntegrityError), unit_of_work(app.engine) as conn:
        insert_transitions(conn, again, NOW)
    with unit_of_work(app.engine, write=False) as conn:
        assert len(conn.execute(select(TransitionRow.id)).all()) == size
        assert len(conn.execute(select(HazardRow.id)).all()) == 1


@pytest.mark.parametrize(
    "stored",
    ["2025-06-16 01:00:00.000000", "2025-06-16 01:00:00", "2025-06-16T01:00:00.250000", "2025-06-16"],
)
def test_sqlite_text_instants_read_back_as_aware_utc_in_every_stored_form(sqlite_url: str, stored: str) -> None:
    """The fast reading of SQLite's text form agrees with SQLAlchemy's own parser, also for forms written by hand
    (no microseconds, a ``T``, a bare date)."""
    from sqlalchemy.dialects.sqlite import DATETIME

    from hazardloop.models.store.db import make_engine
    from hazardloop.models.store.tables import UTCDateTime

    dialect = make_engine(sqlite_url).dialect
    read = UTCDateTime()._cached_result_processor(dialect, None)
    expected = DATETIME().result_processor(dialect, None)(stored).replace(tzinfo=UTC)
    assert read(stored) == expected and read(stored).tzinfo is UTC
    assert read(None) is None


@pytest.mark.parametrize(
    "instant",
    [
        "2025-06-16T09:00:00+08:00",
        "2025-06-16T09:00:00.000001+08:00",
        "2025-01-01T03:59:59.999999+05:45",
        "2025-06-16T00:00:00-03:30",
        "1999-12-31T23:59:59+00:00",
        "2025-03-09T06:30:00+00:00",  # New York half an hour before its clocks go forward
        "2025-11-02T06:30:00+00:00",  # New York's second 01:30, the hour it lives twice
    ],
)
def test_the_stored_sqlite_text_is_sqlalchemys_own_form_of_the_utc_instant(instant: str) -> None:
    """The bulk path writes SQLite's text itself; it must be byte for byte what SQLAlchemy writes for the same
    instant, or comparisons in SQL (``due_at < :now``) would disagree between the two paths."""
    from zoneinfo import ZoneInfo

    from sqlalchemy.dialects import sqlite
    from sqlalchemy.dialects.sqlite import DATETIME

    from hazardloop.models.store.bulk import _utc_text

    write = DATETIME().bind_processor(sqlite.dialect())
    value = datetime.fromisoformat(instant)
    for zone in (None, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")):
        shown = value if zone is None else value.astimezone(zone)
        assert _utc_text(shown) == write(value.astimezone(UTC).replace(tzinfo=None))
    assert _utc_text(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        _utc_text(value.replace(tzinfo=None))


def test_a_busy_sqlite_database_at_begin_raises_sqlalchemys_operational_error(sqlite_url: str) -> None:
    """The write transaction's ``BEGIN IMMEDIATE`` runs on the driver; a database another writer holds must still
    surface as SQLAlchemy's ``OperationalError``, which the flows' retry policy recognises."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from hazardloop.models.store.db import make_engine

    engine = make_engine(sqlite_url)
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE t (x INTEGER)"))
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as conn:
            conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="database is locked"):
                conn.begin()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
