"""Operator actions on the outbox: sending failed or given-up notices again.

One function for every entry point (``hazardloop notices requeue``, the HTTP API's
``POST /api/v1/notices/{id}/requeue``): it takes the caller's connection, so the caller's unit of work decides
when the change lands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from hazardloop.models.core.errors import InvalidInput, Problem, Refused
from hazardloop.models.core.notice_docs import HAZARD_FIXED_PARTICULARS, complete_context, is_compact
from hazardloop.models.core.policy import NOTICE_KINDS
from hazardloop.models.store.tables import HazardRow, NoticeRow, UnitRow

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
