"""The audit chain in the store: stamping a batch of audit rows (or archived notices) with their place and hash,
sealing days, reading everything back for ``verify-audit``, and the append-only triggers.

Stamping costs one ``IN (...)`` read of the batch's chain heads (locked on PostgreSQL: two writers of one hazard
link one after the other, writers of different hazards never meet) and one or two ``executemany`` writes of the
heads that moved, whatever the batch's size. See ``models.core.audit_chain`` for the shape and the bytes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, func, select

from hazardloop.models.core.audit_chain import (
    GENESIS,
    NOTICE,
    NOTICE_FIELDS,
    TRANSITION,
    TRANSITION_FIELDS,
    AuditRecord,
    canonical_values,
    day_root,
    instant_text,
    notice_chain,
    stamp,
    transition_chain,
)
from hazardloop.models.store.bulk import bulk_insert, bulk_update_values, driver_rows, marks
from hazardloop.models.store.db import DriverCursor
from hazardloop.models.store.tables import AuditHeadRow, AuditRootRow, NoticeArchiveRow, TransitionRow

_HEADS = AuditHeadRow.__table__
_ROOTS = AuditRootRow.__table__
_T = TransitionRow.__table__
_A = NoticeArchiveRow.__table__
_CHUNK = 450
APPEND_ONLY_TABLES = ("transitions", "notice_archive", "audit_roots")


def _transition_chain_of(row: dict[str, Any]) -> str:
    hazard_id = row["hazard_id"]  # nearly every row: its hazard's chain, without the general rule's call
    return hazard_id if hazard_id is not None else transition_chain(None, row["township_code"])


def stamp_transitions(
    conn: Connection, rows: Sequence[dict[str, Any]], spell: Callable[[datetime | None], str | None] = instant_text
) -> None:
    """Give a batch of audit rows (dicts about to be inserted, in insertion order) their ``chain_seq`` and
    ``row_hash``, and move their chains' heads. ``spell``: see ``audit_chain.stamp``."""
    if rows:
        _stamp(conn, TRANSITION, rows, _transition_chain_of, TRANSITION_FIELDS, spell)


def stamp_archive(conn: Connection, rows: Sequence[dict[str, Any]], recipients: Sequence[str]) -> None:
    """The same for archived notices; ``recipients``: each row's recipient unit code (its chain)."""
    for row, recipient in zip(rows, recipients, strict=True):
        row["chain"] = notice_chain(recipient)
    if rows:
        _stamp(conn, NOTICE, rows, lambda row: row["chain"], NOTICE_FIELDS)


def _stamp(
    conn: Connection,
    kind: str,
    rows: Sequence[dict[str, Any]],
    chain_of: Any,
    fields: Sequence[str],
    spell: Callable[[datetime | None], str | None] = instant_text,
) -> None:
    chains = sorted({chain_of(row) for row in rows})  # one order for every writer: locks never cross
    stored = load_heads(conn, chains, lock=True)
    if conn.dialect.name == "postgresql" and len(stored) < len(chains):
        # A chain's first row: another writer may be starting the same chain (two dispatchers archiving for one
        # unit). Make the head row exist (waiting for that writer if it is inserting it) and lock it, so that
        # the second writer links after the first instead of failing on the key or forking the chain.
        from sqlalchemy.dialects.postgresql import insert

        missing = [c for c in chains if c not in stored]
        conn.execute(
            insert(_HEADS).on_conflict_do_nothing(index_elements=["chain"]),
            [{"chain": c, "seq": 0, "row_hash": GENESIS} for c in missing],
        )
        stored.update(load_heads(conn, missing, lock=True))
    heads = dict(stored)
    moved = stamp(kind, rows, chain_of, heads, fields, spell)
    updates = [(heads[c][0], heads[c][1], c) for c in sorted(moved) if c in stored]
    inserts = [{"chain": c, "seq": heads[c][0], "row_hash": heads[c][1]} for c in sorted(moved) if c not in stored]
    if updates:
        bulk_update_values(conn, _HEADS, ["seq", "row_hash"], ["chain"], updates)
    if inserts:
        bulk_insert(conn, _HEADS, inserts, ("chain", "seq", "row_hash"))


def load_heads(conn: Connection, chains: Sequence[str], *, lock: bool = False) -> dict[str, tuple[int, str]]:
    heads: dict[str, tuple[int, str]] = {}
    suffix = " FOR UPDATE" if lock and conn.dialect.name == "postgresql" else ""
    for start in range(0, len(chains), _CHUNK):
        part = chains[start : start + _CHUNK]
        sql = f"SELECT chain, seq, row_hash FROM {_HEADS.name} WHERE chain IN ({marks(conn, len(part))}){suffix}"
        for chain, seq, row_hash in driver_rows(conn, _HEADS, ("chain", "seq", "row_hash"), sql, part):
            heads[chain] = (seq, row_hash)
    return heads


