"""Read models for the command line and the export: hazards as the contract shows them, their history,
notices and listings. Read-only; one query per list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from models.errors import InvalidInput, Problem
from models.lifecycle import CLOCK_RUNNING, State
from models.policy import LEVEL_RANK
from models.rules import Rules
from models.store import EventRow, HazardRow, ListingRow, NoticeRow, TransitionRow, UnitRow

_H, _T, _N, _L, _U, _E = (
    HazardRow.__table__,
    TransitionRow.__table__,
    NoticeRow.__table__,
    ListingRow.__table__,
    UnitRow.__table__,
    EventRow.__table__,
)


def _iso(value: datetime | None, rules: Rules) -> str | None:
    return rules.local_iso(value)


def hazard_view(row: Any, rules: Rules, now: datetime) -> dict[str, Any]:
    tree = rules.tree
    township = tree.units.get(row.township_code)
    county = tree.units.get(row.county_code) if row.county_code else None
    unit = tree.units.get(row.unit_code) if row.unit_code else None
    overdue = row.state in CLOCK_RUNNING and row.due_at is not None and now > row.due_at
    verification_overdue = (
        row.state == State.PENDING_VERIFICATION and row.verify_due_at is not None and now > row.verify_due_at
    )
    return {
        "id": row.id,
        "ref": row.ref,
        "title": row.title,
        "description": row.description,
        "field": row.field,
        "field_name": rules.policy.fields.get(row.field, row.field),
        "severity": row.severity,
        "state": row.state,
        "unit": row.unit_code,
        "unit_name": unit.name if unit else None,
        "township": township.name if township else row.township_code,
        "township_code": row.township_code,
        "county": county.name if county else None,
        "county_code": row.county_code,
        "village": row.village,
        "address": row.address,
        "source": row.source or None,  # stored as '' when the detection named none
        "campaign": row.campaign,
        "reporter": row.reporter,
        "level": row.level,
        "due_at": _iso(row.due_at, rules),
        "deadline_provisional": bool(row.deadline_provisional),
        "overdue": overdue,
        "overdue_days": rules.overdue_days_since(row.due_at, now) if overdue else 0,
        # the verifier's and the deciding unit's own deadlines (their lateness is theirs, not the unit's)
        "verify_due_at": _iso(row.verify_due_at, rules),
        "verification_overdue": verification_overdue,
        "verification_overdue_days": rules.overdue_days_since(row.verify_due_at, now) if verification_overdue else 0,
        "extension_decision_due_at": _iso(row.extension_due_at, rules),
        "rework_count": row.rework_count,
        "extension_count": row.extension_count,
        "pending_extension_days": row.pending_extension_days,
        "detected_at": _iso(row.detected_at, rules),
        "assigned_at": _iso(row.assigned_at, rules),
        "acknowledged_at": _iso(row.acknowledged_at, rules),
        "submitted_at": _iso(row.submitted_at, rules),
        "cleared_at": _iso(row.cleared_at, rules),
        "closed_at": _iso(row.closed_at, rules),
        "next_action_at": _iso(row.next_action_at, rules),
        "version": row.version,
    }


def list_hazards(
    conn: Connection,
    rules: Rules,
    now: datetime,
    *,
    state: str | None = None,
    township: str | None = None,
    unit: str | None = None,
    overdue: bool = False,
    level: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    check_limit(limit)
    if level and level not in LEVEL_RANK:
        known = ", ".join(LEVEL_RANK)
        raise InvalidInput([Problem(f"'{level}' is not a supervision level; the levels are {known}", field="--level")])
    stmt = select(_H).order_by(_H.c.detected_at, _H.c.id)
    if state:
        stmt = stmt.where(_H.c.state.in_(state.split(",")))
    if township:
        stmt = stmt.where(_H.c.township_code == rules.tree.resolve_township(township, field="--township").code)
    if unit:
        stmt = stmt.where(_H.c.unit_code == rules.tree.resolve_unit(unit, field="--unit").code)
    if level:
        stmt = stmt.where(_H.c.level == level)
    if overdue:
        stmt = stmt.where(_H.c.state.in_([str(s) for s in CLOCK_RUNNING]), _H.c.due_at < now)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [hazard_view(r, rules, now) for r in conn.execute(stmt)]


def check_limit(limit: int | None, field: str = "--limit") -> None:
    """A list's limit is a count of rows: 0 or a negative number is a mistake, not "no limit"."""
    if limit is not None and limit < 1:
        raise InvalidInput([Problem(f"must be a whole number of at least 1 (got {limit})", field=field)])


def ambiguous_reference(key: str, hazards: Sequence[Any], rules: Rules, *, field: str) -> Problem:
    """A bare source reference that names several hazards (of different sources): the candidates, so the operator
    can name the one meant by its id."""
    listed = []
    for h in sorted(hazards, key=lambda h: h.id):
        township = rules.tree.units.get(h.township_code)
        source = f"source '{h.source}'" if h.source else "no source"
        listed.append(f"{h.id} ({source}, {township.name if township else h.township_code})")
    return Problem(
        f"the source reference '{key}' names {len(listed)} hazards of different sources: {'; '.join(listed)}; "
        "name the hazard by its id instead",
        field=field,
    )


