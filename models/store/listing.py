"""Township listing for elevated supervision (提级挂牌督办), the store's half: the figures read in two grouped
queries, automatic listing by the sweep, delisting proposals, and the manual ``supervise`` / ``delist`` commands,
with their locks and writes. What is decided (thresholds, who may list or delist, the notices) is pure and lives in
``models.core.listing``.

The sweep runs every quarter of an hour, and most of its runs find nothing new; the figures cost two grouped
queries over all open hazards. So each evaluation leaves a mark (``listing_marks``, written in its transaction)
and a sweep skips the evaluation when the mark shows it would decide exactly as before, that is when nothing
the figures and the decisions depend on has changed:
- the hazards change only together with a transition (every state, assignment and deadline change writes one,
  as does every listing and delisting): no transition may have been written since, nor committed since by a
  PostgreSQL writer that was in flight during the evaluation. The one writer without transitions,
  ``models.deadlines.recompute_provisional``, has to call ``forget_evaluation`` when it moves a deadline;
- the clock moves a hazard into the overdue count and into the clearance window when ``now`` passes its
  deadline, and out of the window ``window_days`` later: no deadline may lie in [evaluated_at, now) nor in
  [evaluated_at - window, now - window) (``due_at`` is indexed), and ``now`` may not be earlier than the
  mark's (a sweep as of an earlier instant always evaluates);
- the listing thresholds, the townships the organisation knows and the active listings as the sweep reads
  them go into a fingerprint that must match.
Anything else, or any doubt, evaluates as before and moves the mark.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, case, delete, func, insert, select, text, update

from hazardloop.models.core.events import TownshipDelisted, TownshipListed
from hazardloop.models.core.lifecycle import CLOCK_RUNNING, OPEN
from hazardloop.models.core.listing import (
    Figures,
    breaches,
    check_may_delist,
    check_may_list,
    delisting_effects,
    listing_deadline,
    listing_effects,
    not_recovered_refusal,
    proposal_change,
    recovered,
    replaced_reason,
    townships_to_list,
)
from hazardloop.models.store.tables import HazardRow, ListingMarkRow, ListingRow, TransitionRow

if TYPE_CHECKING:
    from hazardloop.models.core.rules import Rules
    from hazardloop.models.store.effects import EffectWriter

_H = HazardRow.__table__
_L = ListingRow.__table__
_M = ListingMarkRow.__table__
_T = TransitionRow.__table__
_RUNNING = [str(s) for s in CLOCK_RUNNING]
_OPEN = [str(s) for s in OPEN]


def township_figures(
    conn: Connection, rules: Rules, now: datetime, codes: list[str] | None = None
) -> dict[str, Figures]:
    """Two grouped queries that read only what matters — open hazards (by state) and hazards that fell due in
    the window (by deadline) — so the cost follows the open work, not the size of the ledger."""
    window_start = now - timedelta(days=rules.policy.listing.window_days)
    late = _H.c.due_at < now
    open_stmt = (
        select(
            _H.c.township_code,
            func.count(),
            func.sum(case((_H.c.state.in_(_RUNNING) & late, 1), else_=0)),
            func.sum(case((_H.c.state.in_(_RUNNING) & late & (_H.c.severity == "major"), 1), else_=0)),
        )
        .where(_H.c.state.in_(_OPEN))
        .group_by(_H.c.township_code)
    )
    due_stmt = (
        select(_H.c.township_code, func.count(), func.sum(case((_H.c.state == "cleared", 1), else_=0)))
        .where(_H.c.due_at >= window_start, _H.c.due_at < now, _H.c.state != "invalid")
        .group_by(_H.c.township_code)
    )
    if codes is not None:
        open_stmt = open_stmt.where(_H.c.township_code.in_(codes))
        due_stmt = due_stmt.where(_H.c.township_code.in_(codes))
    counts: dict[str, list[int]] = {}
    for code, n_open, overdue, overdue_major in conn.execute(open_stmt):
        counts[code] = [int(n_open), int(overdue or 0), int(overdue_major or 0), 0, 0]
    for code, n_due, n_cleared in conn.execute(due_stmt):
        row = counts.setdefault(code, [0, 0, 0, 0, 0])
        row[3], row[4] = int(n_due), int(n_cleared or 0)
    return {code: Figures(code, *values) for code, values in counts.items()}


def active_listings(conn: Connection) -> dict[str, Any]:
    return {r.township_code: r for r in conn.execute(select(_L).where(_L.c.delisted_at.is_(None)))}


def _overdue_ids(conn: Connection, township: str, now: datetime, limit: int = 50) -> list[str]:
    stmt = (
        select(_H.c.id)
        .where(_H.c.township_code == township, _H.c.state.in_(_RUNNING), _H.c.due_at < now)
        .order_by(_H.c.due_at, _H.c.id)  # ties broken by id: the same list (and notice) whatever the row order
        .limit(limit)
    )
    return [r[0] for r in conn.execute(stmt)]


def _listing_count(conn: Connection, township: str) -> int:
    return int(conn.execute(select(func.count()).select_from(_L).where(_L.c.township_code == township)).scalar() or 0)


def list_township(
    conn: Connection,
    rules: Rules,
    writer: EffectWriter,
    township: str,
    *,
    at: datetime,
    actor: str,
    level: str,
    reason: str,
    problems: list[str],
    figures: Figures | None,
    event_id: str | None = None,
    manual: bool = False,
    current: Any = None,
) -> None:
    """List a township; ``current`` is its active listing, if any (replaced by this one)."""
    if current is not None:
        conn.execute(
            update(_L)
            .where(_L.c.id == current.id)
            .values(delisted_at=at, delisted_by=actor, delist_reason=replaced_reason(level), active_key=None)
        )
    # counted like a hazard's deadline: provisional where it runs into a year whose holidays are not published,
    # and recomputed from (listed_at, deadline_days) by ``models.deadlines.recompute_provisional``
    deadline = listing_deadline(rules, at)
    problem_hazards = _overdue_ids(conn, township, at)
    fig = figures.as_dict(rules.policy.listing.window_days) if figures else {}
    conn.execute(
        insert(_L).values(
            township_code=township,
            level=level,
            listed_at=at,
            listed_by=actor,
            reason=reason,
            problems=problems,
            problem_hazards=problem_hazards,
            figures=fig,
            deadline=deadline.at,
            deadline_provisional=deadline.provisional,
            deadline_days=deadline.days,
            delist_proposed_at=None,
            delisted_at=None,
            delisted_by=None,
            delist_reason=None,
            active_key=township,
        )
    )
    effects = listing_effects(
        rules,
        township,
        _listing_count(conn, township),
        at=at,
        actor=actor,
        level=level,
        reason=reason,
        problems=problems,
        figures=fig,
        deadline=deadline,
        problem_hazards=problem_hazards,
        event_id=event_id,
        manual=manual,
    )
    writer.record(effects, {})


def delist_township(
    conn: Connection,
    rules: Rules,
    writer: EffectWriter,
    listing: Any,
    *,
    at: datetime,
    actor: str,
    reason: str,
    event_id: str | None = None,
    actor_person: str | None = None,
) -> None:
    conn.execute(
        update(_L)
        .where(_L.c.id == listing.id)
        .values(delisted_at=at, delisted_by=actor, delist_reason=reason, active_key=None)
    )
    effects = delisting_effects(
        rules, listing, at=at, actor=actor, reason=reason, event_id=event_id, actor_person=actor_person
    )
    writer.record(effects, {})


def apply_event(
    conn: Connection,
    rules: Rules,
    event: TownshipListed | TownshipDelisted,
    now: datetime,
    writer: EffectWriter,
) -> str:
    """A supervisor lists or delists a township by hand; returns the township's code."""
    tree = rules.tree
    township = tree.resolve_township(event.township)
    actor = tree.parse_actor(event.actor)
    serialize_listing(conn)
    current = active_listings(conn).get(township.code)
    if isinstance(event, TownshipListed):
        check_may_list(tree, township, actor, current)
        assert actor.unit is not None  # a supervisor, as checked
        figures = township_figures(conn, rules, event.at, [township.code]).get(township.code)
        problems = breaches(rules, figures) if figures else []
        list_township(
            conn,
            rules,
            writer,
            township.code,
            at=event.at,
            actor=actor.raw,
            level=actor.unit.level,
            reason=event.reason,
            problems=problems or [event.reason],
            figures=figures,
            event_id=event.event_id,
            manual=True,
            current=current,
        )
    else:
        check_may_delist(tree, township, actor, current)
        if not event.force:
            _require_recovered(conn, rules, township.code, township.name, current, event.at)
        delist_township(
            conn,
            rules,
            writer,
            current,
            at=event.at,
            actor=actor.raw,
            reason=event.reason,
            event_id=event.event_id,
            actor_person=actor.person,
        )
    return township.code


