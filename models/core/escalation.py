"""The escalation ladder (催办 → 督办 → 提级) as pure functions of a hazard, the policy and ``now``.

Each rung has an instant; a rung fires when ``now`` has reached it, once per cause. The transition and the
notice are dated when the engine acts (the sweep's ``now``), with the instant the rung fell due kept in the
transition's details, so a history read in time order never shows a state before it happened:
- acknowledgement reminder: once per assignment, ``acknowledge_within_days`` working days after it;
- deadline reminder: once per deadline, at the start of the working day ``remind_before_days`` working days
  before the due day;
- supervision (督办): once per deadline, at the first instant after the deadline (the hazard is overdue);
- elevation (提级): once per level; to ``major_overdue_to`` at once for an overdue major hazard, to county
  after ``county_after_days`` and to city after ``city_after_days`` working days overdue.
The other duties have clocks of their own, chased the same way (``Rung.duty``):
- verification (核查): from each submission the verifier has ``deadlines.verification`` working days; reminder,
  supervision and elevation as above, counted from that deadline and sent to the verifier, issued by the office
  above it; while waiting for verification the unit's clock stops;
- an extension decision (延期审批): the deciding unit has ``deadlines.extension_decision`` working days from the
  request; a reminder before, supervision after (no elevation: the unit's own deadline keeps running).
The hazard's next-action instant is the earliest rung that has not fired; the sweep reads only hazards
whose instant has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from hazardloop.models.core.calendar import end_of_day
from hazardloop.models.core.hazard import Effects, Hazard, Transition
from hazardloop.models.core.lifecycle import CLOCK_RUNNING, State, next_state
from hazardloop.models.core.policy import LEVEL_RANK

if TYPE_CHECKING:
    from hazardloop.models.core.rules import Rules

_ONE_SECOND = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)


class Rung(NamedTuple):
    action: str  # ack_reminder | reminder | supervision | elevation
    at: datetime
    level: str | None = None
    duty: str = "rectification"  # whose clock: rectification (the unit) | verification | extension (decision)


def _start_after(rules: Rules, day_end: datetime) -> datetime:
    return day_end + _ONE_SECOND


class _Ladder(NamedTuple):
    """The instants of a deadline's rungs; they depend on nothing but the deadline, the policy and the calendar."""

    reminder_at: datetime | None  # the start of the working day ``remind_before_days`` before the due day
    overdue_at: datetime  # the first instant after the deadline
    county_at: datetime
    city_at: datetime


def _ladder(rules: Rules, due_at: datetime) -> _Ladder:
    """Memoised per deadline instant on the rules: hazards due the same day share one deadline instant, and the
    sweep asks for it twice per hazard."""
    from hazardloop.models.core.rules import memoised

    return memoised(rules.ladders, due_at, lambda: _make_ladder(rules, due_at))


def _make_ladder(rules: Rules, due_at: datetime) -> _Ladder:
    esc, cal, tz = rules.policy.escalation, rules.calendar, rules.policy.tz
    due_day = rules.local_day(due_at)
    overdue_at = due_at + _ONE_SECOND

    def after_working_days(days: int) -> datetime:
        return _start_after(rules, end_of_day(cal.add_working_days(due_day, days), tz)) if days else overdue_at

    reminder_at = None
    if esc.remind_before_days:
        # the working day that many working days before the due day, from its first instant ("one working day
        # before the deadline": a Monday deadline is reminded on Friday, not at midnight into Sunday)
        reminder_day = cal.add_working_days(due_day, -esc.remind_before_days)
        reminder_at = _start_after(rules, end_of_day(reminder_day - _ONE_DAY, tz))
    return _Ladder(
        reminder_at, overdue_at, after_working_days(esc.county_after_days), after_working_days(esc.city_after_days)
    )


def pending_rungs(rules: Rules, h: Hazard) -> list[Rung]:
    """Every rung that has not fired yet for the hazard's current assignment and deadlines, in time order."""
    if h.state == State.PENDING_VERIFICATION:
        return _verification_rungs(rules, h)
    if h.state not in CLOCK_RUNNING or h.due_at is None:
        return []
    esc = rules.policy.escalation
    rungs: list[Rung] = []
    if (
        h.state == "assigned"
        and esc.acknowledge_within_days
        and h.assigned_at is not None
        and h.ack_reminded_seq < h.assignment_seq
    ):
        day = rules.calendar.add_working_days(rules.local_day(h.assigned_at), esc.acknowledge_within_days)
        rungs.append(Rung("ack_reminder", _start_after(rules, end_of_day(day, rules.policy.tz))))
    ladder = _ladder(rules, h.due_at)
    reminder_at = ladder.reminder_at if h.reminded_seq < h.deadline_seq else None
    if reminder_at is not None and (h.deadline_set_at is None or reminder_at > h.deadline_set_at):
        rungs.append(Rung("reminder", reminder_at))
    if h.supervised_seq < h.deadline_seq:
        rungs.append(Rung("supervision", ladder.overdue_at))
    rungs += _elevation_rungs(rules, h, ladder, "rectification")
    if h.pending_extension_days is not None and h.extension_due_at is not None:
        seq = h.extension_count
        ext = _ladder(rules, h.extension_due_at)
        # the reminder day lies after the request day only when the decision has more days than the reminder's lead
        if (
            h.extension_reminded_seq < seq
            and ext.reminder_at is not None
            and esc.remind_before_days < rules.policy.deadlines.extension_decision
        ):
            rungs.append(Rung("reminder", ext.reminder_at, duty="extension"))
        if h.extension_supervised_seq < seq:
            rungs.append(Rung("supervision", ext.overdue_at, duty="extension"))
    rungs.sort(key=_by_instant)
    return rungs


