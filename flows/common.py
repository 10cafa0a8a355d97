"""What every flow shares: wiring from flow parameters (database URL, config folder, as-of instant) and the
retry policy for transient database errors. Nothing connects at import: Prefect imports flow modules just to
find the flows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from hazardloop.config.bootstrap import App, bootstrap


def wire(db: str | None = None, config: str | None = None, now: datetime | None = None) -> App:
    return bootstrap(db=db, config_dir=Path(config) if config else None, now=now)


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