def all_heads(conn: Connection) -> dict[str, tuple[int, str]]:
    return {r.chain: (r.seq, r.row_hash) for r in conn.execute(select(_HEADS))}


# --- days ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedDay:
    day: str
    root: str
    transitions: int
    notices: int
    sealed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "root": self.root,
            "transitions": self.transitions,
            "notices": self.notices,
            "sealed_at": self.sealed_at.astimezone(UTC).isoformat(),
        }


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _entries(
    conn: Connection, tz: ZoneInfo, start: datetime | None, end: datetime | None
) -> dict[str, list[tuple[str, str, int, str]]]:
    """(kind, chain, seq, row_hash) of every stamped row recorded in [start, end), by local day."""
    by_day: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
    t_where = [_T.c.row_hash.is_not(None)]
    a_where = [_A.c.row_hash.is_not(None)]
    if start is not None:
        t_where.append(_T.c.recorded_at >= start)
        a_where.append(_A.c.archived_at >= start)
    if end is not None:
        t_where.append(_T.c.recorded_at < end)
        a_where.append(_A.c.archived_at < end)
    t_rows = conn.execute(
        select(_T.c.hazard_id, _T.c.township_code, _T.c.chain_seq, _T.c.row_hash, _T.c.recorded_at).where(*t_where)
    )
    days = _LocalDays(tz)
    for hazard_id, township_code, seq, row_hash, recorded_at in t_rows:
        by_day[days(recorded_at)].append((TRANSITION, transition_chain(hazard_id, township_code), seq, row_hash))
    a_rows = conn.execute(select(_A.c.chain, _A.c.chain_seq, _A.c.row_hash, _A.c.archived_at).where(*a_where))
    for chain, seq, row_hash, archived_at in a_rows:
        by_day[days(archived_at)].append((NOTICE, chain, seq, row_hash))
    return by_day


