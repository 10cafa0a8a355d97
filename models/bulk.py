"""Bulk writes on the driver's ``executemany`` with values converted once per column, for the hot paths
(applying events, sweeping). SQLAlchemy's per-value type processing costs more than the write itself at tens of
thousands of rows; these helpers produce exactly what the mapped types would store (naive UTC instants —
SQLite's text form on SQLite —, JSON text), so ORM and Core reads see the same rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, Table

from models.store import UTCDateTime

Converter = Callable[[Any], Any]


def _utc_naive(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; every instant must carry its offset")
    return value.astimezone(UTC).replace(tzinfo=None)


def _utc_text(value: datetime | None) -> str | None:
    naive = _utc_naive(value)
    # SQLAlchemy's own SQLite text form, microseconds always present, so string comparisons in SQL agree
    return naive.isoformat(" ", "microseconds") if naive is not None else None


def _json(value: Any) -> str | None:
    # the same compact UTF-8 text as json.dumps(ensure_ascii=False, separators=(",", ":")), several times faster
    return None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _identity(value: Any) -> Any:
    return value


def _per_object(convert: Converter) -> Converter:
    """A batch repeats the same instant objects (the sweep's ``now`` in every row's recorded_at, updated_at,
    created_at…): convert each object once. Keyed by identity, valid while the batch's rows keep them alive."""
    seen: dict[int, Any] = {}

    def once(value: Any) -> Any:
        key = id(value)
        if key in seen:
            return seen[key]
        seen[key] = converted = convert(value)
        return converted

    return once


def _converter(column: Any, sqlite: bool) -> Converter:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _utc_text if sqlite else _utc_naive
    if isinstance(kind, JSON):
        return _json
    if isinstance(kind, Boolean) and sqlite:
        return lambda v: None if v is None else int(bool(v))
    return _identity


def _marker(conn: Connection) -> Callable[[str], str]:
    style = conn.dialect.paramstyle
    if style == "qmark":
        return lambda _name: "?"
    if style in ("format", "pyformat"):
        return lambda _name: "%s"
    raise NotImplementedError(f"bulk writes do not support the paramstyle {style!r}")


@lru_cache(maxsize=64)
def _insert_plan(table: Table, columns: tuple[str, ...], dialect: str, mark: str) -> tuple[str, tuple[Any, ...]]:
    sqlite = dialect == "sqlite"
    convs = tuple((name, _converter(table.c[name], sqlite)) for name in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})"
    return sql, convs


def _for_this_batch(plan: Sequence[tuple[str, Converter]]) -> tuple[tuple[str, Converter], ...]:
    return tuple((name, _per_object(conv) if conv in (_utc_text, _utc_naive) else conv) for name, conv in plan)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        return
    sql, plan = _insert_plan(table, tuple(columns), conn.dialect.name, _marker(conn)(""))
    convs = _for_this_batch(plan)
    params = [tuple(conv(row[name]) for name, conv in convs) for row in rows]
    conn.exec_driver_sql(sql, params)


def bulk_update(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str], where: Sequence[str]
) -> int:
    """``UPDATE table SET columns WHERE where-columns = values``; the ``where`` values come from keys prefixed
    ``w_`` in each row. Returns the number of rows the database reports as changed (-1 if it cannot tell)."""
    if not rows:
        return 0
    sqlite = conn.dialect.name == "sqlite"
    mark = _marker(conn)
    convs = [(name, _converter(table.c[name], sqlite)) for name in columns]
    wconvs = [("w_" + name, _converter(table.c[name], sqlite)) for name in where]
    sql = (
        f"UPDATE {table.name} SET {', '.join(f'{c} = {mark(c)}' for c in columns)} "
        f"WHERE {' AND '.join(f'{c} = {mark(c)}' for c in where)}"
    )
    both = _for_this_batch((*convs, *wconvs))
    params = [tuple(conv(row[name]) for name, conv in both) for row in rows]
    result = conn.exec_driver_sql(sql, params)
    return result.rowcount if conn.dialect.supports_sane_multi_rowcount else -1
