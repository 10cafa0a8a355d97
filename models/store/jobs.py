"""Job runs (what the sweep, dispatch and reports did, for ``hazardloop status``) and the scheduler's lease (one
``hazardloop run`` at a time per database). The instants are handed in: the store reads no clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from hazardloop.models.store.tables import JobRunRow, LeaseRow, NoticeRow

_J, _L, _N = JobRunRow.__table__, LeaseRow.__table__, NoticeRow.__table__


@dataclass(frozen=True)
class JobRunRecord:
    job: str
    started_at: datetime
    finished_at: datetime | None
    as_of: datetime | None
    outcome: str
    summary: dict[str, Any]


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    expires_at: datetime


def start_job_run(conn: Connection, job: str, started_at: datetime, as_of: datetime) -> int:
    """A run of ``job`` that has begun (outcome ``running``); its id, for `finish_job_run`."""
    return int(
        conn.execute(
            insert(_J).values(job=job, started_at=started_at, as_of=as_of, outcome="running", summary={})
        ).inserted_primary_key[0]
    )


def finish_job_run(conn: Connection, run_id: int, finished_at: datetime, outcome: str, summary: dict[str, Any]) -> None:
    conn.execute(
        update(_J).where(_J.c.id == run_id).values(finished_at=finished_at, outcome=outcome, summary=plain(summary))
    )


def last_job_runs(conn: Connection, jobs: Iterable[str]) -> dict[str, JobRunRecord]:
    """The latest run of each of ``jobs`` that ever ran."""
    found: dict[str, JobRunRecord] = {}
    for job in jobs:  # a handful of scheduled jobs, each one indexed look-up
        row = conn.execute(select(_J).where(_J.c.job == job).order_by(_J.c.id.desc()).limit(1)).first()
        if row is not None:
            found[job] = JobRunRecord(
                row.job,
                _aware(row.started_at),
                _aware(row.finished_at),
                _aware(row.as_of),
                row.outcome,
                dict(row.summary or {}),
            )
    return found


def job_runs(conn: Connection, job: str | None = None) -> list[JobRunRecord]:
    """Every recorded run (of ``job``), oldest first."""
    stmt = select(_J).order_by(_J.c.id)
    if job is not None:
        stmt = stmt.where(_J.c.job == job)
    return [
        JobRunRecord(
            r.job, _aware(r.started_at), _aware(r.finished_at), _aware(r.as_of), r.outcome, dict(r.summary or {})
        )
        for r in conn.execute(stmt)
    ]


def notice_counts(conn: Connection) -> dict[str, int]:
    """The outbox by status."""
    return {str(status): int(n) for status, n in conn.execute(select(_N.c.status, func.count()).group_by(_N.c.status))}


def lease_of(conn: Connection, name: str) -> LeaseRecord | None:
    row = conn.execute(select(_L).where(_L.c.name == name)).first()
    return LeaseRecord(row.holder, _aware(row.expires_at)) if row else None  # type: ignore[arg-type]


def take_lease(conn: Connection, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``expires_at``: true when it is free, expired or already
    ``holder``'s. On PostgreSQL the row is locked, so two schedulers deciding at once take turns."""
    stmt = select(_L).where(_L.c.name == name)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        conn.execute(insert(_L).values(name=name, holder=holder, expires_at=expires_at))
        return True
    if row.holder == holder or _aware(row.expires_at) < now:  # type: ignore[operator]
        conn.execute(update(_L).where(_L.c.name == name).values(holder=holder, expires_at=expires_at))
        return True
    return False


def release_lease(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(_L).where(_L.c.name == name, _L.c.holder == holder))


def _aware(instant: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC
    if instant is None:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def plain(value: Any) -> Any:
    """A job's summary as JSON holds it: keys as text, tuples as lists, instants as ISO 8601."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
