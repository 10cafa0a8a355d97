"""The hazard ledger's rows (隐患台账): one streamed query, each hazard with its last rectification note, last
verification and invalidation reason (looked up per row through the transitions' hazard index). The workbook is
written by ``notifications.ledger``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, or_, select

from hazardloop.models.core.ledger_filter import LedgerFilter
from hazardloop.models.store.tables import HazardRow, TransitionRow

_H = HazardRow.__table__
_T = TransitionRow.__table__


def _latest(column: Any, actions: tuple[str, ...]) -> Any:
    """Per hazard row, ``column`` of its latest transition among ``actions`` (an index look-up by hazard)."""
    return (
        select(column)
        .where(_T.c.hazard_id == _H.c.id, _T.c.action.in_(actions))
        .order_by(_T.c.at.desc(), _T.c.id.desc())
        .limit(1)
        .correlate(_H)
        .scalar_subquery()
    )


def _query(flt: LedgerFilter) -> Any:
    verified = ("verification.passed", "verification.failed")
    stmt = select(
        _H,
        _latest(_T.c.reason, ("rectification.submitted",)).label("note"),
        _latest(_T.c.at, verified).label("checked_at"),
        _latest(_T.c.actor, verified).label("checker"),
        _latest(_T.c.reason, ("hazard.invalidated",)).label("void_reason"),
    ).order_by(_H.c.county_code, _H.c.detected_at, _H.c.id)
    if flt.township:
        stmt = stmt.where(_H.c.township_code == flt.township)
    if flt.county:
        stmt = stmt.where(_H.c.county_code == flt.county)
    if flt.states:
        stmt = stmt.where(_H.c.state.in_(flt.states))
    if flt.closed_since is not None:
        stmt = stmt.where(or_(_H.c.closed_at.is_(None), _H.c.closed_at >= flt.closed_since))
    for clause in flt.where:
        stmt = stmt.where(clause)
    return stmt


def ledger_rows(conn: Connection, flt: LedgerFilter) -> Iterator[Any]:
    """The ledger's rows for ``flt``, by county, detection and id, streamed in chunks so memory stays flat."""
    yield from conn.execution_options(yield_per=2000).execute(_query(flt))
