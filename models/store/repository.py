"""Set-based reads and writes for the services: one ``IN (...)`` load per batch, ``executemany`` for the
writes, all on the caller's connection (the unit of work decides when it commits)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, select

from hazardloop.models.core.errors import ConflictError
from hazardloop.models.core.hazard import HAZARD_COLUMNS, LOADED, Hazard, Transition
from hazardloop.models.core.notice_docs import compact_context
from hazardloop.models.store.audit import stamp_transitions
from hazardloop.models.store.bulk import (
    Conversions,
    audit_instant_speller,
    bulk_insert,
    bulk_update_values,
    driver_rows,
    marks,
    shared_conversions,
)
from hazardloop.models.store.tables import CounterRow, EventRow, HazardRow, NoticeRow, TransitionRow

_H = HazardRow.__table__
_T = TransitionRow.__table__
_N = NoticeRow.__table__
_E = EventRow.__table__
_C = CounterRow.__table__
_TRANSITION_COLUMNS = [c.name for c in _T.columns if c.name != "id"]
_NOTICE_COLUMNS = [c.name for c in _N.columns if c.name not in ("id", "delivered_to")]  # the latter: dispatch's
_EVENT_COLUMNS = [c.name for c in _E.columns]
_CHUNK = 900  # stays under SQLite's bound-parameter limit with room to spare


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _hazard(row: Any) -> Hazard:
    """A hazard from a row selected in ``HAZARD_COLUMNS`` order, remembering the updatable values as read."""
    h = Hazard(*row)
    h.__dict__[LOADED] = _UPDATABLE_VALUES(h)
    return h


_KNOWN_COLUMNS = ("event_id", "digest", "outcome")
_HAZARD_SELECT = f"SELECT {', '.join(HAZARD_COLUMNS)} FROM {_H.name}"
_KNOWN_SELECT = f"SELECT {', '.join(_KNOWN_COLUMNS)} FROM {_E.name}"


def _for_update(conn: Connection, lock: bool = True) -> str:
    """The row-lock clause of a by-key read: PostgreSQL only (SQLite's writer already holds the database)."""
    return " FOR UPDATE" if lock and conn.dialect.name == "postgresql" else ""


def load_hazards(conn: Connection, keys: Iterable[str], *, lock: bool = False) -> list[Hazard]:
    """Hazards whose id or source reference is among ``keys``. By-key reads run on the driver (see
    ``driver_rows``): for an interactive event they are most of the statements of its transaction."""
    keys = list(dict.fromkeys(keys))
    found: list[Hazard] = []
    for part in chunks(keys, _CHUNK // 2):
        listed = marks(conn, len(part))
        sql = f"{_HAZARD_SELECT} WHERE id IN ({listed}) OR ref IN ({listed}){_for_update(conn, lock)}"
        found.extend(map(_hazard, driver_rows(conn, _H, HAZARD_COLUMNS, sql, [*part, *part])))
    return found


def load_hazards_where(
    conn: Connection,
    *where: Any,
    lock: bool = False,
    skip_locked: bool = False,
    limit: int | None = None,
    order_by: Any = None,
) -> list[Hazard]:
    stmt = select(*[_H.c[name] for name in HAZARD_COLUMNS]).where(*where)
    if order_by is not None:
        stmt = stmt.order_by(*(order_by if isinstance(order_by, tuple) else (order_by,)))
    if limit:
        stmt = stmt.limit(limit)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=skip_locked)
    return list(map(_hazard, conn.execute(stmt)))


def insert_hazards(
    conn: Connection, hazards: Sequence[Hazard], now: datetime, shared: Conversions | None = None
) -> None:
    if not hazards:
        return
    rows = []
    for h in hazards:
        h.version = 1
        h.updated_at = now
        rows.append(h.__dict__)
    for part in chunks(rows, 5000):
        bulk_insert(conn, _H, part, HAZARD_COLUMNS, shared)
    for h in hazards:
        h.__dict__[LOADED] = _UPDATABLE_VALUES(h)


# What a detection fixes never changes afterwards: updates leave those columns (and their long texts) alone.
_FIXED_AT_DETECTION = {
    "id",
    "version",
    "ref",
    "title",
    "description",
    "field",
    "severity",
    "township_code",
    "county_code",
    "village",
    "address",
    "source",
    "campaign",
    "reporter",
    "detected_at",
}
_UPDATABLE = [c for c in HAZARD_COLUMNS if c not in _FIXED_AT_DETECTION]
_UPDATABLE_VALUES = attrgetter(*_UPDATABLE)
_UPDATED_AT = _UPDATABLE.index("updated_at")


def update_hazards(
    conn: Connection, hazards: Sequence[Hazard], now: datetime, shared: Conversions | None = None
) -> None:
    """Write changed hazards, each guarded by the version it was read at (optimistic concurrency). Only the
    columns some hazard of the batch changed are written: an index whose columns are not set is left alone
    (a sweep changes the supervision columns, not the state, unit or deadline)."""
    if not hazards:
        return
    changed = _changed_columns(hazards, now)
    columns = [*(_UPDATABLE[i] for i in changed), "version"]
    values = [(*_picked(_UPDATABLE_VALUES(h), changed), h.version + 1, h.id, h.version) for h in hazards]
    for part in chunks(values, 5000):
        written = bulk_update_values(conn, _H, columns, ["id", "version"], part, shared)
        if written not in (-1, len(part)):
            raise ConflictError("another writer changed some of these hazards at the same moment; try again")
    for h in hazards:
        h.version += 1
        h.__dict__[LOADED] = _UPDATABLE_VALUES(h)


def _picked(values: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    return tuple(values[i] for i in positions)


def _changed_columns(hazards: Sequence[Hazard], now: datetime) -> list[int]:
    """Positions in ``_UPDATABLE`` of the columns that differ from what was read, over the whole batch (always
    ``updated_at``; every column for a hazard that was not read from the store)."""
    changed = {_UPDATED_AT}
    unknown = [i for i in range(len(_UPDATABLE)) if i != _UPDATED_AT]
    for h in hazards:
        h.updated_at = now
        if not unknown:
            continue
        loaded = h.__dict__.get(LOADED)
        if loaded is None:
            changed.update(unknown)
            unknown = []
            continue
        current = _UPDATABLE_VALUES(h)
        if current == loaded:
            continue
        differ = [i for i in unknown if current[i] != loaded[i]]
        if differ:
            changed.update(differ)
            unknown = [i for i in unknown if i not in changed]
    return sorted(changed)


NO_PRINCIPAL: dict[str, Any] = {
    "principal_account": None,
    "principal_credential": None,
    "principal_via": None,
    "principal_client": None,
}


def insert_transitions(
    conn: Connection,
    transitions: Sequence[Transition],
    recorded_at: datetime,
    shared: Conversions | None = None,
    principal: dict[str, Any] | None = None,
) -> None:
    """``principal`` is ``Principal.audit()`` of who caused them (none for the engine's own steps)."""
    if not transitions:
        return
    audit = principal or NO_PRINCIPAL
    rows = [
        {
            "hazard_id": t.hazard_id,
            "township_code": t.township_code,
            "action": t.action,
            "from_state": t.from_state,
            "to_state": t.to_state,
            "level": t.level,
            "at": t.at,
            "recorded_at": recorded_at,
            "actor": t.actor,
            "event_id": t.event_id,
            "reason": t.reason,
            "cause_key": t.cause_key,
            "details": t.details,
            **audit,
        }
        for t in transitions
    ]
    # each row's place and hash in its hazard's audit chain (its instants spelt from the batch's conversions)
    stamp_transitions(conn, rows, audit_instant_speller(shared if shared is not None else shared_conversions()))
    for part in chunks(rows, 5000):
        bulk_insert(conn, _T, part, _TRANSITION_COLUMNS, shared)


def insert_notices(conn: Connection, rows: Sequence[dict[str, Any]], shared: Conversions | None = None) -> None:
    """The notices as the outbox keeps them: hazard snapshots without the hazard row's fixed particulars
    (``compact_context``; ``outbox.complete_contexts`` puts them back when a notice is read)."""
    rows = [_compacted(row) for row in rows]
    for part in chunks(rows, 2000):
        bulk_insert(conn, _N, part, _NOTICE_COLUMNS, shared)


def _compacted(row: dict[str, Any]) -> dict[str, Any]:
    """The row with a compact context (those the writers draft are compact already: then the row itself)."""
    if row["hazard_id"] is None:
        return row
    context = row["context"]
    compact = compact_context(context)
    return row if compact is context else {**row, "context": compact}


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]], shared: Conversions | None = None) -> None:
    for part in chunks(list(rows), 5000):
        bulk_insert(conn, _E, part, _EVENT_COLUMNS, shared)


