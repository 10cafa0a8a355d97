"""Township listing for elevated supervision (提级挂牌督办): the figures, the thresholds, automatic
listing by the sweep, delisting proposals, and the manual ``supervise`` / ``delist`` commands.

Figures per township, as of ``now`` (one grouped query over all townships):
- overdue: open hazards whose deadline has passed while the unit owes the work (assigned or rectifying);
- overdue_major: the same, for major hazards;
- clearance rate: of the hazards whose deadline fell in the last ``window_days`` days, the share cleared
  by now (only judged when at least ``min_hazards_for_rate`` fell due).
A township breaks the policy when overdue > max_overdue, overdue_major > max_overdue_major or the clearance
rate < min_clearance_rate. A listed township is proposed for delisting when its figures are back within
bounds and every hazard named in its listing is closed; delisting itself needs a supervisor.

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

from hazardloop.models.core.calendar import end_of_day
from hazardloop.models.core.errors import Refused
from hazardloop.models.core.events import TownshipDelisted, TownshipListed
from hazardloop.models.core.hazard import Effects, NoticeIntent, Transition
from hazardloop.models.core.lifecycle import CLOCK_RUNNING, OPEN
from hazardloop.models.core.policy import LEVEL_CN, LEVEL_RANK
from hazardloop.models.store.tables import HazardRow, ListingMarkRow, ListingRow, TransitionRow

if TYPE_CHECKING:
    from hazardloop.models.core.rules import Rules
    from hazardloop.models.store.intake import EffectWriter

_H = HazardRow.__table__
_L = ListingRow.__table__
_M = ListingMarkRow.__table__
_T = TransitionRow.__table__
_RUNNING = [str(s) for s in CLOCK_RUNNING]
_OPEN = [str(s) for s in OPEN]


@dataclass(frozen=True)
class Figures:
    township_code: str
    open: int
    overdue: int
    overdue_major: int
    due_in_window: int
    cleared_of_due: int

    @property
    def clearance_rate(self) -> float | None:
        return self.cleared_of_due / self.due_in_window if self.due_in_window else None

    def as_dict(self, window_days: int) -> dict[str, Any]:
        rate = self.clearance_rate
        return {
            "open": self.open,
            "overdue": self.overdue,
            "overdue_major": self.overdue_major,
            "due_in_window": self.due_in_window,
            "clearance_rate": round(rate, 4) if rate is not None else None,
            "window_days": window_days,
        }


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


def breaches(rules: Rules, f: Figures) -> list[str]:
    """The policy thresholds a township's figures break, each as a plain Chinese problem statement."""
    lim = rules.policy.listing
    found: list[str] = []
    if f.overdue > lim.max_overdue:
        found.append(f"逾期未整改隐患{f.overdue}件，超过{lim.max_overdue}件的限值")
    if f.overdue_major > lim.max_overdue_major:
        found.append(f"重大隐患逾期未整改{f.overdue_major}件，超过{lim.max_overdue_major}件的限值")
    rate = f.clearance_rate
    if rate is not None and f.due_in_window >= lim.min_hazards_for_rate and rate < lim.min_clearance_rate:
        found.append(f"近{lim.window_days}日到期隐患整改销号率{rate:.1%}，低于{lim.min_clearance_rate:.0%}的要求")
    return found


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
    tree, tz = rules.tree, rules.policy.tz
    if current is not None:
        conn.execute(
            update(_L)
            .where(_L.c.id == current.id)
            .values(
                delisted_at=at, delisted_by=actor, delist_reason=f"提级为{LEVEL_CN[level]}挂牌督办", active_key=None
            )
        )
    # counted like a hazard's deadline: provisional where it runs into a year whose holidays are not published,
    # and recomputed from (listed_at, deadline_days) by ``models.deadlines.recompute_provisional``
    deadline_days = rules.policy.listing.deadline_days
    deadline_day = rules.calendar.add_working_days(rules.local_day(at), deadline_days)
    deadline = end_of_day(deadline_day, tz)
    provisional = rules.calendar.span_provisional(rules.local_day(at), deadline_day)
    problem_hazards = _overdue_ids(conn, township, at)
    window = rules.policy.listing.window_days
    fig = figures.as_dict(window) if figures else {}
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
            deadline=deadline,
            deadline_provisional=provisional,
            deadline_days=deadline_days,
            delist_proposed_at=None,
            delisted_at=None,
            delisted_by=None,
            delist_reason=None,
            active_key=township,
        )
    )
    seq = _listing_count(conn, township)
    issuer = tree.supervising_unit(township, level)
    key = f"listing:{township}:{seq}"
    writer.transitions.append(
        Transition(
            None,
            township,
            "township.listed",
            None,
            None,
            at,
            actor,
            event_id=event_id,
            reason=reason,
            level=level,
            cause_key=key,
            details={"problems": problems, "figures": fig},
        )
    )
    _township_notice(
        rules,
        writer,
        "listing",
        key,
        township,
        issuer.code,
        at,
        {
            "reason": reason,
            "problems": problems,
            "manual": manual,
            "deadline": deadline_day.isoformat(),
            "deadline_provisional": provisional,
            "figures": {
                "overdue": fig.get("overdue", 0),
                "overdue_major": fig.get("overdue_major", 0),
                "clearance_rate": fig.get("clearance_rate"),
                "window_days": window,
            },
            "problem_hazards": problem_hazards,
        },
    )


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
    tree = rules.tree
    township = listing.township_code
    conn.execute(
        update(_L)
        .where(_L.c.id == listing.id)
        .values(delisted_at=at, delisted_by=actor, delist_reason=reason, active_key=None)
    )
    key = f"delisting:{township}:{listing.id}"
    writer.transitions.append(
        Transition(
            None,
            township,
            "township.delisted",
            None,
            None,
            at,
            actor,
            event_id=event_id,
            reason=reason,
            level=listing.level,
            cause_key=key,
        )
    )
    issuer = tree.find(actor.split("/")[0]) or tree.supervising_unit(township, listing.level)
    _township_notice(
        rules,
        writer,
        "delisting",
        key,
        township,
        issuer.code,
        at,
        {
            "reason": reason,
            "listed_on": rules.local_day(listing.listed_at).isoformat(),
            # the notice names the confirming office, with the person after it when one was given
            "actor_name": issuer.name,
            "actor_person": actor_person,
        },
    )


