"""Operators' writes on the outbox: send a failed or dead notice again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from models.store import NoticeRow

_N = NoticeRow.__table__
REQUEUEABLE = ("failed", "dead")


def requeue(conn: Connection, notice_id: int, now: datetime) -> bool:
    """Back to ``pending`` for the next dispatch, with its attempts counted afresh; False when the notice is not
    failed or dead (pending and sent notices are left alone)."""
    done = conn.execute(
        update(_N)
        .where(_N.c.id == notice_id, _N.c.status.in_(REQUEUEABLE))
        .values(status="pending", attempts=0, next_try_at=now, last_error=None, claimed_by=None, claimed_until=None)
    )
    return bool(done.rowcount)