def _verification_rungs(rules: Rules, h: Hazard) -> list[Rung]:
    if h.verify_due_at is None:
        return []  # submitted before the engine kept a verification deadline
    ladder = _ladder(rules, h.verify_due_at)
    rungs: list[Rung] = []
    if (
        h.verify_reminded_seq < h.verify_seq
        and ladder.reminder_at is not None
        and (h.submitted_at is None or ladder.reminder_at > h.submitted_at)
    ):
        rungs.append(Rung("reminder", ladder.reminder_at, duty="verification"))
    if h.verify_supervised_seq < h.verify_seq:
        rungs.append(Rung("supervision", ladder.overdue_at, duty="verification"))
    rungs += _elevation_rungs(rules, h, ladder, "verification")
    rungs.sort(key=_by_instant)
    return rungs


def _elevation_rungs(rules: Rules, h: Hazard, ladder: _Ladder, duty: str) -> list[Rung]:
    esc = rules.policy.escalation
    rank = LEVEL_RANK[h.level]
    rungs: list[Rung] = []
    if h.severity == "major" and LEVEL_RANK[esc.major_overdue_to] > rank:
        rungs.append(Rung("elevation", ladder.overdue_at, esc.major_overdue_to, duty))
    if LEVEL_RANK["county"] > rank:
        rungs.append(Rung("elevation", ladder.county_at, "county", duty))
    if LEVEL_RANK["city"] > rank:
        rungs.append(Rung("elevation", ladder.city_at, "city", duty))
    return rungs


def _by_instant(rung: Rung) -> datetime:
    return rung.at


def next_action_at(rules: Rules, h: Hazard) -> datetime | None:
    rungs = pending_rungs(rules, h)
    return rungs[0].at if rungs else None


_REASONS = {
    "ack_reminder": "交办后逾期未签收",
    "reminder": "整改期限即将届满",
    "supervision": "已超过整改期限未完成整改",
    "verification_reminder": "核查期限即将届满",
    "verification_supervision": "已超过核查期限未完成核查",
    "extension_reminder": "延期申请审批期限即将届满",
    "extension_supervision": "已超过审批期限未对延期申请作出决定",
}


def sweep_hazard(rules: Rules, h: Hazard, now: datetime) -> Effects:
    """Fire every rung of ``h`` that ``now`` has reached; update the hazard in place."""
    effects = Effects()
    due = [r for r in pending_rungs(rules, h) if r.at <= now]
    if not due:
        rules.refresh_next_action(h)
        return effects
    next_state(h.state, "swept")
    # a reminder that arrives with the supervision notice of the same duty says nothing new
    overdue = {r.duty for r in due if r.action == "supervision"}
    for rung in due:
        if rung.duty == "verification":
            if rung.action == "reminder":
                h.verify_reminded_seq = h.verify_seq
            elif rung.action == "supervision":
                h.verify_supervised_seq = h.verify_seq
        elif rung.duty == "extension":
            if rung.action == "reminder":
                h.extension_reminded_seq = h.extension_count
            elif rung.action == "supervision":
                h.extension_supervised_seq = h.extension_count
        elif rung.action == "ack_reminder":
            h.ack_reminded_seq = h.assignment_seq
        elif rung.action == "reminder":
            h.reminded_seq = h.deadline_seq
        elif rung.action == "supervision":
            h.supervised_seq = h.deadline_seq
            h.overdue_since = h.overdue_since or rung.at
        if rung.duty != "rectification" and rung.action in ("reminder", "supervision"):
            if rung.action == "supervision" or rung.duty not in overdue:
                effects.extend(_duty_notice(rules, h, rung, now))
        elif rung.action == "ack_reminder" and "rectification" not in overdue:
            effects.extend(_reminder(rules, h, rung, "acknowledge", now))
        elif rung.action == "reminder" and rung.duty == "rectification" and "rectification" not in overdue:
            effects.extend(_reminder(rules, h, rung, "deadline", now))
        elif rung.action == "supervision" and rung.duty == "rectification":
            effects.extend(_supervision(rules, h, rung, now))
    elevations = [r for r in due if r.action == "elevation" and r.level]
    if elevations:
        # A late sweep that finds several levels due goes straight to the highest: one notice, one cause.
        top = max(elevations, key=lambda r: LEVEL_RANK[r.level or "none"])
        if LEVEL_RANK[top.level or "none"] > LEVEL_RANK[h.level]:
            effects.extend(_elevation(rules, h, top, now))
    rules.refresh_next_action(h)
    return effects


