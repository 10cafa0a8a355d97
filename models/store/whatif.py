"""What-if: replay a past period's recorded events under another policy, in a scratch SQLite database, through
the same code (``apply_lines`` and ``sweep``), and set what it decides beside what really happened.

The real database is only read. The replay starts a warm-up before the period (the longer listing window of the
two policies, plus a day) so that the township figures the sweeps list by are whole when the period begins: it
replays every recorded event (as first applied: same order, same ``now``) of each hazard still open at the
warm-up's start or detected after it, and the township events from the warm-up on, with the sweep run daily at
the given times of day (the scheduler's rhythm; the demo sweeps at 08:00). Events name hazards by their source
reference in the replay (ids are numbered afresh there). Only what happened in the period is compared: the
sweep's reminders, supervisions (deadlines missed), elevations, township listings, and notices by kind, in
total and per county.

An event valid under the recorded policy may be refused under the other (a field the other policy lacks, a
transition the other policy's deadlines made impossible...): refused events are counted by type and listed,
and each difference is split into the part on hazards that had an event refused (it comes from events no longer
valid) and the rest (it comes from the policy).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, func, literal_column, select

from hazardloop.models.core.notice_kinds import NOTICE_KINDS
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.policy import Org, Policy
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.db import make_engine, unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.sweep import sweep
from hazardloop.models.store.tables import EventRow, HazardRow, ListingRow, NoticeRow, TransitionRow

# what the comparison counts: the sweep's and the supervisors' escalation steps
METRICS = {
    "deadlines_missed": ("supervised",),  # one supervision notice per deadline that passed
    "reminders": ("reminded",),
    "supervisions": ("supervised",),
    "elevations": ("elevated", "hazard.escalated"),
    "townships_listed": ("township.listed",),
}
METRIC_CN = {
    "deadlines_missed": "逾期未整改（超过整改期限）",
    "reminders": "催办",
    "supervisions": "督办",
    "elevations": "提级督办",
    "townships_listed": "挂牌督办乡镇（街道）",
}
# notices that are not decisions of the policy over hazards: reports and indicator warnings are not replayed
NOT_REPLAYED = tuple(kind for kind in NOTICE_KINDS if not NOTICE_KINDS[kind].decided_by_rules)
_T, _H, _N, _EV = TransitionRow.__table__, HazardRow.__table__, NoticeRow.__table__, EventRow.__table__
_L = ListingRow.__table__


@dataclass
class Outcome:
    totals: dict[str, int] = field(default_factory=dict)
    by_county: dict[str, dict[str, int]] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)
    listed: list[str] = field(default_factory=list)  # township names, in listing order
    per_hazard: dict[str, Counter[str]] = field(default_factory=dict)  # ref -> metric -> count

    def as_dict(self) -> dict[str, Any]:
        return {"totals": self.totals, "by_county": self.by_county, "notices": self.notices, "listed": self.listed}


@dataclass
class Replay:
    start: datetime
    end: datetime
    warmup: datetime
    events: int = 0  # replayed
    refused: list[dict[str, Any]] = field(default_factory=list)
    sweeps: int = 0
    seconds: float = 0.0


def outcome(engine: Engine, tree: OrgTree, start: datetime, end: datetime) -> Outcome:
    """What happened in ``[start, end)`` in one database: escalation steps and listings by county, notices by
    kind (grouped queries; the same function reads the real and the scratch database)."""
    out = Outcome(totals=dict.fromkeys(METRICS, 0))
    actions = sorted({a for acts in METRICS.values() for a in acts})
    county_name = {u.code: u.name for u in tree.counties()}
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(
            select(_T.c.action, _T.c.township_code, _H.c.ref, _H.c.county_code)
            .select_from(_T.outerjoin(_H, _H.c.id == _T.c.hazard_id))
            .where(_T.c.at >= start, _T.c.at < end, _T.c.action.in_(actions))
            .order_by(_T.c.at, _T.c.id)
        ).all()
        notices = conn.execute(
            select(_N.c.kind, func.count())
            .where(_N.c.created_at >= start, _N.c.created_at < end, _N.c.kind.not_in(NOT_REPLAYED))
            .group_by(_N.c.kind)
        ).all()
    for action, township, ref, county in rows:
        if county is None and township is not None:
            unit = tree.county_of(township) if township in tree.units else None
            county = unit.code if unit else None
        county_label = county_name.get(county or "", "市直")
        for metric, acts in METRICS.items():
            if action in acts:
                out.totals[metric] += 1
                out.by_county.setdefault(county_label, dict.fromkeys(METRICS, 0))[metric] += 1
                if ref is not None:
                    out.per_hazard.setdefault(ref, Counter())[metric] += 1
        if action == "township.listed":
            out.listed.append(tree.get(township).name if township in tree.units else str(township))
    out.notices = {kind: n for kind, n in sorted(notices)}
    return out


def _instant(day: date, policy: Policy, hhmm: time = time(0)) -> datetime:
    return datetime.combine(day, hhmm, tzinfo=policy.tz)


def replay(
    real: Engine,
    real_policy: Policy,
    other: Policy,
    org: Org,
    first: date,
    last: date,
    scratch_url: str,
    *,
    sweep_times: tuple[time, ...] = (time(8),),
    progress: Callable[[str], None] | None = None,
) -> tuple[Replay, Engine]:
    """Replay into the scratch database at ``scratch_url`` (made here); returns the replay's account and engine."""
    import time as clock

    started = clock.perf_counter()
    start, end = _instant(first, other), _instant(last + timedelta(days=1), other)
    window = max(real_policy.listing.window_days, other.listing.window_days) + 1
    warmup_day = first - timedelta(days=window)
    warmup = _instant(warmup_day, other)
    account = Replay(start, end, warmup)
    tree = OrgTree(org)
    rules = Rules.build(other, tree)
    scratch = make_engine(scratch_url)
    upgrade(scratch)
    sync_units(scratch, org)
    longest = max(
        [other.deadlines.general, other.deadlines.major]
        + [d for f in other.deadlines.by_field.values() for d in (f.general, f.major)]
    )
    groups = _recorded_groups(real, warmup, end, warmup - timedelta(days=2 * longest))
    listings = _listings_at(real, warmup)
    sweeps = [
        _instant(warmup_day + timedelta(days=d), other, t)
        for d in range((last - warmup_day).days + 1)
        for t in sorted(sweep_times)
    ]
    sweeps = [s for s in sweeps if warmup <= s < end]
    # interleave: every group applied at its recorded ``now``, every sweep at its instant, in time order
    timeline: list[tuple[datetime, int, Any]] = [(now, 1, lines) for now, lines in groups]
    timeline += [(s, 0, None) for s in sweeps]
    timeline.sort(key=lambda item: (item[0], item[1]))
    seeded = False
    for now, kind, lines in timeline:
        if kind == 0:
            if not seeded:  # the townships under listing when the warm-up starts, as they really were
                _seed_listings(scratch, listings)
                seeded = True
            sweep(scratch, rules, now)
            account.sweeps += 1
            continue
        numbered = [(n, text) for n, (text, _type, _ref) in enumerate(lines, start=1)]
        report = apply_lines(scratch, rules, numbered, source="replay", now=now, partial=True)
        account.events += len(lines)
        for problem in report.rejected:
            text, event_type, ref = lines[(problem.line or 1) - 1]
            account.refused.append(
                {"type": event_type, "hazard": ref, "at": json.loads(text)["at"], "reason": problem.message}
            )
        if progress:
            progress(now.date().isoformat())
    account.seconds = clock.perf_counter() - started
    return account, scratch


