"""The report notices' SQL: which reports are queued already, queueing the missing ones numbered once under the
city's document counter, a queued report's stored context, and the figures of a period (with the indicator
section when ``indicators.yaml`` has points in the scope).

The notices are written in one short transaction that first locks the city's document-number counter, re-checks
which keys exist and numbers only the missing ones, so two runs at once queue each report once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from hazardloop.models.core.figures import Scope
from hazardloop.models.core.indicators import IndicatorSet
from hazardloop.models.core.periods import Period
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.analysis import build_figures
from hazardloop.models.store.audit import seal_days, sealed_roots
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.indicator_analysis import indicator_figures
from hazardloop.models.store.repository import Counters, insert_notices
from hazardloop.models.store.tables import NoticeRow

_N = NoticeRow.__table__


def queued_reports(engine: Engine, keys: Sequence[str]) -> dict[str, Any]:
    """The notices already holding these idempotency keys, by key (``number``, ``id``, ``status``)."""
    with unit_of_work(engine, write=False) as conn:
        return _queued_in(conn, keys)


def _queued_in(conn: Connection, keys: Sequence[str]) -> dict[str, Any]:
    rows = conn.execute(select(_N.c.key, _N.c.number, _N.c.id, _N.c.status).where(_N.c.key.in_(list(keys))))
    return {r.key: r for r in rows}


def report_figures(
    engine: Engine, rules: Rules, period: Period, scopes: list[Scope], indicators: IndicatorSet | None = None
) -> dict[str, dict[str, Any]]:
    """The figures of ``period`` for each scope, by scope code (they only read)."""
    with unit_of_work(engine, write=False) as conn:
        figures = build_figures(conn, rules, period, scopes)
        if indicators is not None and indicators.points:  # the indicator section (一指标一举措), when configured
            for scope in scopes:
                section = indicator_figures(conn, rules, indicators, period, scope)
                if section is not None:
                    figures[scope.code]["indicators"] = section
        return figures


def queue_missing_reports(
    engine: Engine,
    rules: Rules,
    scopes: list[Scope],
    keys: dict[str, str],
    make_row: Callable[[Scope, int], dict[str, Any]],
    now: datetime,
    audit_day: date | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Insert the report notice of every scope whose key (``keys[scope.code]``) is not taken, numbered in turn
    (``make_row(scope, seq)`` builds the outbox row); returns ``(queued, already)``. Raises ``IntegrityError`` when
    another run inserted one of them in between (the caller tries again). A daily report carries its day's audit
    root (``audit_day``; the complete days are sealed first), so that the mail anchors it."""
    queued: list[dict[str, Any]] = []
    already: list[dict[str, Any]] = []
    with unit_of_work(engine) as conn:
        counters = Counters(conn)
        scope_name = "DOC:" + rules.tree.city.code
        year = now.astimezone(rules.policy.tz).year
        counters.peek(scope_name, year)  # takes the numbering row's lock first: a second run waits here
        found = _queued_in(conn, list(keys.values()))
        audit_root = _sealed_root(conn, rules, audit_day, now) if audit_day is not None else None
        rows = []
        for scope in scopes:
            key = keys[scope.code]
            if key in found:
                already.append({"scope": scope.code, "key": key, "number": found[key].number, "notice": found[key].id})
                continue
            row = make_row(scope, counters.next(scope_name, year))
            if audit_root is not None:
                row["context"]["audit_root"] = audit_root
            rows.append(row)
            queued.append({"scope": scope.code, "key": key, "number": row["number"], "to": row["to_addrs"]})
        insert_notices(conn, rows)
        counters.flush()
    return queued, already


def _sealed_root(conn: Any, rules: Rules, day: date, now: datetime) -> dict[str, Any] | None:
    seal_days(conn, rules.policy.tz, now)
    found = sealed_roots(conn, [day.isoformat()])
    return found[0].as_dict() if found else None


def stored_report_context(engine: Engine, key: str) -> dict[str, Any] | None:
    """The context a queued report notice stores (its figures and document keys), or None if none was queued."""
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(select(_N.c.context).where(_N.c.key == key)).first()
    return dict(row.context) if row else None
