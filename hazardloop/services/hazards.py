"""Use cases on hazards: list and show them within the caller's jurisdiction, act on one, report (detect) one, and
apply a batch of events. The command line, the HTTP API and the console call these.

Every change goes through ``models.intake`` (the one code path of ``apply``), with the principal's audit columns
and a guard that applies the authorisation decision (``models.authz.decide``) to each event once its hazard is
loaded and locked, so a hazard that moved out of reach in between is judged as it is now."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import (
    EVENT_ACTIONS,
    HAZARD_ACTION_EVENTS,
    Action,
    AreaTarget,
    Decision,
    HazardTarget,
    Principal,
    Target,
    TownshipTarget,
    decide,
    role_refusal_words,
)
from hazardloop.models.core.errors import InvalidInput, NotFound, Problem, Refused, Rejections
from hazardloop.models.core.events import (
    EVENT_ADAPTER,
    EVENT_ID_ADAPTER,
    Event,
    HazardDetected,
    TownshipDelisted,
    TownshipListed,
)
from hazardloop.models.core.hazard import Hazard
from hazardloop.models.core.lifecycle import State
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.policy import Unit
from hazardloop.models.core.text import text_problem
from hazardloop.models.core.vocabulary import LEVEL_NAMES
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.intake import ApplyReport, Guard, apply_event, apply_lines, parse_lines
from hazardloop.models.store.queries import find_hazard, hazard_id_of, list_hazards, show_hazard
from hazardloop.models.store.repository import stored_events

MAX_PAGE = 500


@dataclass(frozen=True)
class HazardFilter:
    state: str | None = None
    township: str | None = None
    unit: str | None = None
    field: str | None = None
    overdue: bool = False
    level: str | None = None
    q: str | None = None
    limit: int = 50
    cursor: str | None = None
    since: date | None = None  # detected on or after this day (the policy's time zone)
    until: date | None = None  # detected on or before this day
    newest_first: bool = False


@dataclass
class HazardPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(detected_at: str, hazard_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([detected_at, hazard_id])).decode().rstrip("=")


def decode_cursor(cursor: str, field_name: str = "cursor") -> tuple[datetime, str]:
    try:
        at, hazard_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(hazard_id, str) or text_problem(hazard_id, multi_line=False):
            raise ValueError("not a hazard id")  # a made-up cursor may hold NUL, which PostgreSQL cannot take
        return datetime.fromisoformat(at), hazard_id
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidInput(
            [Problem("the cursor is not one this server gave out; start again without it", field=field_name)]
        ) from None


def check_states(state: str | None, field_name: str) -> None:
    if state:
        bad = [s for s in state.split(",") if s not in {str(x) for x in State}]
        if bad:
            raise InvalidInput(
                [Problem(f"unknown state(s) {bad}; states are {[str(s) for s in State]}", field=field_name)]
            )


def check_levels(level: str | None, field_name: str) -> None:
    if level:
        known = tuple(LEVEL_NAMES)
        bad = [v for v in level.split(",") if v not in known]
        if bad:
            raise InvalidInput([Problem(f"unknown level(s) {bad}; levels are {list(known)}", field=field_name)])


def township_filter(
    app: App, principal: Principal, flt: HazardFilter, option: Callable[[str], str] = lambda name: name
) -> HazardFilter:
    """``flt`` with its township named by code as the account sees it: a name is looked for among the townships of
    its area (for 西县's supervisor, 城关镇 is 西县's), and a township outside the area is answered as one that does
    not exist, in the same words, so that the filter tells nothing of what lies outside."""
    j = principal.jurisdiction
    if not flt.township or j.everything:
        return flt
    levels = ("township", "area")
    field_name = option("township")
    unit = app.tree.find(flt.township, field_name, levels=levels, where=lambda u: j.sees_area(u.code))
    if unit is None or not j.sees_area(unit.code):
        # true of an unknown name and of a township elsewhere alike, which are answered the same
        raise InvalidInput([Problem(f"'{flt.township}' is not a township of this account's area", field=field_name)])
    return replace(flt, township=unit.code)


def list_rows(
    app: App,
    principal: Principal,
    flt: HazardFilter,
    *,
    limit: int | None,
    option: Callable[[str], str] = lambda name: name,
) -> list[dict[str, Any]]:
    """Hazards within the principal's jurisdiction matching ``flt``, in detection order from ``flt.cursor``, at most
    ``limit`` (None: all, for the command line's ``hazards``). ``option`` names the filters in problems."""
    check_states(flt.state, option("state"))
    check_levels(flt.level, option("level"))
    flt = township_filter(app, principal, flt, option)
    after = decode_cursor(flt.cursor) if flt.cursor else None
    with unit_of_work(app.engine, write=False) as conn:
        return list_hazards(
            conn,
            app.rules,
            app.clock.now(),
            state=flt.state,
            township=flt.township,
            unit=flt.unit,
            field=flt.field,
            overdue=flt.overdue,
            level=flt.level,
            q=flt.q,
            limit=limit,
            within=principal.jurisdiction,
            after=after,
            option=option,
            detected_from=_day_start(app, flt.since),
            detected_before=_day_start(app, flt.until + timedelta(days=1) if flt.until else None),
            newest_first=flt.newest_first,
        )


def _day_start(app: App, day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=app.policy.tz) if day is not None else None


def list_page(app: App, principal: Principal, flt: HazardFilter) -> HazardPage:
    """One page of hazards within the principal's jurisdiction, in detection order (keyset: never loads the rest)."""
    limit = max(1, min(flt.limit, MAX_PAGE))
    rows = list_rows(app, principal, flt, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = encode_cursor(_utc_iso(last["detected_at"]), last["id"])
    return HazardPage(rows, cursor)


def _utc_iso(local_iso: str) -> str:
    return datetime.fromisoformat(local_iso).isoformat()


def show(app: App, principal: Principal, key: str, field_name: str = "hazard") -> dict[str, Any]:
    """One hazard with its history and notices; ``NotFound`` outside the jurisdiction."""
    with unit_of_work(app.engine, write=False) as conn:
        return show_hazard(conn, app.rules, app.clock.now(), key, within=principal.jurisdiction, field=field_name)


# --- changes ----------------------------------------------------------------------------------------------------


def _target_of(h: Hazard | Any) -> HazardTarget:
    return HazardTarget(h.township_code, h.unit_code, h.field, h.reporter, h.village)


def _role_refusal(principal: Principal, action: Action) -> Refused:
    return Refused(role_refusal_words(principal, action), field="actor")


def _detected_township(tree: OrgTree, event: HazardDetected) -> Unit | None:
    """The township a detection names (by code, or by name within the county it gives); None where the rules will
    refuse it (unknown, or a name several townships share)."""
    try:
        county = tree.find(event.hazard.county, levels=("county",)) if event.hazard.county else None
        return tree.resolve_township(event.hazard.township, within=county.code if county else None)
    except InvalidInput:
        return None


def guard_for(app: App, principal: Principal) -> Guard:
    """Each event judged against the principal: outside the jurisdiction the hazard (or township) does not exist;
    inside, the role table decides."""
    tree = app.tree

    def guard(event: Event, h: Hazard | None) -> None:
        action = EVENT_ACTIONS[event.type]
        target: Target | None = None
        if h is not None:
            target = _target_of(h)
        elif isinstance(event, HazardDetected):
            township = _detected_township(tree, event)
            if township is None:
                return  # the rules name the unknown (or ambiguous) township
            target = AreaTarget(township.code)
        elif isinstance(event, TownshipListed | TownshipDelisted):
            try:
                township = tree.find(event.township, levels=("township", "area"))
            except InvalidInput:  # a name several townships share: the rules say so
                return
            if township is None:
                return
            target = TownshipTarget(township.code)
        if target is None:
            return
        decision = decide(principal, action, target)
        if decision is Decision.ALLOWED:
            return
        if decision is Decision.FORBIDDEN:
            raise _role_refusal(principal, action)
        if h is not None:
            raise InvalidInput(
                [Problem(f"no hazard has the id or source reference '{getattr(event, 'hazard', '')}'", field="hazard")]
            )
        if isinstance(event, HazardDetected):
            raise InvalidInput(
                [
                    Problem(
                        f"'{event.hazard.township}' is not in the area of {tree.units[principal.unit_code].name}, "
                        "so this account may not report a hazard there",
                        field="hazard.township",
                    )
                ]
            )
        raise InvalidInput(
            [
                Problem(
                    f"'{getattr(event, 'township', '')}' is not a township in this account's jurisdiction",
                    field="township",
                )
            ]
        )

    return guard


@dataclass
class ActionResult:
    hazard: dict[str, Any]
    event_id: str
    duplicate: bool
    notices: int = 0


def one_event_error(exc: Rejections) -> Exception:
    """One action, one event: its refusal as ``Refused`` (403/409) or its problems as ``InvalidInput`` (422),
    without the synthetic 'line 1'."""
    problems = _single(exc.problems)
    if len(problems) == 1 and problems[0].refused:
        return Refused(problems[0].message, field=problems[0].field)
    return InvalidInput(problems) if any(not p.refused for p in problems) else Rejections(problems)


def _single(problems: Sequence[Problem], field_names: dict[str, str] | None = None) -> list[Problem]:
    """One action, one event: its problems without the synthetic 'line 1'."""
    names = field_names or {}
    return [Problem(p.message, field=names.get(p.field or "", p.field), refused=p.refused) for p in problems]


def _validated(payload: dict[str, Any]) -> Event:
    try:
        return EVENT_ADAPTER.validate_python(payload)
    except ValidationError as exc:
        from hazardloop.models.core.validation import problems_from

        raise InvalidInput(problems_from(exc, source=None, line=None)) from None


def act(
    app: App,
    principal: Principal,
    key: str,
    action: Action,
    fields: dict[str, Any],
    event_id: str | None = None,
) -> ActionResult:
    """``action`` on the hazard ``key`` (id or source reference) by ``principal``, with the event's own ``fields``.
    ``event_id`` makes a retry safe: the same id again is answered as a duplicate, changing nothing."""
    event_type = HAZARD_ACTION_EVENTS.get(action)
    if event_type is None:
        raise InvalidInput([Problem(f"'{action}' is not an action on a hazard", field="action")])
    now = app.clock.now()
    with unit_of_work(app.engine, write=False) as conn:
        row = find_hazard(conn, key, field="hazard", rules=app.rules, within=principal.jurisdiction)
    if decide(principal, action, _target_of(row)) is Decision.FORBIDDEN:
        raise _role_refusal(principal, action)
    if event_id is not None:
        _check_event_id(event_id)  # before it is looked up: PostgreSQL cannot hold a NUL at all
        earlier = _earlier(app, principal, event_id, event_type, row.id)
        if earlier is not None:
            return earlier
    eid = event_id or f"api:{uuid.uuid4()}"
    payload = {
        **fields,
        "type": event_type,
        "event_id": eid,
        "at": now.isoformat(),
        "actor": principal.actor,
        "hazard": row.id,
    }
    event = _validated(payload)
    try:
        report = apply_event(
            app.engine,
            app.rules,
            event,
            now=now,
            source="request",
            principal=principal.audit(),
            guard=guard_for(app, principal),
        )
    except Rejections as exc:
        raise one_event_error(exc) from None
    view = show(app, principal, row.id)
    return ActionResult(view, eid, duplicate=report.duplicates > 0 and report.applied == 0, notices=report.notices)


def _check_event_id(event_id: str) -> None:
    """The event id's own rule, checked by the events' field type itself (one line of text, 1 to 200 characters)."""
    try:
        EVENT_ID_ADAPTER.validate_python(event_id)
    except ValidationError as exc:
        from hazardloop.models.core.validation import problems_from

        found = problems_from(exc, source=None, line=None)
        raise InvalidInput([replace(p, field="event_id") for p in found]) from None


def _earlier(app: App, principal: Principal, event_id: str, event_type: str, hazard_id: str) -> ActionResult | None:
    """A retry: the event_id was applied before. The same action by the same account on the same hazard is answered
    with the first outcome (nothing changes); anything else under that id is refused as a reused event_id."""
    with unit_of_work(app.engine, write=False) as conn:
        stored = stored_events(conn, [event_id]).get(event_id)
    if stored is None:
        return None
    payload, stored_hazard = stored
    first = orjson.loads(payload)
    if first.get("type") != event_type or first.get("actor") != principal.actor or stored_hazard != hazard_id:
        raise InvalidInput(
            [
                Problem(
                    f"event_id '{event_id}' was already used for a different event; an event_id may identify one "
                    "event only",
                    field="event_id",
                )
            ]
        )
    return ActionResult(show(app, principal, hazard_id), event_id, duplicate=True)


def detect(app: App, principal: Principal, hazard: dict[str, Any], event_id: str | None = None) -> ActionResult:
    """Report a hazard (``hazard.detected``) as ``principal``, in its area; ``event_id`` for a safe retry (the same id
    again answers with the hazard it created)."""
    eid = event_id or f"{principal.via}:{uuid.uuid4()}"
    payload = {"type": "hazard.detected", "actor": principal.actor, "hazard": hazard, "event_id": eid}
    try:
        report = record_manual(app, principal, payload)
    except Rejections as exc:
        raise one_event_error(exc) from None
    with unit_of_work(app.engine, write=False) as conn:
        hazard_id = report.created[0] if report.created else None
        if hazard_id is None:  # a duplicate: the event, or the source reference, was seen before
            stored = stored_events(conn, [eid]).get(eid)
            hazard_id = stored[1] if stored else hazard_id_of(conn, hazard.get("source"), str(hazard.get("ref")))
    return ActionResult(
        show(app, principal, hazard_id),
        eid,
        duplicate=not report.created,
        notices=report.notices,
    )


def record_manual(app: App, principal: Principal, payload: dict[str, Any]) -> ApplyReport:
    """A manual command's one event (``escalate``, ``supervise``, ``delist`` of the command line, the API's
    township actions): stamped now, applied with the principal's audit columns and guard."""
    now = app.clock.now()
    payload = {"event_id": f"{principal.via}:{uuid.uuid4()}", "at": now.isoformat(), **payload}
    event = _validated(payload)
    return apply_event(
        app.engine,
        app.rules,
        event,
        now=now,
        principal=principal.audit(),
        guard=guard_for(app, principal),
    )


def apply_events(
    app: App,
    principal: Principal,
    lines: Sequence[tuple[int, str]],
    *,
    source: str,
    partial: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ApplyReport:
    """A batch of contract events (``apply``'s code path, chunked, all-or-nothing unless ``partial``). For a proven
    principal every event acts as the account: an event naming another actor is refused (its line named)."""
    return apply_lines(
        app.engine,
        app.rules,
        lines,
        source=source,
        now=app.clock.now(),
        partial=partial,
        chunk_lines=app.settings.intake_chunk_lines,
        progress=progress,
        principal=principal.audit(),
        acting=principal.actor if principal.proven else None,
        guard=guard_for(app, principal) if principal.proven else None,
    )


def check_event_lines(lines: Sequence[tuple[int, str]], source: str, now: datetime) -> list[Problem]:
    """Every line's problems against the event schema, as of ``now``: nothing is read or written."""
    problems: list[Problem] = []
    parse_lines(lines, source, now, problems)
    return problems


def not_found(message: str, field_name: str) -> NotFound:
    return NotFound([Problem(message, field=field_name)])
