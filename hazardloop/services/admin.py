"""The operator's use cases on the engine itself: prepare the database (``init``), check it is prepared, export
the whole state, and recompute provisional deadlines once a year's holiday schedule is installed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import ConfigError
from hazardloop.models.store.db import schema_is_current, unit_of_work, upgrade
from hazardloop.models.store.deadlines import recompute_provisional
from hazardloop.models.store.org_sync import SyncReport, sync_units
from hazardloop.models.store.queries import export_state
from hazardloop.models.store.url_text import shown_url


@dataclass
class Initialised:
    database: str  # the URL, password hidden
    before: str | None  # the schema revision found (None: an empty database)
    after: str
    units: SyncReport


def initialise(app: App, principal: Principal) -> Initialised:
    """Create or upgrade the schema and load the organisation from org.yaml (running it twice changes nothing). A
    bad indicators.yaml is said before anything is written."""
    del principal  # the operator at the server's shell
    app.indicators  # noqa: B018
    before, after = upgrade(app.engine)
    sync = sync_units(app.engine, app.org)
    return Initialised(shown_url(app.engine.url), before, after, sync)


def ensure_ready(app: App) -> App:
    """The app, once its database is known to be prepared by ``init``: a missing SQLite file is said before
    connecting (which would leave an empty file behind), an old or empty schema after."""
    url = app.engine.url
    sqlite_file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
    if sqlite_file and not Path(sqlite_file).exists():
        raise ConfigError(f"there is no database at {sqlite_file}; run `hazardloop init` to create it")
    if not schema_is_current(app.engine):
        raise ConfigError(
            f"the database {shown_url(app.engine.url)} is not "
            "initialised or is out of date; run `hazardloop init` first"
        )
    return app


def export_everything(app: App, principal: Principal) -> dict[str, Any]:
    """The whole state (units, hazards, transitions, notices, listings, events) as one JSON-ready document."""
    del principal  # the whole engine: the operator at the server's shell
    with unit_of_work(app.engine, write=False) as conn:
        return export_state(conn, app.rules, app.clock.now())


@dataclass
class Recomputed:
    examined: int
    changed: int
    still_provisional: int


def recompute_deadlines(app: App, principal: Principal) -> Recomputed:
    """Recompute provisional deadlines (years whose holiday schedule was not published) with the calendar now
    installed, as of the app's clock; deadlines that are no longer provisional stop being marked so."""
    del principal  # a calendar change for everyone: the operator at the server's shell
    result = recompute_provisional(app.engine, app.rules, app.clock.now())
    return Recomputed(result["examined"], result["changed"], result["still_provisional"])
