"""Bulk writes on the driver's ``executemany`` with values converted once per column, for the hot paths
(applying events, sweeping). SQLAlchemy's per-value type processing costs more than the write itself at tens of
thousands of rows; these helpers produce exactly what the mapped types would store (naive UTC instants —
SQLite's text form on SQLite —, JSON text), so ORM and Core reads see the same rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Table

from hazardloop.models.store.db import DriverCursor
from hazardloop.models.store.tables import UTCDateTime

Converter = Callable[[Any], Any]


def _utc_naive(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; every instant must carry its offset")
    return value.astimezone(UTC).replace(tzinfo=None)


def _utc_text(value: datetime | None) -> str | None:
    """SQLAlchemy's own SQLite text form of the UTC instant, microseconds always present, so string comparisons
    in SQL agree. Shifting by the offset and cutting the offset off the text is a third faster than converting
    the zone and dropping it."""
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("naive datetime given to the store; every instant must carry its offset")
    return (value - offset).isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str | None:
    # the same compact UTF-8 text as json.dumps(ensure_ascii=False, separators=(",", ":")), several times faster
    if value is None:
        return None
    try:
        # keys that are all plain strings (nearly always) spare the option's slower path; the bytes are the same
        return orjson.dumps(value).decode()
    except TypeError:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _identity(value: Any) -> Any:
    return value


# Conversions worth remembering per object: a batch repeats the same instants (``now``; an event's ``at`` in its
# event row, its transition and its hazard) and the same address and code tuples in row after row and table
# after table.
_SHARED_VALUES = (_utc_text, _utc_naive, _json)
Conversions = dict[Converter, dict[int, Any]]


def shared_conversions() -> Conversions:
    """What a batch has converted so far, per converter and by object identity. Identity is only a valid key
    while the objects live: hold one for as long as the rows it converts (one flush), never longer."""
    return {convert: {} for convert in _SHARED_VALUES}


def audit_instant_speller(shared: Conversions) -> Callable[[datetime | None], str | None]:
    """The audit chain's spelling of instants (``audit_chain.instant_text``: UTC, microseconds, ``+00:00``) made
    from the store's own UTC text of them (``_utc_text``, the same digits), so that a batch converts each instant
    once for both; what it converts for the chain serves the rows written after it. Lives as long as ``shared``."""
    texts = shared[_utc_text]

    def spell(value: datetime | None) -> str | None:
        if value is None:
            return None
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = _utc_text(value)
        return f"{text[:10]}T{text[11:]}+00:00"

    return spell


def _converter(column: Any, sqlite: bool) -> Converter:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _utc_text if sqlite else _utc_naive
    if isinstance(kind, JSON):
        return _json
    return _identity


def _marker(conn: Connection) -> Callable[[str], str]:
    style = conn.dialect.paramstyle
    if style == "qmark":
        return lambda _name: "?"
    if style in ("format", "pyformat"):
        return lambda _name: "%s"
    raise NotImplementedError(f"bulk writes do not support the paramstyle {style!r}")


@lru_cache(maxsize=64)
def _insert_plan(table: Table, columns: tuple[str, ...], dialect: str, mark: str) -> tuple[str, tuple[Converter, ...]]:
    sqlite = dialect == "sqlite"
    convs = tuple(_converter(table.c[name], sqlite) for name in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})"
    return sql, convs


# An interactive event writes a row or two per table: too few for remembering conversions to pay for itself.
_SHARING_PAYS_FROM = 4

# (position in the row, converter, the converter's remembered results or None)
_Active = tuple[int, Converter, "dict[int, Any] | None"]


def convert_rows(
    values: Iterable[Sequence[Any]], plan: Sequence[Converter], shared: Conversions | None = None
) -> list[tuple[Any, ...]]:
    """Apply the plan's converters to rows of values in column order. Most columns need no conversion (strings,
    numbers): only the others are touched, and each instant or JSON object only once per ``shared`` (per call
    when none is given)."""
    rows = values if isinstance(values, list) else list(values)
    if shared is None and len(rows) > _SHARING_PAYS_FROM:
        shared = shared_conversions()
    active: list[_Active] = [
        (i, conv, shared.get(conv) if shared is not None else None)
        for i, conv in enumerate(plan)
        if conv is not _identity
    ]
    if not active:
        return [tuple(row) for row in rows]
    return _converted(rows, active)


def _converted(rows: Sequence[Sequence[Any]], active: Sequence[_Active]) -> list[tuple[Any, ...]]:
    """Rows with the value at each active position replaced by its converter's result. Every converter maps
    None to None, the commonest value of the optional columns, so None is left as it is."""
    if len(rows) < _WRITTEN_OUT_PAYS_FROM:
        return _converted_few(rows, active)
    modes = tuple((position, _mode(convert, seen)) for position, convert, seen in active)
    loop = _conversion_loop(len(rows[0]), modes)
    arguments: list[Any] = []
    for _position, convert, seen in active:
        arguments += (convert, seen.get if seen is not None else None, seen)
    return loop(rows, _NOT_YET, *arguments)


_NOT_YET = object()
# An interactive event reads and writes a row or two per table: finding the written-out loop costs more than it saves.
_WRITTEN_OUT_PAYS_FROM = 16


def _converted_few(rows: Sequence[Sequence[Any]], active: Sequence[_Active]) -> list[tuple[Any, ...]]:
    """``_converted`` for a few rows: the generic loop."""
    out: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for position, convert, seen in active:
            value = values[position]
            if value is None:
                continue
            if seen is None:
                values[position] = convert(value)
                continue
            done = seen.get(id(value), _NOT_YET)
            if done is _NOT_YET:
                done = seen[id(value)] = convert(value)
            values[position] = done
        out.append(tuple(values))
    return out


def _mode(convert: Converter, seen: dict[int, Any] | None) -> str:
    if seen is None:
        return "each"
    # a JSON object (a notice's context, an audit row's details) is made for its one row: remembering it is waste
    return "remembered unless a dict" if convert is _json else "remembered"


@lru_cache(maxsize=256)
def _conversion_loop(width: int, modes: tuple[tuple[int, str], ...]) -> Callable[..., list[tuple[Any, ...]]]:
    """The conversion of rows of ``width`` values as one loop written out for these positions and modes: the
    generic loop (a list per row, an inner loop over the positions) cost three times the conversions themselves
    at tens of thousands of rows. ``modes``: (position, "each" | "remembered" | "remembered unless a dict");
    the loop takes the rows, the not-yet marker and, per position, its converter, its memo's ``get`` and the memo."""
    parameters = ["rows", "not_yet"]
    body = []
    for n, (position, mode) in enumerate(modes):
        parameters += [f"convert{n}", f"recall{n}", f"memo{n}"]
        value = f"v{position}"
        body.append(f"        {value} = row[{position}]")
        body.append(f"        if {value} is not None:")
        if mode == "each":
            body.append(f"            {value} = convert{n}({value})")
            continue
        indent = "            "
        if mode == "remembered unless a dict":
            body.append(f"            if {value}.__class__ is dict:")
            body.append(f"                {value} = convert{n}({value})")
            body.append("            else:")
            indent += "    "
        body.append(f"{indent}done = recall{n}(id({value}), not_yet)")
        body.append(f"{indent}if done is not_yet:")
        body.append(f"{indent}    done = memo{n}[id({value})] = convert{n}({value})")
        body.append(f"{indent}{value} = done")
    converted = {position for position, _how in modes}
    values = ", ".join(f"v{i}" if i in converted else f"row[{i}]" for i in range(width))
    source = "\n".join(
        [
            f"def loop({', '.join(parameters)}):",
            "    out = []",
            "    append = out.append",
            "    for row in rows:",
            *body,
            f"        append(({values},))",
            "    return out",
        ]
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<bulk conversion of {width} columns>", "exec"), namespace)  # our own text
    return namespace["loop"]  # type: ignore[no-any-return]


def _values(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Iterable[Sequence[Any]]:
    if len(columns) == 1:
        return ((row[columns[0]],) for row in rows)
    return map(itemgetter(*columns), rows)


# Below this many rows a batch goes row by row in one pipelined statement: COPY and ``unnest`` cost extra round
# trips that only pay off on larger batches (an interactive event writes one row per table).
_PG_SET_BASED_FROM = 50


def bulk_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    shared: Conversions | None = None,
) -> None:
    if not rows:
        return
    sql, plan = _insert_plan(table, tuple(columns), conn.dialect.name, _marker(conn)(""))
    params = convert_rows(_values(rows, columns), plan, shared)
    if conn.dialect.name == "postgresql" and len(params) >= _PG_SET_BASED_FROM:
        # COPY: one stream for the whole batch, several times faster than row-by-row inserts
        _pg_copy(conn, f"COPY {table.name} ({', '.join(columns)}) FROM STDIN", params)
    else:
        driver_execute(conn, sql, params)


def bulk_update_values(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    where: Sequence[str],
    values: Iterable[Sequence[Any]],
    shared: Conversions | None = None,
) -> int:
    """``UPDATE table SET columns WHERE where-columns = values`` for each row of ``values`` (``(*columns, *where)``
    in order). Returns the number of rows the database reports as changed (-1 if it cannot tell)."""
    sqlite = conn.dialect.name == "sqlite"
    params = convert_rows(values, tuple(_converter(table.c[name], sqlite) for name in (*columns, *where)), shared)
    if not params:
        return 0
    if conn.dialect.name == "postgresql" and len(params) >= _PG_SET_BASED_FROM:
        return _pg_update(conn, table, columns, where, params)
    mark = _marker(conn)
    sql = (
        f"UPDATE {table.name} SET {', '.join(f'{c} = {mark(c)}' for c in columns)} "
        f"WHERE {' AND '.join(f'{c} = {mark(c)}' for c in where)}"
    )
    return driver_execute(conn, sql, params)


def _pg_update(
    conn: Connection, table: Table, columns: Sequence[str], where: Sequence[str], params: list[tuple[Any, ...]]
) -> int:
    """One statement for the whole batch: the rows travel as one array per column and are joined back with
    ``unnest``, instead of one statement per row."""
    names = [*columns, *("w_" + c for c in where)]
    types = [_pg_type(table, name, conn.dialect) for name in (*columns, *where)]
    sql = (
        f"UPDATE {table.name} AS t SET {', '.join(f'{c} = v.{c}' for c in columns)} "
        f"FROM unnest({', '.join(f'%s::{kind}[]' for kind in types)}) AS v({', '.join(names)}) "
        f"WHERE {' AND '.join(f't.{c} = v.w_{c}' for c in where)}"
    )
    arrays = tuple(list(column) for column in zip(*params, strict=True))
    return driver_execute(conn, sql, arrays, many=False)


@lru_cache(maxsize=512)
def _pg_type(table: Table, column: str, dialect: Any) -> str:
    return str(table.c[column].type.compile(dialect=dialect))


def driver_execute(conn: Connection, sql: str, params: Sequence[Any], *, many: bool = True) -> int:
    """Run already-converted parameters on the driver's cursor, inside the connection's transaction, and return
    the rows it reports as changed (both drivers sum them over ``executemany``). SQLAlchemy's statement
    machinery costs more than the statement itself for an interactive event's one-row writes."""
    with DriverCursor(conn, sql) as cursor:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return int(cursor.rowcount)


def marks(conn: Connection, count: int) -> str:
    """``count`` parameter markers for the connection's driver, comma-separated (an ``IN (...)`` list)."""
    return ", ".join(_marker(conn)("") for _ in range(count))


@lru_cache(maxsize=64)
def _result_plan(table: Table, columns: tuple[str, ...], dialect: Any) -> tuple[_Active, ...]:
    plan = []
    for position, name in enumerate(columns):
        process = table.c[name].type._cached_result_processor(dialect, None)
        if process is not None:
            plan.append((position, process, None))
    return tuple(plan)


def driver_rows(
    conn: Connection, table: Table, columns: Sequence[str], sql: str, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Rows of ``columns`` (selected in that order by ``sql``) as the mapped types read them: the by-key reads of
    every event, without SQLAlchemy's per-statement cost."""
    with DriverCursor(conn, sql) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    plan = _result_plan(table, tuple(columns), conn.dialect)
    return _converted(rows, plan) if plan and rows else rows


def _pg_copy(conn: Connection, sql: str, params: list[tuple[Any, ...]]) -> None:
    with DriverCursor(conn, sql) as cursor, cursor.copy(sql) as copy:
        for row in params:
            copy.write_row(row)