def _elevation(rules: Rules, h: Hazard, top: Rung, now: datetime) -> Effects:
    level = top.level or "none"
    verifying = top.duty == "verification"
    days = rules.overdue_days_since(h.verify_due_at if verifying else h.due_at, top.at)
    work = "核查" if verifying else "整改"
    if h.severity == "major" and level == rules.policy.escalation.major_overdue_to and days == 0:
        reason = f"重大隐患逾期未{'核查' if verifying else '整改'}"
    elif days == 0:
        reason = f"逾期未完成{work}"
    else:
        reason = f"{'核查' if verifying else ''}逾期{days}个工作日未完成{work}"
    if not verifying:
        return rules.elevate(h, level, now, "system", reason, fell_due_at=top.at)
    verifier = rules.verifier_of(h)
    office = rules.tree.supervising_unit(h.township_code, level)
    if office.code == verifier.code:  # a county verifying for its township is chased by the city
        office = rules.overseer_of(h, verifier)
    return rules.elevate(
        h, level, now, "system", reason, fell_due_at=top.at, issuer=office, recipient=verifier, duty=top.duty
    )


def _duty_notice(rules: Rules, h: Hazard, rung: Rung, now: datetime) -> Effects:
    """A reminder or supervision notice to the verifier or the deciding unit, for its own deadline, issued by the
    office above it and recorded against it (the transition's ``details.duty`` and ``details.unit``)."""
    from hazardloop.models.core.rules import cause_key

    verifying = rung.duty == "verification"
    seq = h.verify_seq if verifying else h.extension_count
    due_at = h.verify_due_at if verifying else h.extension_due_at
    kind = rung.action  # reminder | supervision
    key = cause_key(kind, h.id, rung.duty, seq)
    unit = rules.verifier_of(h)
    remaining = rules.calendar.working_days_between(rules.local_day(now), rules.local_day(due_at)) if due_at else 0
    return Effects(
        [
            Transition(
                h.id,
                h.township_code,
                "reminded" if kind == "reminder" else "supervised",
                h.state,
                h.state,
                now,
                "system",
                reason=_REASONS[f"{rung.duty}_{kind}"],
                cause_key=key,
                details={
                    "duty": rung.duty,
                    "unit": unit.code,
                    "duty_due_at": rules.local_iso(due_at),
                    "fell_due_at": rules.local_iso(rung.at),
                },
            )
        ],
        [
            rules.notice(
                kind,
                key,
                h,
                now,
                rules.overseer_of(h, unit),
                rules.copies(h),
                recipient=unit,
                duty=rung.duty,
                duty_due_date=rules.local_day(due_at).isoformat() if due_at else None,
                duty_overdue_days=rules.overdue_days_since(due_at, now),
                remaining_days=remaining,
                **({"reminder_reason": rung.duty} if kind == "reminder" else {}),
            )
        ],
    )


def _reminder(rules: Rules, h: Hazard, rung: Rung, why: str, now: datetime) -> Effects:
    from hazardloop.models.core.rules import cause_key

    seq = h.assignment_seq if why == "acknowledge" else h.deadline_seq
    key = cause_key("reminder", h.id, why, seq)
    remaining = rules.calendar.working_days_between(rules.local_day(now), rules.local_day(h.due_at)) if h.due_at else 0
    supervising = rules.tree.supervising_unit(h.township_code, h.level).code if h.level != "none" else None
    return Effects(
        [
            Transition(
                h.id,
                h.township_code,
                "reminded",
                h.state,
                h.state,
                now,
                "system",
                reason=_REASONS["ack_reminder" if why == "acknowledge" else "reminder"],
                cause_key=key,
                details={"why": why, "fell_due_at": rules.local_iso(rung.at)},
            )
        ],
        [
            rules.notice(
                "reminder",
                key,
                h,
                now,
                rules.issuer(h),
                rules.copies(h, supervising),
                reminder_reason=why,
                remaining_days=remaining,
            )
        ],
    )


def _supervision(rules: Rules, h: Hazard, rung: Rung, now: datetime) -> Effects:
    from hazardloop.models.core.rules import cause_key

    key = cause_key("supervision", h.id, h.deadline_seq)
    county = rules.tree.county_of(h.township_code)
    cc = rules.copies(h, county.code if h.unit_code == h.township_code and county else None)
    return Effects(
        [
            Transition(
                h.id,
                h.township_code,
                "supervised",
                h.state,
                h.state,
                now,
                "system",
                reason=_REASONS["supervision"],
                cause_key=key,
                details={
                    "due_at": rules.local_iso(h.due_at),
                    "fell_due_at": rules.local_iso(rung.at),
                },
            )
        ],
        [rules.notice("supervision", key, h, now, rules.issuer(h), cc)],
    )
