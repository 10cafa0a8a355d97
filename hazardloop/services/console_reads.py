"""Reads only the web console needs: what waits for an account (工作台), the supervision overview of its area
(督办总览), and the open hazards a new report may repeat. Each is scoped to the account's jurisdiction in SQL and
reads a bounded number of rows (grouped counts, ``LIMIT``), never the whole ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Jurisdiction, Principal, Role
from hazardloop.models.core.lifecycle import CLOCK_RUNNING, OPEN
from hazardloop.models.core.listing import breaches
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.listing import township_figures
from hazardloop.models.store.queries import hazard_view, hazards_within, listing_view
from hazardloop.models.store.tables import HazardRow, ListingRow

_H, _L = HazardRow.__table__, ListingRow.__table__
_RUNNING = [str(s) for s in CLOCK_RUNNING]
_OPEN = [str(s) for s in OPEN]
BOX_ROWS = 50


def hazard_scope(j: Jurisdiction) -> ColumnElement[bool]:
    """The jurisdiction as a WHERE clause on hazards (``models.queries.hazards_within``; true for everything)."""
    clause = hazards_within(j)
    return true() if clause is None else clause


@dataclass
class Box:
    key: str
    label: str
    rows: list[dict[str, Any]]
    count: int
    alarm: bool = False
    kind: str = "hazards"
    more_href: str | None = None


@dataclass
class Worklist:
    boxes: list[Box] = field(default_factory=list)


def worklist(app: App, principal: Principal, now: datetime) -> Worklist:
    """What waits for this account, newest deadline first in each box."""
    rules, tree, j = app.rules, app.tree, principal.jurisdiction
    unit = tree.units[principal.unit_code]
    scope = hazard_scope(j)
    result = Worklist()
    late = and_(_H.c.state.in_(_RUNNING), _H.c.due_at < now)

    def box(conn: Any, key: str, label: str, where: ColumnElement[bool], alarm: bool = False, more: str | None = None):
        count = conn.execute(select(func.count()).select_from(_H).where(where)).scalar_one()
        stmt = (
            select(_H).where(where).order_by(_H.c.due_at.is_(None), _H.c.due_at.desc(), _H.c.id.desc()).limit(BOX_ROWS)
        )
        rows = [hazard_view(r, rules, now) for r in conn.execute(stmt)] if count else []
        result.boxes.append(Box(key, label, rows, int(count), alarm, more_href=more))

    with unit_of_work(app.engine, write=False) as conn:
        if Role.STAFF in principal.roles:
            _unit_boxes(conn, rules, now, unit.code, result)
        if Role.VERIFIER in principal.roles:
            if unit.level in ("township", "area"):
                # the township verifies its hazards, except where it is itself the responsible unit (the county does)
                towns = sorted(j.townships) or [unit.code]
                waiting = and_(_H.c.township_code.in_(towns), _H.c.unit_code != unit.code)
            elif unit.level == "department":
                waiting = false()  # a department answers for hazards; it verifies none
            else:
                # above the township: the hazards a township is itself responsible for (their verifier is the county)
                waiting = and_(scope, _H.c.unit_code == _H.c.township_code)
            box(conn, "verify", "待核查", and_(waiting, _H.c.state == "pending_verification"))
        if Role.SUPERVISOR in principal.roles:
            box(
                conn,
                "extensions",
                "延期申请待审批",
                and_(scope, _H.c.state.in_(_RUNNING), _H.c.pending_extension_days.is_not(None)),
            )
            if unit.level in ("city", "county") or j.everything:
                stmt = select(_L).where(_L.c.delisted_at.is_(None), _L.c.delist_proposed_at.is_not(None))
                if not j.everything:
                    stmt = stmt.where(_L.c.township_code.in_(sorted(j.townships)))
                listings = [listing_view(r, rules) for r in conn.execute(stmt.order_by(_L.c.delist_proposed_at))]
                result.boxes.append(Box("delisting", "摘牌建议待确认", listings, len(listings), kind="listings"))
            box(conn, "overdue", "辖区逾期隐患", and_(scope, late), True, more="/hazards?overdue=1")
    return result


_UNIT_BOXES = (("acknowledge", "待签收", False), ("returned", "退回整改", True), ("rectify", "待整改", False))


def _unit_boxes(conn: Any, rules: Any, now: datetime, unit_code: str, result: Worklist) -> None:
    """A responsible unit's three boxes from two statements over its open work (one grouped count, one read of the
    newest deadlines), instead of a count and a read per box: a city department answers for thousands of hazards,
    and each statement walks its index entries."""
    mine = and_(_H.c.unit_code == unit_code, _H.c.state.in_(_RUNNING))
    which = case((_H.c.state == "assigned", "acknowledge"), (_H.c.rework_count > 0, "returned"), else_="rectify").label(
        "box"
    )
    counts = dict(conn.execute(select(which, func.count()).where(mine).group_by(which)).all())
    rows: dict[str, list[dict[str, Any]]] = {key: [] for key, _label, _alarm in _UNIT_BOXES}
    if counts:
        stmt = select(_H, which).where(mine).order_by(_H.c.due_at.is_(None), _H.c.due_at.desc(), _H.c.id.desc())
        for r in conn.execute(stmt.limit(BOX_ROWS * len(_UNIT_BOXES) * 4)):
            if len(rows[r.box]) < BOX_ROWS:
                rows[r.box].append(hazard_view(r, rules, now))
        for key, shown in rows.items():  # a box crowded out by the others' newer deadlines is read on its own
            if len(shown) < min(BOX_ROWS, counts.get(key, 0)):
                own = conn.execute(stmt.where(which == key).limit(BOX_ROWS))
                rows[key] = [hazard_view(r, rules, now) for r in own]
    for key, label, alarm in _UNIT_BOXES:
        result.boxes.append(Box(key, label, rows[key], int(counts.get(key, 0)), alarm))


@dataclass
class TownshipLine:
    code: str
    name: str
    county: str | None
    open: int
    overdue: int
    cleared: int
    clearance_rate: float | None
    on_time_rate: float | None
    listing: dict[str, Any] | None
    problems: list[str]
    cue: str  # "bad", "warn" or "" (a colour for the eye; the figures say the same in words)


@dataclass
class Overview:
    townships: list[TownshipLine]
    listings: list[dict[str, Any]]
    preview: list[dict[str, Any]]
    preview_more: int
    totals: dict[str, Any]
    window_days: int


def overview(
    app: App, principal: Principal, now: datetime, *, preview_days: int = 7, preview_rows: int = 200
) -> Overview:
    """Each township of the account's area with its open and overdue hazards, its clearance and on-time rates over
    the listing window (as the listing rule counts them) and its listing; the listings with their history; what the
    sweep will do in the next days."""
    from hazardloop.models.store.sweep import preview as sweep_preview

    rules, tree, j = app.rules, app.tree, principal.jurisdiction
    towns = [u for u in tree.townships() if j.sees_township(u.code)]
    codes = [u.code for u in towns]
    window_start = now - timedelta(days=rules.policy.listing.window_days)
    with unit_of_work(app.engine, write=False) as conn:
        figures = township_figures(conn, rules, now, codes)
        cleared_stmt = (
            select(
                _H.c.township_code,
                func.count(),
                func.sum(case((_H.c.cleared_at <= _H.c.due_at, 1), else_=0)),
            )
            .where(_H.c.state == "cleared", _H.c.cleared_at >= window_start, _H.c.township_code.in_(codes))
            .group_by(_H.c.township_code)
        )
        cleared = {code: (int(n), int(on_time or 0)) for code, n, on_time in conn.execute(cleared_stmt)}
        listing_rows = conn.execute(
            select(_L).where(_L.c.township_code.in_(codes)).order_by(_L.c.listed_at.desc(), _L.c.id.desc()).limit(200)
        )
        listings = [listing_view(r, rules) for r in listing_rows]
    active = {row["township_code"]: row for row in listings if row["active"]}
    lines: list[TownshipLine] = []
    lim = rules.policy.listing
    for unit in towns:
        f = figures.get(unit.code)
        n_cleared, on_time = cleared.get(unit.code, (0, 0))
        problems = breaches(rules, f) if f else []
        rate = f.clearance_rate if f else None
        low_rate = rate is not None and rate < lim.min_clearance_rate + 0.1
        overdue = f.overdue if f else 0
        cue = "bad" if problems else ("warn" if overdue or low_rate else "")
        county = tree.county_of(unit.code)
        lines.append(
            TownshipLine(
                unit.code,
                unit.name,
                county.name if county and county.code != unit.code and j.everything else None,
                f.open if f else 0,
                overdue,
                n_cleared,
                rate,
                on_time / n_cleared if n_cleared else None,
                active.get(unit.code),
                problems,
                cue,
            )
        )
    lines.sort(key=lambda t: ({"bad": 0, "warn": 1}.get(t.cue, 2), -t.overdue, t.code))
    rows = [r for r in sweep_preview(app.engine, rules, now, preview_days) if j.sees_township(str(r["township"]))]
    shown = rows[:preview_rows]
    if shown:  # the hazards' supervision levels now, so the page offers only escalations that go upwards
        with unit_of_work(app.engine, write=False) as conn:
            ids = sorted({str(r["hazard"]) for r in shown})
            levels = dict(conn.execute(select(_H.c.id, _H.c.level).where(_H.c.id.in_(ids))).all())
        for r in shown:
            r["current_level"] = levels.get(str(r["hazard"]), "none")
    totals_open = sum(t.open for t in lines)
    due = sum(f.due_in_window for f in figures.values())
    cleared_due = sum(f.cleared_of_due for f in figures.values())
    all_cleared = sum(n for n, _ in cleared.values())
    totals = {
        "open": totals_open,
        "overdue": sum(t.overdue for t in lines),
        "clearance_rate": cleared_due / due if due else None,
        "on_time_rate": sum(o for _, o in cleared.values()) / all_cleared if all_cleared else None,
    }
    return Overview(lines, listings, shown, max(0, len(rows) - preview_rows), totals, lim.window_days)


def possible_duplicates(
    app: App, principal: Principal, *, ref: str | None, title: str, address: str | None, limit: int = 10
) -> list[dict[str, Any]]:
    """Open hazards the account can see whose source reference is ``ref``, or whose title and address are these."""
    terms = []
    if ref:
        terms.append(_H.c.ref == ref)
    if title.strip():
        same_place = _H.c.address == address if address else _H.c.address.is_(None)
        terms.append(and_(_H.c.title == title.strip(), same_place))
    if not terms:
        return []
    now = app.clock.now()
    stmt = (
        select(_H)
        .where(or_(*terms), _H.c.state.in_(_OPEN), hazard_scope(principal.jurisdiction))
        .order_by(_H.c.detected_at.desc())
        .limit(limit)
    )
    with unit_of_work(app.engine, write=False) as conn:
        return [hazard_view(r, app.rules, now) for r in conn.execute(stmt)]


def ref_taken(app: App, ref: str) -> bool:
    """Whether a source reference names a hazard already, anywhere (detection refuses a repeated reference)."""
    with unit_of_work(app.engine, write=False) as conn:
        return conn.execute(select(_H.c.id).where(_H.c.ref == ref).limit(1)).first() is not None
