"""A record of every batch job run (sweep, dispatch, reports), for `hazardloop status` and the logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, update

from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.tables import JobRunRow

_J = JobRunRow.__table__


def _wall() -> datetime:
    # Wall time is only recorded for operators (when did the job really run); no rule reads it.
    return datetime.now(UTC)


@contextmanager
def record_job(engine: Engine, job: str, as_of: datetime) -> Iterator[dict[str, Any]]:
    summary: dict[str, Any] = {}
    with unit_of_work(engine) as conn:
        run_id = conn.execute(
            insert(_J).values(job=job, started_at=_wall(), as_of=as_of, outcome="running", summary={})
        ).inserted_primary_key[0]
    outcome = "failed"
    try:
        yield summary
        outcome = "ok"
    except BaseException as exc:
        summary["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with unit_of_work(engine) as conn:
            conn.execute(
                update(_J)
                .where(_J.c.id == run_id)
                .values(finished_at=_wall(), outcome=outcome, summary=_plain(summary))
            )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
