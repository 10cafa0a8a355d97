"""The web console's reads (``hazardloop/services/console_reads.py``): the counts and newest rows of the 工作台's
boxes, the supervision overview's cleared counts, listings and current levels, and the open hazards a new report
may repeat. Each is scoped to a jurisdiction in SQL and reads a bounded number of rows (grouped counts, ``LIMIT``).

A box is named by what it holds (`BoxQuery`); the service decides which boxes an account sees and what they are
called."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, false, func, or_, select, true

from hazardloop.models.core.authz import Jurisdiction
from hazardloop.models.core.lifecycle import CLOCK_RUNNING, OPEN
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.queries import hazard_view, hazards_within, listing_view
from hazardloop.models.store.tables import HazardRow, ListingRow

_H, _L = HazardRow.__table__, ListingRow.__table__
_RUNNING = [str(s) for s in CLOCK_RUNNING]
_OPEN = [str(s) for s in OPEN]
UNIT_BOXES = ("acknowledge", "returned", "rectify")  # a responsible unit's boxes, by the state of its open work


def hazard_scope(j: Jurisdiction) -> ColumnElement[bool]:
    """The jurisdiction as a WHERE clause on hazards (``queries.hazards_within``; true for everything)."""
    clause = hazards_within(j)
    return true() if clause is None else clause


@dataclass(frozen=True)
class BoxQuery:
    """Which hazards a box holds: an opaque condition built by the functions below."""

    where: ColumnElement[bool]


def to_verify(j: Jurisdiction, unit_code: str, unit_level: str) -> BoxQuery:
    """The hazards waiting for the unit's verification: a township verifies its hazards except where it is itself the
    responsible unit (the county does); a department verifies none; above the township, the hazards a township is
    itself responsible for."""
    if unit_level in ("township", "area"):
        towns = sorted(j.townships) or [unit_code]
        waiting = and_(_H.c.township_code.in_(towns), _H.c.unit_code != unit_code)
    elif unit_level == "department":
        waiting = false()
    else:
        waiting = and_(hazard_scope(j), _H.c.unit_code == _H.c.township_code)
    return BoxQuery(and_(waiting, _H.c.state == "pending_verification"))


def extensions_waiting(j: Jurisdiction) -> BoxQuery:
    return BoxQuery(and_(hazard_scope(j), _H.c.state.in_(_RUNNING), _H.c.pending_extension_days.is_not(None)))


def overdue_within(j: Jurisdiction, now: datetime) -> BoxQuery:
    return BoxQuery(and_(hazard_scope(j), _H.c.state.in_(_RUNNING), _H.c.due_at < now))


def box_rows(
    conn: Connection, rules: Rules, now: datetime, box: BoxQuery, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many hazards the box holds, and its ``limit`` newest deadlines."""
    count = conn.execute(select(func.count()).select_from(_H).where(box.where)).scalar_one()
    if not count:
        return 0, []
    stmt = select(_H).where(box.where).order_by(_H.c.due_at.is_(None), _H.c.due_at.desc(), _H.c.id.desc()).limit(limit)
    return int(count), [hazard_view(r, rules, now) for r in conn.execute(stmt)]


def unit_boxes(
    conn: Connection, rules: Rules, now: datetime, unit_code: str, limit: int
) -> dict[str, tuple[int, list[dict[str, Any]]]]:
    """A responsible unit's three boxes (`UNIT_BOXES`) from two statements over its open work (one grouped count, one
    read of the newest deadlines), instead of a count and a read per box: a city department answers for thousands of
    hazards, and each statement walks its index entries."""
    mine = and_(_H.c.unit_code == unit_code, _H.c.state.in_(_RUNNING))
    which = case((_H.c.state == "assigned", "acknowledge"), (_H.c.rework_count > 0, "returned"), else_="rectify").label(
        "box"
    )
    counts = dict(conn.execute(select(which, func.count()).where(mine).group_by(which)).all())
    rows: dict[str, list[dict[str, Any]]] = {key: [] for key in UNIT_BOXES}
    if counts:
        stmt = select(_H, which).where(mine).order_by(_H.c.due_at.is_(None), _H.c.due_at.desc(), _H.c.id.desc())
        for r in conn.execute(stmt.limit(limit * len(UNIT_BOXES) * 4)):
            if len(rows[r.box]) < limit:
                rows[r.box].append(hazard_view(r, rules, now))
        for key, shown in rows.items():  # a box crowded out by the others' newer deadlines is read on its own
            if len(shown) < min(limit, counts.get(key, 0)):
                own = conn.execute(stmt.where(which == key).limit(limit))
                rows[key] = [hazard_view(r, rules, now) for r in own]
    return {key: (int(counts.get(key, 0)), rows[key]) for key in UNIT_BOXES}


def delisting_proposals(conn: Connection, rules: Rules, j: Jurisdiction) -> list[dict[str, Any]]:
    """The listings in force whose delisting the sweep proposed, oldest proposal first."""
    stmt = select(_L).where(_L.c.delisted_at.is_(None), _L.c.delist_proposed_at.is_not(None))
    if not j.everything:
        stmt = stmt.where(_L.c.township_code.in_(sorted(j.townships)))
    return [listing_view(r, rules) for r in conn.execute(stmt.order_by(_L.c.delist_proposed_at))]


def cleared_since(conn: Connection, codes: list[str], since: datetime) -> dict[str, tuple[int, int]]:
    """Per township: hazards cleared since ``since``, and how many of them by their deadline."""
    stmt = (
        select(
            _H.c.township_code,
            func.count(),
            func.sum(case((_H.c.cleared_at <= _H.c.due_at, 1), else_=0)),
        )
        .where(_H.c.state == "cleared", _H.c.cleared_at >= since, _H.c.township_code.in_(codes))
        .group_by(_H.c.township_code)
    )
    return {code: (int(n), int(on_time or 0)) for code, n, on_time in conn.execute(stmt)}


def recent_listings(conn: Connection, rules: Rules, codes: list[str], limit: int = 200) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(_L).where(_L.c.township_code.in_(codes)).order_by(_L.c.listed_at.desc(), _L.c.id.desc()).limit(limit)
    )
    return [listing_view(r, rules) for r in rows]


def hazard_levels(conn: Connection, ids: list[str]) -> dict[str, str]:
    """The supervision level of each of these hazards now."""
    return dict(conn.execute(select(_H.c.id, _H.c.level).where(_H.c.id.in_(ids))).all())


def open_matches(
    conn: Connection,
    rules: Rules,
    now: datetime,
    j: Jurisdiction,
    *,
    ref: str | None,
    title: str,
    address: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Open hazards within ``j`` whose source reference is ``ref``, or whose title and address are these."""
    terms = []
    if ref:
        terms.append(_H.c.ref == ref)
    if title.strip():
        same_place = _H.c.address == address if address else _H.c.address.is_(None)
        terms.append(and_(_H.c.title == title.strip(), same_place))
    if not terms:
        return []
    stmt = (
        select(_H)
        .where(or_(*terms), _H.c.state.in_(_OPEN), hazard_scope(j))
        .order_by(_H.c.detected_at.desc())
        .limit(limit)
    )
    return [hazard_view(r, rules, now) for r in conn.execute(stmt)]


def ref_taken(conn: Connection, ref: str) -> bool:
    return conn.execute(select(_H.c.id).where(_H.c.ref == ref).limit(1)).first() is not None
