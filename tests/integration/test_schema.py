"""Alembic owns the schema: after `init`, the database matches the mapping exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hazardloop.models.store.db import SCHEMA_HEAD, _alembic_config, make_engine, schema_is_current, upgrade
from hazardloop.models.store.tables import Base


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_migrations_match_the_mapping_on_sqlite(sqlite_url: str) -> None:
    assert _diff(sqlite_url) == []


def test_migrations_match_the_mapping_on_postgres(pg_url: str) -> None:
    assert _diff(pg_url) == []


def test_the_schema_head_every_command_checks_is_alembics_head(sqlite_url: str) -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == SCHEMA_HEAD
    engine = make_engine(sqlite_url)
    try:
        assert not schema_is_current(engine)  # empty: no alembic_version table
        upgrade(engine)
        assert schema_is_current(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0011'")
        assert not schema_is_current(engine)  # one migration behind
    finally:
        engine.dispose()