def known_events(conn: Connection, event_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """event_id -> (digest, outcome) for the ids already applied."""
    ids = list(dict.fromkeys(event_ids))
    out: dict[str, tuple[str, str]] = {}
    for part in chunks(ids):
        sql = f"{_KNOWN_SELECT} WHERE event_id IN ({marks(conn, len(part))})"
        for event_id, digest, outcome in driver_rows(conn, _E, _KNOWN_COLUMNS, sql, part):
            out[event_id] = (digest, outcome)
    return out


def stored_events(conn: Connection, event_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """event_id -> (canonical payload, id of the hazard it acted on) of applied events."""
    out: dict[str, tuple[str, str | None]] = {}
    for part in chunks(list(dict.fromkeys(event_ids))):
        sql = f"SELECT event_id, payload, hazard_id FROM {_E.name} WHERE event_id IN ({marks(conn, len(part))})"
        for event_id, payload, hazard_id in driver_rows(conn, _E, ("event_id", "payload", "hazard_id"), sql, part):
            out[event_id] = (payload, hazard_id)
    return out


class Counters:
    """Gapless sequences inside one transaction: rows are read (and locked on PostgreSQL) on first use and
    written back by ``flush``; a rollback takes the numbers back with everything else."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._values: dict[tuple[str, int], int] = {}
        self._stored: dict[tuple[str, int], int | None] = {}

    def peek(self, scope: str, year: int) -> int:
        self._load(scope, year)
        return self._values[(scope, year)] + 1

    def next(self, scope: str, year: int, count: int = 1) -> int:
        key = (scope, year)
        self._load(scope, year)
        first = self._values[key] + 1
        self._values[key] += count
        return first

    def _load(self, scope: str, year: int) -> None:
        key = (scope, year)
        if key not in self._values:
            m = marks(self.conn, 1)
            sql = f"SELECT value FROM {_C.name} WHERE scope = {m} AND year = {m}{_for_update(self.conn)}"
            rows = driver_rows(self.conn, _C, ("value",), sql, (scope, year))
            current = rows[0][0] if rows else None
            self._stored[key] = current
            self._values[key] = current or 0

    def flush(self) -> None:
        for key, value in self._values.items():
            stored = self._stored[key]
            if stored == value:
                continue
            if stored is None:
                row = {"scope": key[0], "year": key[1], "value": value}
                bulk_insert(self.conn, _C, [row], ("scope", "year", "value"))
            else:
                bulk_update_values(self.conn, _C, ["value"], ["scope", "year"], [(value, *key)])
            self._stored[key] = value
