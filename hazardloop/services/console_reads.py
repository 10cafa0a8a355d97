"""Reads only the web console needs: what waits for an account (工作台), the supervision overview of its area
(督办总览), and the open hazards a new report may repeat. Each is scoped to the account's jurisdiction in SQL and
reads a bounded number of rows (grouped counts, ``LIMIT``), never the whole ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal, Role
from hazardloop.models.core.listing import breaches
from hazardloop.models.store import console_queries as q
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.listing import township_figures

BOX_ROWS = 50


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
    result = Worklist()

    def box(conn: Any, key: str, label: str, query: q.BoxQuery, alarm: bool = False, more: str | None = None) -> None:
        count, rows = q.box_rows(conn, rules, now, query, BOX_ROWS)
        result.boxes.append(Box(key, label, rows, count, alarm, more_href=more))

    with unit_of_work(app.engine, write=False) as conn:
        if Role.STAFF in principal.roles:
            found = q.unit_boxes(conn, rules, now, unit.code, BOX_ROWS)
            for key, label, alarm in _UNIT_BOXES:
                count, rows = found[key]
                result.boxes.append(Box(key, label, rows, count, alarm))
        if Role.VERIFIER in principal.roles:
            box(conn, "verify", "待核查", q.to_verify(j, unit.code, unit.level))
        if Role.SUPERVISOR in principal.roles:
            box(conn, "extensions", "延期申请待审批", q.extensions_waiting(j))
            if unit.level in ("city", "county") or j.everything:
                listings = q.delisting_proposals(conn, rules, j)
                result.boxes.append(Box("delisting", "摘牌建议待确认", listings, len(listings), kind="listings"))
            box(conn, "overdue", "辖区逾期隐患", q.overdue_within(j, now), True, more="/hazards?overdue=1")
    return result


_UNIT_BOXES = (("acknowledge", "待签收", False), ("returned", "退回整改", True), ("rectify", "待整改", False))


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
        cleared = q.cleared_since(conn, codes, window_start)
        listings = q.recent_listings(conn, rules, codes)
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
            levels = q.hazard_levels(conn, sorted({str(r["hazard"]) for r in shown}))
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
    with unit_of_work(app.engine, write=False) as conn:
        return q.open_matches(
            conn, app.rules, app.clock.now(), principal.jurisdiction, ref=ref, title=title, address=address, limit=limit
        )


def ref_taken(app: App, ref: str) -> bool:
    """Whether a source reference names a hazard already, anywhere (detection refuses a repeated reference)."""
    with unit_of_work(app.engine, write=False) as conn:
        return q.ref_taken(conn, ref)