class _LocalDays:
    """Instant -> its local date as text; instants of one day share their UTC hour, so one conversion per hour."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.seen: dict[tuple[int, int, int, int], str] = {}

    def __call__(self, instant: datetime) -> str:
        key = (instant.year, instant.month, instant.day, instant.hour)
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = instant.astimezone(self.tz).date().isoformat()
        return found


def seal_days(conn: Connection, tz: ZoneInfo, now: datetime) -> list[SealedDay]:
    """Seal every complete day (before ``now``'s local date) after the last sealed one that has audit rows:
    store its root. Days are sealed once; two runs at once store the same roots once."""
    last = conn.execute(select(func.max(_ROOTS.c.day))).scalar()
    today = now.astimezone(tz).date()
    start = day_start(date.fromisoformat(last) + timedelta(days=1), tz) if last else None
    end = day_start(today, tz)
    if start is not None and start >= end:
        return []
    sealed = []
    for day, entries in sorted(_entries(conn, tz, start, end).items()):
        counted = sum(1 for e in entries if e[0] == TRANSITION)
        sealed.append(SealedDay(day, day_root(entries), counted, len(entries) - counted, now))
    if sealed:
        rows = [s.as_dict() | {"sealed_at": s.sealed_at} for s in sealed]
        _insert_new_roots(conn, rows)
    return sealed


def _insert_new_roots(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(_ROOTS).on_conflict_do_nothing(index_elements=["day"]), rows)


def stored_roots(conn: Connection, since: date | None = None) -> dict[str, tuple[str, int, int]]:
    stmt = select(_ROOTS.c.day, _ROOTS.c.root, _ROOTS.c.transitions, _ROOTS.c.notices)
    if since is not None:
        stmt = stmt.where(_ROOTS.c.day >= since.isoformat())
    return {r.day: (r.root, r.transitions, r.notices) for r in conn.execute(stmt)}


def sealed_roots(conn: Connection, days: Iterable[str]) -> list[SealedDay]:
    rows = conn.execute(select(_ROOTS).where(_ROOTS.c.day.in_(list(days))).order_by(_ROOTS.c.day))
    return [SealedDay(r.day, r.root, r.transitions, r.notices, r.sealed_at) for r in rows]


# --- reading back ------------------------------------------------------------------------------------------


def stored_instant_text(value: Any) -> str | None:
    """The canonical text of an instant as the driver returns it: SQLite's stored text (UTC, microseconds) turned
    into it by slicing, PostgreSQL's naive UTC datetime by formatting; anything else parsed."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return instant_text(value)


def _stored_json(value: Any) -> Any:
    if isinstance(value, str):
        return {} if value == "{}" else orjson.loads(value)
    return value


def transition_records(conn: Connection, since: datetime | None = None) -> list[AuditRecord]:
    """Every audit row (recorded from ``since`` on), read on the driver: the whole year is read at once."""
    columns = ["id", "chain_seq", "row_hash", *TRANSITION_FIELDS]
    sql = f"SELECT {', '.join(columns)} FROM {_T.name}"
    params: list[Any] = []
    if since is not None:
        sql += f" WHERE recorded_at >= {marks(conn, 1)}"
        utc = since.astimezone(UTC).replace(tzinfo=None)
        params.append(utc.isoformat(" ", "microseconds") if conn.dialect.name == "sqlite" else utc)
    assert TRANSITION_FIELDS[-3:] == ("details", "at", "recorded_at")  # the loop below relies on it
    hazard, township = TRANSITION_FIELDS.index("hazard_id"), TRANSITION_FIELDS.index("township_code")
    out = []
    append = out.append
    with DriverCursor(conn, sql) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    spelt: dict[Any, str | None] = {}  # recorded_at: one value per batch written
    for row in rows:
        details, at, recorded = row[-3:]
        if at.__class__ is str and len(at) == 26 and at[10] == " ":  # SQLite's stored text, the usual case
            at = f"{at[:10]}T{at[11:]}+00:00"
        else:
            at = stored_instant_text(at)
        text = spelt.get(recorded)
        if text is None:
            text = spelt[recorded] = stored_instant_text(recorded)
        values = (*row[3:-3], {} if details == "{}" else _stored_json(details), at, text)
        chain = values[hazard]
        if chain is None:
            chain = transition_chain(None, values[township])
        append(AuditRecord(TRANSITION, row[0], chain, row[1], row[2], values, text))
    return out


def archive_records(conn: Connection, since: datetime | None = None) -> list[AuditRecord]:
    """Archived notices, with checks of their stored text and message bytes against the digests they carry."""
    stmt = select(
        _A.c.notice_id,
        _A.c.chain,
        _A.c.chain_seq,
        _A.c.row_hash,
        _A.c.message_id,
        _A.c.subject,
        _A.c.sha256,
        _A.c.message_sha256,
        _A.c.archived_at,
        _A.c.text,
        _A.c.html,
        _A.c.message,
    )
    if since is not None:
        stmt = stmt.where(_A.c.archived_at >= since)
    out = []
    for r in conn.execute(stmt):
        values = canonical_values(r._mapping, NOTICE_FIELDS)
        checks = {}
        if len(r.subject) < 300:  # a longer subject was cut to fit the column: its digest is of the whole
            text = hashlib.sha256("\n".join((r.subject, r.text, r.html)).encode()).hexdigest()
            checks["text"] = text == r.sha256
        if r.message_sha256 is not None or r.message is not None:
            checks["message"] = r.message is not None and hashlib.sha256(r.message).hexdigest() == r.message_sha256
        recorded = instant_text(r.archived_at)
        chain = r.chain or "notices:?"
        out.append(AuditRecord(NOTICE, r.notice_id, chain, r.chain_seq, r.row_hash, values, recorded, checks))
    return out


def roots_of(records: Iterable[AuditRecord], tz: ZoneInfo) -> dict[str, tuple[str, int, int]]:
    """Each day's root (and its counts of audit rows and archived notices) as the rows read stand now."""
    by_day: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
    days: dict[str, str] = {}  # UTC hour -> local day
    for r in records:
        if r.row_hash is None or r.recorded is None:
            continue
        hour = r.recorded[:13]
        day = days.get(hour)
        if day is None:
            day = days[hour] = datetime.fromisoformat(r.recorded).astimezone(tz).date().isoformat()
        by_day[day].append((r.kind, r.chain, r.seq or 0, r.row_hash))
    out = {}
    for day, entries in by_day.items():
        counted = sum(1 for e in entries if e[0] == TRANSITION)
        out[day] = (day_root(entries), counted, len(entries) - counted)
    return out


# --- triggers ----------------------------------------------------------------------------------------------

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION hazardloop_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%% is append-only: its rows are never changed or removed', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def create_append_only_triggers(conn: Connection, tables: Sequence[str] = APPEND_ONLY_TABLES) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the audit tables, in the database itself."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_FUNCTION)
        for table in tables:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION hazardloop_append_only()"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION hazardloop_append_only()"
            )
        return
    for table in tables:
        for verb in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{table} is append-only: its rows are never changed or removed'); END"
            )


def drop_append_only_triggers(conn: Connection, tables: Sequence[str] = APPEND_ONLY_TABLES) -> None:
    """What a database administrator would do to rewrite history (and the downgrade does)."""
    if conn.dialect.name == "postgresql":
        for table in tables:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return
    for table in tables:
        for verb in ("update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
