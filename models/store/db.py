"""Engines, schema upgrades and the unit of work. Nothing here runs at import; ``config.bootstrap`` calls it.

SQLite runs in WAL mode with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue instead of failing half-way. PostgreSQL uses row locks (``FOR UPDATE``/``SKIP LOCKED``) where
batch jobs claim rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from hazardloop.models.core.errors import ConfigError
from hazardloop.models.store.url_text import shown_url

if TYPE_CHECKING:
    from alembic.config import Config


def make_engine(url: str, **kwargs: Any) -> Engine:
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018  (a port that is not a number fails only when read)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"the database URL '{shown_url(url)}' cannot be read; e.g. sqlite:///hazardloop.db or "
            "postgresql+psycopg://user@host:5432/name"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"the database URL names {parsed.get_backend_name()!r}; hazardloop runs on SQLite and PostgreSQL "
            "(sqlite:///file.db, postgresql+psycopg://user@host:5432/name)"
        )
    if parsed.get_backend_name() == "sqlite":
        _render_sqlite_table_hints()
        engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (IMMEDIATE for writers)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # on the driver: through SQLAlchemy's statement machinery this costs more than the BEGIN itself
            statement = "BEGIN IMMEDIATE" if conn.info.get("write", True) else "BEGIN"
            with DriverCursor(conn, statement) as cursor:
                cursor.execute(statement)

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_pre_ping=True, **kwargs)


def without_disk_sync(engine: Engine) -> None:
    """For a database nobody needs after a crash of the machine (the demo's, made afresh on an empty file): SQLite
    no longer waits for the disk when the write-ahead log is copied back (``synchronous=OFF``). Transactions stay
    whole and a crash of the process loses nothing committed; a crash of the machine may. PostgreSQL keeps the
    server's settings."""
    if engine.dialect.name != "sqlite":
        return
    event.listen(engine, "connect", _sqlite_sync_off)  # after make_engine's pragmas, so it wins
    engine.dispose()  # the pooled connections opened before keep the old setting: start afresh


def _sqlite_sync_off(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


def _render_sqlite_table_hints() -> None:
    """SQLAlchemy's SQLite compiler drops table hints (``with_hint(..., "sqlite")``) without a word. SQLite's one
    table hint, ``INDEXED BY``, follows the table name, which is where SQLAlchemy puts a hint's text: render it.
    The hazard list needs it, since SQLite without statistics sorts every match of an equality index instead of
    walking the detection-order index (132 ms against 0.8 ms for a page of the demo year)."""
    from sqlalchemy.dialects.sqlite.base import SQLiteCompiler

    SQLiteCompiler.get_from_hint_text = _hint_text  # type: ignore[method-assign]


def _hint_text(_compiler: Any, _table: Any, text: str) -> str:
    return text


class DriverCursor:
    """A cursor of the connection's driver, in its transaction; the driver's errors raised as SQLAlchemy would
    have raised them (``IntegrityError`` for a unique key, ``OperationalError`` for a busy database, …), so the
    callers' retry and conflict handling sees the same exceptions on every path. A plain class: an interactive
    event runs about ten statements through it, and a generator-based context manager costs several times more."""

    __slots__ = ("conn", "cursor", "sql")

    def __init__(self, conn: Connection, sql: str) -> None:
        self.conn, self.sql = conn, sql

    def __enter__(self) -> Any:
        self.cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        return self.cursor

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, traceback: Any) -> None:
        self.cursor.close()
        error = self.conn.dialect.dbapi.Error  # type: ignore[union-attr]
        if isinstance(exc, error):
            raise DBAPIError.instance(self.sql, None, exc, error, dialect=self.conn.dialect) from exc


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


# Alembic is imported where the schema is read or changed, not with this module: it costs a fifth of a second, which
# every command and server start would pay while only `init`, `upgrade` and the readiness check need it.
def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("hazardloop.models.store") / "migrations"))
    return cfg


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to head; returns (revision before, revision after)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = _alembic_config()
    before = _migrate(engine, lambda: command.upgrade(cfg, "head"), cfg)
    head = ScriptDirectory.from_config(cfg).get_current_head() or ""
    return before, head


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (for the tests of a migration: what an older engine left behind)."""
    from alembic import command

    cfg = _alembic_config()
    _migrate(engine, lambda: command.downgrade(cfg, revision), cfg)


def _migrate(engine: Engine, run: Callable[[], None], cfg: Any) -> str | None:
    """Run Alembic's ``run`` in one transaction on ``engine``; returns the revision it started from."""
    from alembic.runtime.migration import MigrationContext

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # A migration in batch mode copies a table that others refer to and drops the original; SQLite would
            # count each referring row as a broken foreign key then (even deferred, it never uncounts them), so the
            # check is off while migrating (it can only be switched outside a transaction) and done whole after.
            _driver_pragma(conn, "PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                before = MigrationContext.configure(conn).get_current_revision()
                cfg.attributes["connection"] = conn
                run()
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                    raise RuntimeError(f"the migrated database has {len(broken)} broken foreign key(s): {broken[:3]}")
        finally:
            if sqlite:
                _driver_pragma(conn, "PRAGMA foreign_keys=ON")
    return before


def _driver_pragma(conn: Connection, statement: str) -> None:
    """A PRAGMA on the driver's connection itself, outside SQLAlchemy's transaction (which would begin one)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute(statement)


# The newest migration's revision. Every command checks the database against it before it starts; reading it here
# spares each of them importing Alembic and parsing every migration file (tests/integration/test_schema.py holds
# it equal to Alembic's own head, so a new migration that forgets to move it fails the tests).
SCHEMA_HEAD = "0013"


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return versions == [SCHEMA_HEAD]


@contextmanager
def unit_of_work(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One transaction: everything inside lands together or not at all (rolls back unless it ends cleanly)."""
    conn, transaction = open_unit_of_work(engine, write=write)
    with conn, transaction:
        yield conn


def open_unit_of_work(engine: Engine, *, write: bool = True) -> tuple[Connection, RootTransaction]:
    """A unit of work whose end the caller decides: ``transaction.commit()``, then ``conn.close()``; closing
    without committing rolls back. For work that is decided on one thread and committed on another."""
    conn = engine.connect()
    conn.info["write"] = write  # read by the SQLite BEGIN: writers take the write lock at once
    try:
        return conn, conn.begin()
    except BaseException:
        conn.close()
        raise