def serialize_listing(conn: Connection) -> None:
    """Listing decisions read the active listings and then write: on PostgreSQL two sweepers (or a sweeper and
    a supervisor) take turns through a transaction-scoped advisory lock. SQLite writers are serialised already."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7240116)")


@dataclass(frozen=True)
class ListingSweep:
    listed: list[str]
    delist_proposed: list[str]
    evaluated: bool  # False when the mark showed the figures could not have changed


def sweep_listings(conn: Connection, rules: Rules, now: datetime, writer: EffectWriter) -> ListingSweep:
    """List townships that break the policy; propose delisting for listed ones that recovered. The caller
    flushes ``writer`` in this same transaction: the mark counts its transitions as already reflected."""
    serialize_listing(conn)  # the check, the evaluation and the mark as one step per sweeper
    if figures_unchanged(conn, rules, now):
        return ListingSweep([], [], evaluated=False)
    seen = _seen(conn)  # before the first figure is read: the mark must not claim more than the figures saw
    figures = township_figures(conn, rules, now)
    listed = active_listings(conn)
    newly, proposed = [], []
    for chosen in townships_to_list(rules, figures, listed):
        problems = chosen.problems
        list_township(
            conn,
            rules,
            writer,
            chosen.township_code,
            at=now,
            actor="system",
            level="city",
            reason="；".join(problems),
            problems=problems,
            figures=chosen.figures,
        )
        newly.append(chosen.township_code)
    for code, current in listed.items():
        still_open, breached = _unrecovered(conn, rules, current, figures.get(code))
        change = proposal_change(recovered(still_open, breached), current.delist_proposed_at is not None)
        if change is True:
            conn.execute(update(_L).where(_L.c.id == current.id).values(delist_proposed_at=now))
            proposed.append(code)
        elif change is False:
            conn.execute(update(_L).where(_L.c.id == current.id).values(delist_proposed_at=None))
    # The decisions just taken are a fixed point (listed townships are not listed again, proposals are not
    # proposed again), so the state they leave — listings and transitions included — is what the mark describes.
    _write_mark(conn, rules, now, seen, own_transitions=len(writer.transitions))
    return ListingSweep(newly, proposed, evaluated=True)


# --- the mark of the last evaluation ----------------------------------------------------------------------

MARK = "township_figures"
# Part of the fingerprint: bump it when the code changes what the figures or the decisions depend on.
_MARK_VERSION = 1


@dataclass(frozen=True)
class _Seen:
    """What an evaluation is about to see of the transitions: every id up to ``transition_id`` except those
    written by the PostgreSQL transactions ``in_flight`` (committed later, or never)."""

    transition_id: int
    in_flight: list[str]


# On PostgreSQL the ids come from a sequence, handed out before commit: a writer still in flight can hold an
# id below the highest visible one, and would commit unseen under a mark that only kept that id. So the
# statement that reads the highest id also takes the in-progress transactions of its own snapshot that hold a
# lock on ``transitions`` (the rows below the highest id that it cannot see can only be theirs: every writer
# writes its hazard or listing row, which gives it its transaction id, before its transitions). Those that
# no longer hold the lock when pg_locks is read have ended, and the figures, read by later statements, see
# them. Transactions of other databases never count.
_PG_SEEN = text(
    """
    SELECT (SELECT max(id) FROM transitions),
           ARRAY(SELECT CAST(x AS text) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
                 WHERE CAST(x AS xid) IN (
                     SELECT t.transactionid FROM pg_locks AS r
                     JOIN pg_locks AS t ON t.virtualtransaction = r.virtualtransaction
                      AND t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock'
                     WHERE r.locktype = 'relation' AND r.relation = CAST('transitions' AS regclass)
                       AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
    """
)
_PG_STATUS = text("SELECT pg_xact_status(CAST(x AS xid8)) FROM unnest(CAST(:xids AS text[])) AS x")


def _seen(conn: Connection) -> _Seen:
    if conn.dialect.name == "postgresql":
        top, in_flight = conn.execute(_PG_SEEN).one()
        return _Seen(int(top or 0), sorted(in_flight or []))
    # SQLite: this is a write transaction (BEGIN IMMEDIATE), so no other writer is half-way.
    return _Seen(int(conn.execute(select(func.max(_T.c.id))).scalar() or 0), [])


def _fingerprint(conn: Connection, rules: Rules) -> str:
    """What besides the hazards and the clock the figures and the decisions read: the listing thresholds (and
    window), the units the organisation knows, and the active listings as the sweep reads them. A listing's
    problems and problem hazards are written once, with the row, so its id stands for them."""
    listings = [
        [r.id, r.township_code, r.level, r.delist_proposed_at.isoformat() if r.delist_proposed_at else None]
        for r in conn.execute(
            select(_L.c.id, _L.c.township_code, _L.c.level, _L.c.delist_proposed_at)
            .where(_L.c.delisted_at.is_(None))
            .order_by(_L.c.id)
        )
    ]
    state = {
        "version": _MARK_VERSION,
        "listing": rules.policy.listing.model_dump(mode="json"),
        "units": sorted(rules.tree.units),
        "listings": listings,
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _deadline_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Whether some hazard's deadline lies in [start, end): an index range probe on ``due_at``."""
    return select(_H.c.due_at).where(_H.c.due_at >= start, _H.c.due_at < end).exists()  # covered by the index


def figures_unchanged(conn: Connection, rules: Rules, now: datetime) -> bool:
    """Whether an evaluation as of ``now`` would see exactly what the last one saw (see the module's docstring).
    A few indexed reads whatever the size of the ledger."""
    mark = conn.execute(select(_M).where(_M.c.name == MARK)).one_or_none()
    if mark is None or now < mark.evaluated_at or mark.fingerprint != _fingerprint(conn, rules):
        return False
    since, window = mark.evaluated_at, timedelta(days=rules.policy.listing.window_days)
    # Counted up to one more than the mark's own: enough to tell, and with ``ORDER BY id LIMIT`` PostgreSQL walks
    # the primary key even when its statistics on ``transitions`` are stale (else it may scan the whole table).
    ahead = (
        select(_T.c.id).where(_T.c.id > mark.transition_id).order_by(_T.c.id).limit(mark.own_transitions + 1).subquery()
    )
    newer = select(func.count()).select_from(ahead).scalar_subquery()
    # Overdue is ``due_at < now`` and the window ``now - window <= due_at < now``: a hazard changes sides when
    # its deadline lies in [since, now) (late, and into the window) or in [since - window, now - window) (out).
    probe = select(newer, _deadline_in(since, now), _deadline_in(since - window, now - window))
    written, crossed, left_window = conn.execute(probe).one()
    # != rather than >: the mark's own transitions are counted, and fewer would mean rows went missing
    if written != mark.own_transitions or crossed or left_window:
        return False
    return not _committed_since(conn, list(mark.in_flight or []))


def _committed_since(conn: Connection, xids: list[str]) -> bool:
    """Whether a writer that was in flight at the last evaluation may have committed since."""
    if not xids:
        return False
    if conn.dialect.name != "postgresql":
        return True
    statuses = conn.execute(_PG_STATUS, {"xids": xids}).scalars()
    # Still in progress: invisible now as then. Aborted: never visible. Committed, or too old for the commit
    # log to tell (NULL): its transitions may be among those below the mark's id.
    return any(s not in ("in progress", "aborted") for s in statuses)


def _write_mark(conn: Connection, rules: Rules, now: datetime, seen: _Seen, *, own_transitions: int) -> None:
    values = {
        "evaluated_at": now,
        "transition_id": seen.transition_id,
        "own_transitions": own_transitions,
        "in_flight": seen.in_flight,
        "fingerprint": _fingerprint(conn, rules),  # after this evaluation's own listing changes
    }
    if not conn.execute(update(_M).where(_M.c.name == MARK).values(**values)).rowcount:
        conn.execute(insert(_M).values(name=MARK, **values))


def forget_evaluation(conn: Connection) -> None:
    """Make the next sweep evaluate the figures, whatever the mark says: for a writer that changes hazards
    without writing a transition (``models.deadlines.recompute_provisional`` moves deadlines that way)."""
    conn.execute(delete(_M).where(_M.c.name == MARK))


def _unrecovered(conn: Connection, rules: Rules, listing: Any, figures: Figures | None) -> tuple[list[str], list[str]]:
    """What stands between a listed township and its delisting (摘牌): its listed hazards that are still open, and
    the policy thresholds its figures still break. Both empty: it has recovered, so the sweep proposes delisting
    and a supervisor may delist."""
    listed = listing.problem_hazards or []
    still_open: list[str] = []
    if listed:
        stmt = select(_H.c.id).where(_H.c.id.in_(listed), _H.c.state.in_(OPEN)).order_by(_H.c.id)
        still_open = [r[0] for r in conn.execute(stmt)]
    return still_open, breaches(rules, figures) if figures else []


def _require_recovered(conn: Connection, rules: Rules, code: str, name: str, listing: Any, at: datetime) -> None:
    still_open, breached = _unrecovered(conn, rules, listing, township_figures(conn, rules, at, [code]).get(code))
    refusal = not_recovered_refusal(name, still_open, len(listing.problem_hazards or []), breached)
    if refusal is not None:
        raise refusal