def _recorded_groups(
    real: Engine, warmup: datetime, end: datetime, reach: datetime
) -> list[tuple[datetime, list[Any]]]:
    """The recorded events to replay, grouped by the ``now`` they were applied at, in their first order; each
    as (payload with the hazard named by its reference, type, reference)."""
    closed = func.coalesce(_H.c.closed_at, _H.c.cleared_at)
    with unit_of_work(real, write=False) as conn:
        # a hazard counts for the replay's figures if it is still open at the warm-up, or its deadline falls after
        # the warm-up's start (the listing's clearance rate goes by deadline), or it was detected recently enough
        # for a longer deadline of the other policy to fall there
        relevant = select(_H.c.id).where(
            _H.c.detected_at < end,
            (closed.is_(None)) | (closed >= warmup) | (_H.c.due_at >= warmup) | (_H.c.detected_at >= reach),
        )
        refs = dict(conn.execute(select(_H.c.id, _H.c.ref).where(_H.c.id.in_(relevant))).all())
        # the order they were first applied in: by the ``now`` of their file, then (SQLite) the order they were
        # written, which is the file's; PostgreSQL keeps no insertion order, so by instant and id there
        if real.dialect.name == "sqlite":
            order = (_EV.c.applied_at, literal_column("events.rowid"))
        else:
            order = (_EV.c.applied_at, _EV.c.at, _EV.c.event_id)
        query = (
            select(_EV.c.applied_at, _EV.c.type, _EV.c.hazard_id, _EV.c.payload)
            .where(
                _EV.c.at < end,
                _EV.c.outcome == "applied",
                (_EV.c.hazard_id.in_(relevant)) | ((_EV.c.hazard_id.is_(None)) & (_EV.c.at >= warmup)),
            )
            .order_by(*order)
        )
        groups: dict[datetime, list[Any]] = defaultdict(list)
        for applied_at, event_type, hazard_id, payload in conn.execute(query):
            data = json.loads(payload)
            ref = None
            if event_type == "hazard.detected":
                ref = data["hazard"]["ref"]
            elif hazard_id is not None:
                ref = refs.get(hazard_id)
                data["hazard"] = ref  # the engine's ids are numbered afresh in the replay: name it by reference
            groups[applied_at].append((json.dumps(data, ensure_ascii=False), event_type, ref))
    return sorted(groups.items(), key=lambda item: item[0])


