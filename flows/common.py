"""What every flow shares: wiring from flow parameters (database URL, config folder, as-of instant), the principal
a flow run acts as, and the retry policy for transient database errors. Nothing connects at import: Prefect
imports flow modules just to find them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.models.core.authz import Principal, declared_principal

_T = TypeVar("_T")


def wire(db: str | None = None, config: str | None = None, now: datetime | None = None) -> App:
    return bootstrap(db=db, config_dir=Path(config) if config else None, now=now)


@contextmanager
def wired(db: str | None = None, config: str | None = None, now: datetime | None = None) -> Iterator[App]:
    """The app of one task, closed when the task ends."""
    app = wire(db, config, now)
    try:
        yield app
    finally:
        app.close()


def flow_run_client() -> str:
    """Where a change came from: the flow run's id (``flow-run:local`` outside a run, e.g. a plain call of .fn)."""
    try:
        from prefect.runtime import flow_run

        return f"flow-run:{flow_run.id}" if flow_run.id else "flow-run:local"
    except Exception:
        return "flow-run:local"


def flow_principal(app: App, actor: str | None = None) -> Principal:
    """A flow run acts as itself (``principal_via = flow``, its id as the client), declaring ``actor`` as the
    command line's ``--by`` does: the lifecycle rules judge it."""
    return declared_principal(app.tree, "flow", flow_run_client(), actor)


def run_service(
    db: str | None, config: str | None, now: datetime | None, service: Callable[[App, Principal], _T]
) -> _T:
    """Wire the app from the flow's parameters and call one service as this flow run."""
    with wired(db, config, now) as app:
        return service(app, flow_principal(app))


def transient_db_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only for errors that may pass: a dropped or busy database connection, a lost race."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from hazardloop.models.core.errors import ConflictError

    try:
        state.result()
    except (OperationalError, ConflictError):
        return True
    except DBAPIError as exc:
        return bool(exc.connection_invalidated)
    except Exception:
        return False
    return False