def _township_notice(
    rules: Rules,
    writer: EffectWriter,
    kind: str,
    key: str,
    township: str,
    issuer: str,
    at: datetime,
    extra: dict[str, Any],
) -> None:
    """A listing or delisting notice: to the township, copies to its county and the issuing office."""
    unit, county = rules.tree.get(township), rules.tree.county_of(township)
    cc = tuple(c for c in (county.code if county else None, issuer) if c and c != township)
    extra["township"] = {"name": unit.name, "code": unit.code, "county": county.name if county else ""}
    writer.record(Effects(notices=[NoticeIntent(kind, key, None, township, township, cc, issuer, at, extra)]), {})


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
    if actor.unit is None or actor.unit.code not in {u.code for u in tree.supervisors(township.code)}:
        raise Refused(
            f"{actor.unit.name if actor.unit else actor.raw} has no jurisdiction over {township.name}", field="actor"
        )
    rank = tree.supervisor_rank(actor.unit)
    if isinstance(event, TownshipListed):
        if rank < LEVEL_RANK["county"]:
            raise Refused(
                f"{actor.unit.name} may not list a township; listing is for the county or the city", field="actor"
            )
        if current is not None and LEVEL_RANK[current.level] >= rank:
            raise Refused(
                f"{township.name} is already under {current.level}-level listed supervision", field="township"
            )
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
        if current is None:
            raise Refused(f"{township.name} is not under listed supervision", field="township")
        if rank < LEVEL_RANK[current.level]:
            raise Refused(
                f"{actor.unit.name} may not delist {township.name}: it was listed at {current.level} "
                "level, so delisting needs that level or above",
                field="actor",
            )
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
    for code, f in sorted(figures.items()):
        if code not in rules.tree.units:
            continue
        problems = breaches(rules, f)
        current = listed.get(code)
        if problems and current is None:
            list_township(
                conn,
                rules,
                writer,
                code,
                at=now,
                actor="system",
                level="city",
                reason="；".join(problems),
                problems=problems,
                figures=f,
            )
            newly.append(code)
    for code, current in listed.items():
        still_open, breached = _unrecovered(conn, rules, current, figures.get(code))
        recovered = not still_open and not breached
        if recovered and current.delist_proposed_at is None:
            conn.execute(update(_L).where(_L.c.id == current.id).values(delist_proposed_at=now))
            proposed.append(code)
        elif not recovered and current.delist_proposed_at is not None:
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
    why = []
    if still_open:
        shown = ", ".join(still_open[:5]) + (f" and {len(still_open) - 5} more" if len(still_open) > 5 else "")
        listed = len(listing.problem_hazards or [])
        why.append(f"{len(still_open)} of its {listed} listed hazards are still open ({shown})")
    if breached:
        why.append("its figures still break the policy: " + "；".join(breached))
    if why:
        raise Refused(
            f"{name} cannot be delisted yet: {'; '.join(why)}. Delist it once they are cleared (the sweep proposes "
            'it then), or delist with --force ("force": true in an event) if the listing was made in error',
            field="township",
        )