def _listings_at(real: Engine, instant: datetime) -> list[dict[str, Any]]:
    """The listings active at ``instant`` in the real database, with their problem hazards named by reference."""
    with unit_of_work(real, write=False) as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(_L).where(_L.c.listed_at < instant, (_L.c.delisted_at.is_(None)) | (_L.c.delisted_at >= instant))
            )
        ]
        ids = sorted({h for r in rows for h in (r["problem_hazards"] or [])})
        refs = dict(conn.execute(select(_H.c.id, _H.c.ref).where(_H.c.id.in_(ids))).all()) if ids else {}
    for r in rows:
        r["problem_hazards"] = [refs[h] for h in r["problem_hazards"] or [] if h in refs]
        if r["delist_proposed_at"] is not None and r["delist_proposed_at"] >= instant:
            r["delist_proposed_at"] = None
        r.update(delisted_at=None, delisted_by=None, delist_reason=None, active_key=r["township_code"])
    return rows


def _seed_listings(scratch: Engine, rows: list[dict[str, Any]]) -> None:
    """A replay that starts at a warm-up starts from the listings then in force: those were decided before it,
    by sweeps it does not replay. Their problem hazards are the scratch database's hazards of the same reference."""
    if not rows:
        return
    with unit_of_work(scratch) as conn:
        refs = sorted({ref for r in rows for ref in r["problem_hazards"]})
        ids = dict(conn.execute(select(_H.c.ref, _H.c.id).where(_H.c.ref.in_(refs))).all()) if refs else {}
        for r in rows:
            conn.execute(
                _L.insert().values(**{**r, "problem_hazards": [ids[ref] for ref in r["problem_hazards"] if ref in ids]})
            )


def compare(real: Outcome, what_if: Outcome, refused: list[dict[str, Any]]) -> dict[str, Any]:
    """Side by side, with each hazard-level difference split by cause."""
    invalid_refs = {r["hazard"] for r in refused if r["hazard"]}
    rows = []
    for metric in METRICS:
        a, b = real.totals[metric], what_if.totals[metric]
        from_events = 0
        if metric != "townships_listed":
            for ref in invalid_refs:
                from_events += (
                    what_if.per_hazard.get(ref, Counter())[metric] - real.per_hazard.get(ref, Counter())[metric]
                )
        rows.append(
            {
                "metric": metric,
                "name": METRIC_CN[metric],
                "real": a,
                "what_if": b,
                "difference": b - a,
                "from_policy": b - a - from_events,
                "from_invalid_events": from_events,
            }
        )
    counties = sorted(set(real.by_county) | set(what_if.by_county))
    by_county = [
        {
            "county": c,
            **{
                m: {"real": real.by_county.get(c, {}).get(m, 0), "what_if": what_if.by_county.get(c, {}).get(m, 0)}
                for m in METRICS
            },
        }
        for c in counties
    ]
    kinds = sorted(set(real.notices) | set(what_if.notices))
    notices = [{"kind": k, "real": real.notices.get(k, 0), "what_if": what_if.notices.get(k, 0)} for k in kinds]
    refused_by_type = dict(sorted(Counter(r["type"] for r in refused).items()))
    return {
        "metrics": rows,
        "by_county": by_county,
        "notices": notices,
        "listed": {"real": real.listed, "what_if": what_if.listed},
        "refused": {"count": len(refused), "by_type": refused_by_type, "events": refused[:200]},
    }
