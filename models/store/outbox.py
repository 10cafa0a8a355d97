"""The outbox's queries: operator actions (sending failed or given-up notices again), and the claims, outcomes and
archive of the dispatcher (``SqlOutbox``, the store behind ``notifications.dispatch``).

Requeueing is one function for every entry point (``hazardloop notices requeue``, the HTTP API's
``POST /api/v1/notices/{id}/requeue``): it takes the caller's connection, so the caller's unit of work decides
when the change lands.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, true, update

from hazardloop.models.core.errors import InvalidInput, Problem, Refused
from hazardloop.models.core.ledger_filter import LedgerFilter
from hazardloop.models.core.notice_docs import HAZARD_FIXED_PARTICULARS, complete_context, is_compact
from hazardloop.models.core.policy import NOTICE_KINDS
from hazardloop.models.store.audit import stamp_archive
from hazardloop.models.store.bulk import bulk_insert
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.ledger import ledger_rows
from hazardloop.models.store.tables import HazardRow, NoticeArchiveRow, NoticeRow, UnitRow

_N = NoticeRow.__table__
_H = HazardRow.__table__
_U = UnitRow.__table__
REQUEUEABLE = ("failed", "dead")


def requeue_notices(
    conn: Connection,
    *,
    ids: Iterable[int] | None = None,
    kind: Sequence[str] | str | None = None,
    status: Sequence[str] | str | None = None,
    now: datetime,
    dry_run: bool = False,
) -> list[int]:
    """Make failed or dead notices pending again, due at ``now`` with a fresh count of attempts; returns their ids.

    The notices are those with these ``ids`` (each must exist and be failed or dead: invalid input otherwise, or
    a refusal for one that is pending or sent), narrowed by ``kind`` and ``status`` (``failed``, ``dead`` or
    both, the default). The notices are addressed anew from the units' current e-mails (``org.yaml`` as ``init``
    last loaded it), so a mended address is used. A recipient that has a notice already (``delivered_to``) does
    not get it again. With
    ``dry_run`` nothing is written. Nothing is written either when any id is refused.
    """
    id_list = list(dict.fromkeys(int(i) for i in ids or ()))
    kinds = _values(kind)
    statuses = _values(status)
    if not id_list and not kinds and not statuses:
        raise InvalidInput(
            [Problem("say which notices to send again: give their ids, --kind or --status (failed, dead)")]
        )
    bad_kinds = [k for k in kinds if k not in NOTICE_KINDS]
    if bad_kinds:
        raise InvalidInput(
            [Problem(f"unknown kind(s) {bad_kinds}; kinds are {', '.join(NOTICE_KINDS)}", field="--kind")]
        )
    bad_statuses = [s for s in statuses if s not in REQUEUEABLE]
    if bad_statuses:
        raise InvalidInput(
            [
                Problem(
                    f"only failed or dead notices are sent again, not {', '.join(bad_statuses)}: a pending notice "
                    "is on its way and a sent one has arrived",
                    field="--status",
                )
            ]
        )
    if id_list:
        found = {row.id: row.status for row in conn.execute(select(_N.c.id, _N.c.status).where(_N.c.id.in_(id_list)))}
        missing = [i for i in id_list if i not in found]
        if missing:
            raise InvalidInput([Problem(f"no notice has the id {', '.join(map(str, missing))}", field="ID")])
        not_due = [f"{i} is {found[i]}" for i in id_list if found[i] not in REQUEUEABLE]
        if not_due:
            raise Refused(f"only failed or dead notices are sent again, and notice {'; '.join(not_due)}", field="ID")
    where = [_N.c.status.in_(statuses or REQUEUEABLE)]
    if id_list:
        where.append(_N.c.id.in_(id_list))
    if kinds:
        where.append(_N.c.kind.in_(kinds))
    chosen = select(_N.c.id).where(*where).order_by(_N.c.id)
    if conn.dialect.name == "postgresql":
        chosen = chosen.with_for_update()  # no other requeue slips in between (SQLite's writer holds the database)
    picked = [row.id for row in conn.execute(chosen)]
    if picked and not dry_run:
        conn.execute(
            update(_N)
            .where(*where)
            .values(status="pending", attempts=0, next_try_at=now, claimed_by=None, claimed_until=None)
        )
        _readdress(conn, picked)
    return picked


def requeue(conn: Connection, notice_id: int, now: datetime) -> bool:
    """One notice back to ``pending`` for the next dispatch (the HTTP API's and the console's requeue); False when
    it is not failed or dead (pending and sent notices are left alone)."""
    try:
        return bool(requeue_notices(conn, ids=[notice_id], now=now))
    except Refused:
        return False


def _readdress(conn: Connection, ids: list[int]) -> None:
    """The units' addresses as ``org.yaml`` gives them now (after ``init``): a notice failed for a wrong or missing
    address goes to the mended one. The notice keeps its recipient units; only their addresses are read again."""
    emails = {row.code: list(row.emails or []) for row in conn.execute(select(_U.c.code, _U.c.emails))}
    changed = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        query = select(_N.c.id, _N.c.recipient_code, _N.c.cc_codes, _N.c.to_addrs, _N.c.cc_addrs).where(
            _N.c.id.in_(part)
        )
        for row in conn.execute(query):
            if row.recipient_code not in emails:
                continue  # a unit no longer in org.yaml: keep what the notice was addressed to
            to = list(dict.fromkeys(emails[row.recipient_code]))
            cc = list(dict.fromkeys(a for code in row.cc_codes or () for a in emails.get(code, ()) if a not in to))
            if to != list(row.to_addrs or []) or cc != list(row.cc_addrs or []):
                changed.append({"b_id": row.id, "to_addrs": to, "cc_addrs": cc})
    if changed:
        conn.execute(
            update(_N)
            .where(_N.c.id == bindparam("b_id"))
            .values(to_addrs=bindparam("to_addrs"), cc_addrs=bindparam("cc_addrs")),
            changed,
        )


def _values(given: Sequence[str] | str | None) -> list[str]:
    if given is None:
        return []
    items = given.split(",") if isinstance(given, str) else list(given)
    return [item.strip() for item in items if item.strip()]


_H = HazardRow.__table__


class _CompletedNotice:
    """A notice row read back with its whole document context: every column as read, ``context`` completed."""

    __slots__ = ("_row", "context")

    def __init__(self, row: Any, context: dict[str, Any]) -> None:
        self._row, self.context = row, context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def complete_contexts(conn: Connection, rows: Sequence[Any]) -> list[Any]:
    """Notice rows whose stored (compact) contexts are completed with their hazards' fixed particulars
    (``notice_docs.complete_context``): one read of the hazards for all of them. What renders a notice reads
    its rows through this."""
    wanted = list({row.hazard_id for row in rows if row.hazard_id and is_compact(row.context)})
    if not wanted:
        return list(rows)
    columns = [_H.c[name] for name in HAZARD_FIXED_PARTICULARS]
    fixed: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        for found in conn.execute(select(*columns).where(_H.c.id.in_(part))):
            fixed[found.id] = dict(found._mapping)
    return [
        _CompletedNotice(row, complete_context(row.context, fixed[row.hazard_id]))
        if row.hazard_id in fixed and is_compact(row.context)
        else row
        for row in rows
    ]


# --- the outbox as dispatch reads and writes it -------------------------------------------------------------

_A = NoticeArchiveRow.__table__
_ARCHIVE_COLUMNS = [c.name for c in _A.columns]

# An attempt's outcome, for a row still claimed by this dispatcher; the claim is released.
_MARK = (
    update(_N)
    .where(and_(_N.c.id == bindparam("b_id"), _N.c.claimed_by == bindparam("b_worker")))
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        next_try_at=bindparam("next_try_at"),
        last_error=bindparam("last_error"),
        sent_at=bindparam("sent_at"),
        subject=bindparam("subject"),
        delivered_to=bindparam("delivered_to"),
        claimed_by=None,
        claimed_until=None,
    )
)


class SqlOutbox:
    """The outbox in the database, as ``notifications.dispatch`` claims, records and reads it: each call is its
    own short transaction. A notice is claimed with a lease (``claimed_until``), on PostgreSQL with
    ``FOR UPDATE SKIP LOCKED``, so several dispatchers never take the same row."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(
        self,
        *,
        now: datetime,
        wall: datetime,
        worker: str,
        limit: int,
        keys: Sequence[str] | None,
        lease_until: datetime,
    ) -> list[Any]:
        due = and_(
            _N.c.status == "pending",
            or_(_N.c.next_try_at.is_(None), _N.c.next_try_at <= now),
            or_(_N.c.claimed_until.is_(None), _N.c.claimed_until < wall),
            _N.c.key.in_(keys) if keys is not None else true(),
        )
        with unit_of_work(self.engine) as conn:
            stmt = select(_N.c.id).where(due).order_by(_N.c.id).limit(limit)
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            ids = [r[0] for r in conn.execute(stmt)]
            if not ids:
                return []
            conn.execute(update(_N).where(_N.c.id.in_(ids)).values(claimed_by=worker, claimed_until=lease_until))
            return complete_contexts(conn, list(conn.execute(select(_N).where(_N.c.id.in_(ids)).order_by(_N.c.id))))

    def record_outcomes(self, worker: str, done: list[tuple[Any, dict[str, Any]]]) -> set[int]:
        """Mark the rows still claimed by ``worker`` and archive what they sent (each outcome's ``archive`` entry,
        taken out of it), all or nothing; returns their ids."""
        with unit_of_work(self.engine) as conn:
            archives = {row.id: outcome.pop("archive", None) for row, outcome in done}
            if len(done) == 1:
                # one row: the claim in the WHERE clause is the check (an update finding no row of ours writes nothing)
                row, outcome = done[0]
                ours = {row.id} if conn.execute(_MARK, {**outcome, "b_worker": worker}).rowcount == 1 else set()
            else:
                held = select(_N.c.id).where(_N.c.id.in_(list(archives)), _N.c.claimed_by == worker)
                if conn.dialect.name == "postgresql":
                    held = held.with_for_update()
                ours = {r[0] for r in conn.execute(held)}
                marks = [{**outcome, "b_worker": worker} for row, outcome in done if row.id in ours]
                if marks:
                    conn.execute(_MARK, marks)
            archived = [
                (archives[row.id], row.recipient_code) for row, _ in done if archives[row.id] and row.id in ours
            ]
            if archived:
                archive = [a for a, _ in archived]
                stamp_archive(conn, archive, [recipient for _, recipient in archived])  # their place in the audit chain
                bulk_insert(conn, _A, archive, _ARCHIVE_COLUMNS)
            return ours

    def mark_outcomes(self, worker: str, outcomes: list[dict[str, Any]]) -> None:
        with unit_of_work(self.engine) as conn:
            conn.execute(_MARK, [{**o, "b_worker": worker} for o in outcomes])

    @contextmanager
    def ledger_rows(self, flt: LedgerFilter) -> Iterator[Iterable[Any]]:
        with unit_of_work(self.engine, write=False) as conn:
            yield ledger_rows(conn, flt)
