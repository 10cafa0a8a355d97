"""Shared fixtures: real SQLite files, real PostgreSQL databases (one fresh database per test; an initialised
one is a copy of the process's template, tests/support/templates.py), the real command line, and the default
configuration shipped with the package."""

from __future__ import annotations

import functools
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.testing
from typer.testing import CliRunner

from tests.support import templates

# Typer's test runner turns the Typer app into its click command on every invoke (~25 ms: it reads the signature of
# every command); the suite invokes the command line in-process thousands of times. A process that runs
# ``hazardloop`` builds that command once too, and nothing changes the app after import, so it is built once per app.
if hasattr(typer.testing, "_get_command"):
    typer.testing._get_command = functools.cache(typer.testing._get_command)

PG_ADMIN_URL = os.environ.get("HAZARDLOOP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def _pg_available() -> str | None:
    # Asked three times with a generous timeout: on a loaded machine (parallel workers) one slow answer must not
    # turn every PostgreSQL test of a worker into a skip.
    import psycopg

    problem = None
    for _ in range(3):
        try:
            with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=10):
                return None
        except Exception as exc:  # the reason is printed loudly in the header and in each skip
            problem = f"{type(exc).__name__}: {exc}"
    return problem


_PG_DOWN = _pg_available()


def pytest_sessionfinish(session: pytest.Session) -> None:
    templates.drop_templates()


def pytest_report_header(config: pytest.Config) -> list[str]:
    from tests.support.console_browser import browser_header

    if _PG_DOWN:
        pg = f"!!! PostgreSQL at 127.0.0.1:5432 is NOT reachable; PostgreSQL tests will be SKIPPED: {_PG_DOWN}"
    else:
        pg = "PostgreSQL at 127.0.0.1:5432: reachable"
    return [pg, browser_header()]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module (tests/support/console_browser.py); skipped loudly where there is none. Not one per
    session: Playwright's sync API keeps an event loop running in the main thread while it is open, and Prefect's
    sync-compatible calls in later modules would then return coroutines instead of running."""
    from tests.support.console_browser import launch_browser

    yield from launch_browser()


# Fixtures that initialise the database they are handed: a test that takes one gets its PostgreSQL database made
# as a copy of the initialised template straight away, rather than made empty and replaced.
_INITIALISING = frozenset({"cli", "app", "sqlite_cli"})


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with pg_database(initialised=bool(_INITIALISING & set(request.fixturenames))) as url:
        yield url


@contextmanager
def pg_database(initialised: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards (in the background: templates.drop_later); skips
    loudly when no server answers. Empty, or with ``initialised`` a copy of the initialised template (which
    ``initialised_cli`` and ``ready_app`` then take as it is)."""
    if _PG_DOWN:
        pytest.skip(f"PostgreSQL server at 127.0.0.1:5432 did not answer ({_PG_DOWN})")
    import psycopg

    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    name = f"hz_test_{uuid.uuid4().hex[:12]}"
    if initialised:
        templates.create_initialised_pg(name)
    else:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        templates.created_empty(name)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        templates.drop_later(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hazardloop.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hazardloop.db'}"
    return request.getfixturevalue("pg_url")


@dataclass
class Cli:
    """The real ``hazardloop`` command line, run in-process against one database."""

    db: str
    workdir: Path
    config: Path = CONFIG_DIR

    def __call__(self, *args: str, now: str | None = None, input: str | None = None) -> Any:
        from hazardloop.cli import app

        argv = ["--db", self.db, "--config", str(self.config)]
        if now:
            argv += ["--now", now]
        old = Path.cwd()
        os.chdir(self.workdir)
        try:
            return CliRunner().invoke(app, [*argv, *args], input=input, catch_exceptions=False)
        finally:
            os.chdir(old)

    def ok(self, *args: str, now: str | None = None, input: str | None = None) -> Any:
        result = self(*args, now=now, input=input)
        assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:{result.stdout}\nstderr:{result.stderr}"
        return result

    def json(self, *args: str, now: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", now=now).stdout)

    def export(self, now: str = "2026-06-30T12:00:00+08:00") -> Any:
        data = json.loads(self.ok("export", "--json", now=now).stdout)
        return data


def initialised_cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The command line on a freshly initialised database (a copy of the process's template where the database is a
    new one of the suite's: tests/support/templates.py), mailing to a file sink in ``tmp_path``."""
    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("HAZARDLOOP_SMTP_URL", raising=False)
    runner = Cli(db_url, tmp_path)
    if not templates.copy_initialised(db_url):
        runner.ok("init")
    return runner


def cli_on_copy(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The command line on a private copy of a generated SQLite database (generated once per module)."""
    for f in template.parent.glob(template.name + "*"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("HAZARDLOOP_SMTP_URL", raising=False)
    return Cli(f"sqlite:///{tmp_path / template.name}", tmp_path)


def seeded_cli(cli: Cli, key: str, seed: Callable[[], None]) -> Cli:
    """``cli`` on a database that holds what ``seed()`` writes into it: ``seed`` runs for the first test of ``key``
    on each backend, later tests get a copy of what it left (tests/support/templates.py)."""
    templates.seeded(cli.db, key, seed)
    return cli


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return initialised_cli(db_url, tmp_path, monkeypatch)


@contextmanager
def ready_app(url: str) -> Iterator[Any]:
    """The engine's services on a database whose schema is at head and whose units are the default organisation's:
    for tests that call the services directly rather than the command line."""
    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.models.store.db import upgrade
    from hazardloop.models.store.org_sync import sync_units

    initialised = templates.copy_initialised(url)
    application = bootstrap(db=url, config_dir=CONFIG_DIR)
    if not initialised:
        upgrade(application.engine)
        sync_units(application.engine, application.org)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    with ready_app(db_url) as application:
        yield application


@pytest.fixture
def sqlite_cli(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return initialised_cli(sqlite_url, tmp_path, monkeypatch)


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    return path
