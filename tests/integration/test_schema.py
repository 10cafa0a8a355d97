"""Alembic owns the schema: after `init`, the database matches the mapping exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hazardloop.models.store.db import (
    SCHEMA_HEAD,
    _alembic_config,
    downgrade,
    make_engine,
    schema_is_current,
    upgrade,
)
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


def test_an_existing_database_with_hazards_upgrades_to_names_unique_per_parent(db_url: str, tmp_path: Path) -> None:
    """0013 copies ``units`` on SQLite, a table hazards and accounts refer to: an upgrade of a database holding both
    keeps every row and every reference, and then holds two units of one name."""
    from tests.support.factories import detected
    from tests.support.fixtures import Cli, write_events

    cli = Cli(db_url, tmp_path)
    cli.ok("init")
    cli.ok("apply", str(write_events(tmp_path / "e.jsonl", [detected("UP-1", "2025-03-03T08:00:00+08:00")])),
           now="2025-03-04T00:00:00+08:00")  # fmt: skip
    cli.ok("users", "add", "up", "--unit", "SX-YC-FS", "--role", "staff", "--name", "张三", "--password-stdin",
           input="correct horse battery\n")  # fmt: skip
    before = cli.export("2025-03-04T00:00:00+08:00")
    engine = make_engine(db_url)
    try:
        downgrade(engine, "0012")
        assert upgrade(engine) == ("0012", SCHEMA_HEAD)
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # on again after the upgrade
            # two units of one name, under different parents, as org.yaml now allows
            conn.exec_driver_sql(
                "INSERT INTO units (code, name, level, parent, short, emails, fields, active) "
                "VALUES ('SX-KQ-FS', '府山街道', 'township', 'SX-KQ', NULL, '[]', '[]', true)"
            )
    finally:
        engine.dispose()
    after = cli.export("2025-03-04T00:00:00+08:00")
    assert after["hazards"] == before["hazards"] and after["transitions"] == before["transitions"]
    assert [u["login"] for u in cli.json("users", "list")] == ["up"]
    assert "intact" in cli.ok("verify-audit").stdout
