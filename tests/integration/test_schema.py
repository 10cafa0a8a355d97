"""Alembic owns the schema: after `init`, the database matches the mapping exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hazardloop.models.store.db import make_engine, upgrade
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
