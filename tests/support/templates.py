"""One initialised database per test process, copied for every test that needs one.

``init`` (the migrations, then the default organisation's units) costs seconds; a copy costs milliseconds: a
file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. The template is made the first time a test
asks for an initialised database, with the very calls ``init`` makes, so a copy holds exactly what ``init`` would
have written. Each process (each xdist worker) has its own template: no two processes copy the same one.

Databases the tests are done with are dropped in the background (``drop_later``): PostgreSQL takes a checkpoint for
every DROP DATABASE and makes the statement wait for it (one to two seconds on a busy machine), while drops that run
at the same time share one checkpoint. A test does not wait for its database to go; the session waits for all of them
at its end."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

# PostgreSQL databases this process created empty (``pg_database``) and has not yet replaced by a copy, and those it
# created as copies of the template and nothing has initialised yet.
_fresh_pg: set[str] = set()
_initialised_pg: set[str] = set()
_templates: dict[str, str] = {}
# (what was seeded, backend) -> the template holding it: a SQLite file, or a PostgreSQL database name
_seeded: dict[tuple[str, str], str] = {}
# the drops under way (``drop_later``)
_dropper: ThreadPoolExecutor | None = None
_drops: list[Future[None]] = []


def drop_later(name: str) -> None:
    """Drop the PostgreSQL database ``name`` (its sessions ended by force) in the background; ``drop_templates``
    waits for it at the end of the session."""
    global _dropper
    if _dropper is None:
        _dropper = ThreadPoolExecutor(max_workers=8, thread_name_prefix="drop-database")
    _drops.append(_dropper.submit(_drop, name))


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _retire(conn: Any, name: str) -> None:
    """Move the database ``name`` out of the way (a rename takes no checkpoint) and drop it later, so that a new
    database can take its name at once. Its sessions, if any, are ended first, as DROP ... WITH (FORCE) would."""
    import psycopg

    conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,))
    retired = f"hz_retired_{uuid.uuid4().hex[:12]}"
    for _ in range(100):  # a terminated backend may take a moment to go
        try:
            conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{retired}"')
            break
        except psycopg.errors.ObjectInUse:
            time.sleep(0.01)
    else:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        return
    drop_later(retired)


def _initialise(url: str) -> None:
    """What ``hazardloop init`` does with the default configuration."""
    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.models.store.db import upgrade
    from hazardloop.models.store.org_sync import sync_units
    from tests.support.fixtures import CONFIG_DIR

    application = bootstrap(db=url, config_dir=CONFIG_DIR)
    try:
        application.indicators  # noqa: B018  (init checks indicators.yaml before writing)
        upgrade(application.engine)
        sync_units(application.engine, application.org)
    finally:
        application.close()


def _sqlite_template() -> Path:
    if "sqlite" not in _templates:
        folder = Path(tempfile.mkdtemp(prefix="hazardloop-template-"))
        _initialise(f"sqlite:///{folder / 'template.db'}")
        _templates["sqlite"] = str(folder / "template.db")
    return Path(_templates["sqlite"])


def _pg_template() -> str:
    if "postgres" not in _templates:
        import psycopg

        name = f"hz_template_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        _templates["postgres"] = name
        _initialise(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    return _templates["postgres"]


def created_empty(name: str) -> None:
    """Note a PostgreSQL database this process has just created empty (it may become a copy of the template)."""
    _fresh_pg.add(name)


def create_initialised_pg(name: str) -> None:
    """Create the PostgreSQL database ``name`` as a copy of the initialised template."""
    import psycopg

    template = _pg_template()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    _initialised_pg.add(name)


def copy_initialised(url: str) -> bool:
    """Make the database at ``url`` a copy of the initialised template, when it is an untouched one of this suite's:
    a SQLite file that does not exist yet, or a PostgreSQL database made empty by ``pg_database`` that holds no
    table and no connection. False otherwise; the caller then runs ``init`` itself."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists() or not path.parent.is_dir():
            return False
        template = _sqlite_template()
        for part in _sqlite_files(template):
            shutil.copy(part, path.parent / (path.name + part.name.removeprefix(template.name)))
        return True
    name = url.rsplit("/", 1)[-1]
    if url.startswith("postgresql") and name in _initialised_pg:
        _initialised_pg.discard(name)
        return True
    if not url.startswith("postgresql") or name not in _fresh_pg:
        return False
    _fresh_pg.discard(name)
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={name}")) as conn:
        tables = conn.execute("select count(*) from pg_class where relnamespace = 'public'::regnamespace").fetchone()
    if tables and tables[0]:
        return False
    template = _pg_template()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for _ in range(100):  # the backend of the look above may take a moment to go
            others = conn.execute("select count(*) from pg_stat_activity where datname = %s", (name,)).fetchone()
            if not (others and others[0]):
                break
            time.sleep(0.01)
        else:
            return False
        _retire(conn, name)
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return True


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite:///") else "postgres"


def _sqlite_files(path: Path) -> list[Path]:
    """A SQLite database's file and its write-ahead log, if any (the shared-memory index is rebuilt from them)."""
    return [part for part in path.parent.glob(path.name + "*") if part.name.removeprefix(path.name) in ("", "-wal")]


def seeded(url: str, key: str, seed: Callable[[], None]) -> None:
    """Bring the database at ``url``, a fresh initialised copy nothing holds open, to the state ``seed()`` leaves:
    by running ``seed`` the first time for ``key`` on this backend (and keeping what it left as a template), and by
    copying that template every later time. ``seed`` must give the same state whenever it runs."""
    backend = _backend(url)
    template = _seeded.get((key, backend))
    if template is not None:
        _replace(url, template)
        return
    seed()
    _seeded[(key, backend)] = _snapshot(url)


def _replace(url: str, template: str) -> None:
    if _backend(url) == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        for part in path.parent.glob(path.name + "*"):
            part.unlink()
        source = Path(template)
        for part in _sqlite_files(source):
            shutil.copy(part, path.parent / (path.name + part.name.removeprefix(source.name)))
        return
    import psycopg

    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        _retire(conn, name)
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _snapshot(url: str) -> str:
    if _backend(url) == "sqlite":
        source = Path(url.removeprefix("sqlite:///"))
        folder = Path(tempfile.mkdtemp(prefix="hazardloop-seeded-", dir=_sqlite_template().parent))
        for part in _sqlite_files(source):
            shutil.copy(part, folder / ("seeded.db" + part.name.removeprefix(source.name)))
        return str(folder / "seeded.db")
    import psycopg

    name, copy = url.rsplit("/", 1)[-1], f"hz_seeded_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        # the commands that seeded it have closed their connections; wait for their backends to go
        for _ in range(100):
            others = conn.execute("select count(*) from pg_stat_activity where datname = %s", (name,)).fetchone()
            if not (others and others[0]):
                break
            time.sleep(0.01)
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    return copy


def drop_templates() -> None:
    """At the end of the session: the template databases and the template files go, and the session waits for every
    drop still under way (a drop that failed fails here)."""
    global _dropper
    names = [_templates.pop("postgres")] if "postgres" in _templates else []
    names += [_seeded.pop(key) for key in [k for k in _seeded if k[1] == "postgres"]]
    for name in names:
        drop_later(name)
    if _dropper is not None:
        _dropper.shutdown(wait=True)
        _dropper = None
        drops, _drops[:] = list(_drops), []
        for drop in drops:
            drop.result()
    _seeded.clear()
    if "sqlite" in _templates:
        shutil.rmtree(Path(_templates.pop("sqlite")).parent, ignore_errors=True)