def find_hazard(conn: Connection, key: str, field: str = "HAZARD", rules: Rules | None = None) -> Any:
    """The hazard with this id, or else with this source reference. A reference that several sources share names
    none of them: invalid input listing the candidates (id, source, township), so the operator can give the id."""
    rows = conn.execute(select(_H).where((_H.c.id == key) | (_H.c.ref == key)).order_by(_H.c.id)).all()
    by_id = [r for r in rows if r.id == key]
    if by_id:
        return by_id[0]
    if not rows:
        raise InvalidInput([Problem(f"no hazard has the id or source reference '{key}'", field=field)])
    if len(rows) > 1:
        if rules is None:
            raise InvalidInput(
                [Problem(f"the source reference '{key}' names {len(rows)} hazards; name it by its id", field=field)]
            )
        raise InvalidInput([ambiguous_reference(key, rows, rules, field=field)])
    return rows[0]


def transition_view(row: Any, rules: Rules) -> dict[str, Any]:
    return {
        "at": _iso(row.at, rules),
        "recorded_at": _iso(row.recorded_at, rules),
        "action": row.action,
        "from": row.from_state,
        "to": row.to_state,
        "level": row.level,
        "actor": row.actor,
        "event_id": row.event_id,
        "reason": row.reason,
        "details": row.details or {},
        "hazard": row.hazard_id,
        "township": row.township_code,
    }


def notice_view(row: Any, rules: Rules) -> dict[str, Any]:
    township = rules.tree.units.get(row.township_code) if row.township_code else None
    return {
        "id": row.id,
        "kind": row.kind,
        "hazard": row.hazard_id,
        "township": township.name if township else None,
        "to": list(row.to_addrs or []),
        "cc": list(row.cc_addrs or []),
        "subject": row.subject,
        "status": row.status,
        "number": row.number,
        "recipient": row.recipient_code,
        "issuer": row.issuer_code,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "delivered_to": dict(row.delivered_to or {}),  # recipient -> when it accepted the notice
        "created_at": _iso(row.created_at, rules),
        "sent_at": _iso(row.sent_at, rules),
        "sha256": row.sha256,
        "key": row.key,
    }


def show_hazard(conn: Connection, rules: Rules, now: datetime, key: str) -> dict[str, Any]:
    row = find_hazard(conn, key, rules=rules)
    view = hazard_view(row, rules, now)
    history = conn.execute(select(_T).where(_T.c.hazard_id == row.id).order_by(_T.c.at, _T.c.id))
    view["history"] = [transition_view(t, rules) for t in history]
    notices = conn.execute(select(_N).where(_N.c.hazard_id == row.id).order_by(_N.c.id))
    view["notices"] = [notice_view(n, rules) for n in notices]
    return view


def list_notices(
    conn: Connection,
    rules: Rules,
    *,
    status: str | None = None,
    kind: str | None = None,
    hazard: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    check_limit(limit)
    stmt = select(_N).order_by(_N.c.id)
    if status:
        stmt = stmt.where(_N.c.status.in_(status.split(",")))
    if kind:
        stmt = stmt.where(_N.c.kind.in_(kind.split(",")))
    if hazard:
        stmt = stmt.where(_N.c.hazard_id == find_hazard(conn, hazard, field="--hazard", rules=rules).id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [notice_view(r, rules) for r in conn.execute(stmt)]


def listing_view(row: Any, rules: Rules) -> dict[str, Any]:
    unit = rules.tree.units.get(row.township_code)
    return {
        "id": row.id,
        "township": unit.name if unit else row.township_code,
        "township_code": row.township_code,
        "level": row.level,
        "listed_at": _iso(row.listed_at, rules),
        "listed_by": row.listed_by,
        "reason": row.reason,
        "problems": row.problems or [],
        "problem_hazards": row.problem_hazards or [],
        "figures": row.figures or {},
        "deadline": _iso(row.deadline, rules),
        "deadline_provisional": bool(row.deadline_provisional),
        "delist_proposed_at": _iso(row.delist_proposed_at, rules),
        "delisted_at": _iso(row.delisted_at, rules),
        "delisted_by": row.delisted_by,
        "delist_reason": row.delist_reason,
        "active": row.delisted_at is None,
    }


def list_listings(conn: Connection, rules: Rules, *, active_only: bool = False) -> list[dict[str, Any]]:
    stmt = select(_L).order_by(_L.c.listed_at, _L.c.id)
    if active_only:
        stmt = stmt.where(_L.c.delisted_at.is_(None))
    return [listing_view(r, rules) for r in conn.execute(stmt)]


def export_state(conn: Connection, rules: Rules, now: datetime) -> dict[str, Any]:
    units = [
        {
            "code": r.code,
            "name": r.name,
            "level": r.level,
            "parent": r.parent,
            "short": r.short,
            "emails": r.emails,
            "fields": r.fields,
            "active": r.active,
        }
        for r in conn.execute(select(_U).order_by(_U.c.code))
    ]
    hazards = [hazard_view(r, rules, now) for r in conn.execute(select(_H).order_by(_H.c.id))]
    transitions = [transition_view(r, rules) for r in conn.execute(select(_T).order_by(_T.c.id))]
    notices = [notice_view(r, rules) for r in conn.execute(select(_N).order_by(_N.c.id))]
    events = [
        {
            "event_id": r.event_id,
            "type": r.type,
            "at": _iso(r.at, rules),
            "actor": r.actor,
            "hazard": r.hazard_id,
            "outcome": r.outcome,
            "payload": json.loads(r.payload),
        }
        for r in conn.execute(select(_E).order_by(_E.c.applied_at, _E.c.event_id))
    ]
    return {
        "as_of": rules.local_iso(now),
        "units": units,
        "hazards": hazards,
        "transitions": transitions,
        "notices": notices,
        "listings": list_listings(conn, rules),
        "events": events,
    }
