"""The sweep's side of the escalation ladder (催办 → 督办 → 提级 → an office's own rungs): what firing a rung does to
a hazard and which notice it sends. The rungs are data (``policy.yaml``'s ``escalation.ladder``, parsed and
scheduled in ``models.core.ladder``); this module only acts on them.

A rung fires when ``now`` has reached its instant, once per cause. The transition and the notice are dated when the
engine acts (the sweep's ``now``), with the instant the rung fell due kept in the transition's details, so a history
read in time order never shows a state before it happened. With the standard ladder:
- acknowledgement reminder: once per assignment, ``acknowledge_within_days`` working days after it;
- deadline reminder (rung ``reminder``): once per deadline, at the start of the working day ``remind_before_days``
  working days before the due day;
- supervision (督办, rung ``supervision``): once per deadline, at the first instant after the deadline;
- elevation (提级): once per level; to ``major_overdue_to`` at once for an overdue major hazard (rung ``major``), to
  county after ``county_after_days`` and to city after ``city_after_days`` working days overdue.
The other duties have clocks of their own, chased by the rungs that list them (``duties``):
- verification (核查): from each submission the verifier has ``deadlines.verification`` working days; reminder,
  supervision and elevation as above, counted from that deadline and sent to the verifier, issued by the office
  above it; while waiting for verification the unit's clock stops;
- an extension decision (延期审批): the deciding unit has ``deadlines.extension_decision`` working days from the
  request; a reminder before, supervision after (no elevation: the unit's own deadline keeps running).
The hazard's next-action instant is the earliest rung that has not fired; the sweep reads only hazards whose
instant has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hazardloop.models.core.actions import Action
from hazardloop.models.core.hazard import Effects, Hazard, Transition, cause_key
from hazardloop.models.core.ladder import PendingRung, RungSpec, duty_seq, record_fired
from hazardloop.models.core.lifecycle import next_state
from hazardloop.models.core.policy import LEVEL_RANK, Unit

if TYPE_CHECKING:
    from hazardloop.models.core.rules import Rules

_ONE_SECOND = timedelta(seconds=1)


def pending_rungs(rules: Rules, h: Hazard) -> list[PendingRung]:
    """Every rung that has not fired yet for the hazard's current assignment and deadlines, in time order."""
    return rules.schedule.pending(h)


def next_action_at(rules: Rules, h: Hazard) -> datetime | None:
    return rules.schedule.next_action_at(h)


_REASONS = {
    "ack_reminder": "交办后逾期未签收",
    "reminder": "整改期限即将届满",
    "supervision": "已超过整改期限未完成整改",
    "verification_reminder": "核查期限即将届满",
    "verification_supervision": "已超过核查期限未完成核查",
    "extension_reminder": "延期申请审批期限即将届满",
    "extension_supervision": "已超过审批期限未对延期申请作出决定",
}
# The audit action of a rung's notice.
_ACTIONS = {"reminder": Action.REMINDED, "supervision": Action.SUPERVISED}


def sweep_hazard(rules: Rules, h: Hazard, now: datetime) -> Effects:
    """Fire every rung of ``h`` that ``now`` has reached; update the hazard in place."""
    effects = Effects()
    due = [r for r in rules.schedule.pending(h) if r.at <= now]
    if not due:
        rules.refresh_next_action(h)
        return effects
    next_state(h.state, Action.SWEPT)
    # a reminder that arrives with a supervision of the same duty (a rung after the deadline) says nothing new
    overdue = {r.duty for r in due if r.spec is not None and r.spec.level is None and r.spec.overdue}
    for rung in due:
        spec = rung.spec
        if spec is None:  # the acknowledgement reminder
            h.ack_reminded_seq = h.assignment_seq
            if "rectification" not in overdue:
                effects.extend(_ack_reminder(rules, h, rung, now))
            continue
        if spec.level is not None:
            continue  # elevations below: one for the highest level due
        record_fired(h, rung.duty, spec, duty_seq(h, rung.duty))
        if rung.duty == "rectification" and spec.overdue:
            _mark_overdue(h)
        if spec.before_deadline is not None and rung.duty in overdue:
            continue
        if rung.duty != "rectification":
            effects.extend(_duty_notice(rules, h, rung, now))
        else:
            effects.extend(_rung_notice(rules, h, rung, now))
    elevations = [r for r in due if r.level]
    if elevations:
        # A late sweep that finds several levels due goes straight to the highest: one notice, one cause.
        top = max(elevations, key=lambda r: LEVEL_RANK[r.level or "none"])
        if LEVEL_RANK[top.level or "none"] > LEVEL_RANK[h.level]:
            if top.duty == "rectification":
                _mark_overdue(h)
            effects.extend(_elevation(rules, h, top, now))
    rules.refresh_next_action(h)
    return effects


def _mark_overdue(h: Hazard) -> None:
    """The hazard has been overdue since the first instant after its deadline (a rung after it has fired)."""
    if h.overdue_since is None and h.due_at is not None:
        h.overdue_since = h.due_at + _ONE_SECOND


def _elevation(rules: Rules, h: Hazard, top: PendingRung, now: datetime) -> Effects:
    level = top.level or "none"
    verifying = top.duty == "verification"
    days = rules.overdue_days_since(h.verify_due_at if verifying else h.due_at, top.at)
    work = "核查" if verifying else "整改"
    # the rung for major hazards says why at once; a late sweep that finds it due with the others picks it first
    if h.severity == "major" and top.spec is not None and top.spec.severity == "major" and days == 0:
        reason = f"重大隐患逾期未{'核查' if verifying else '整改'}"
    elif days == 0:
        reason = f"逾期未完成{work}"
    else:
        reason = f"{'核查' if verifying else ''}逾期{days}个工作日未完成{work}"
    if not verifying:
        spec = top.spec
        if spec is None:
            return rules.elevate(h, level, now, "system", reason, fell_due_at=top.at)
        return rules.elevate(
            h,
            level,
            now,
            "system",
            reason,
            fell_due_at=top.at,
            recipient=_recipient(rules, h, spec, level),
            cc=_copies(rules, h, spec, level),
        )
    verifier = rules.verifier_of(h)
    office = rules.tree.supervising_unit(h.township_code, level)
    if office.code == verifier.code:  # a county verifying for its township is chased by the city
        office = rules.overseer_of(h, verifier)
    return rules.elevate(
        h, level, now, "system", reason, fell_due_at=top.at, issuer=office, recipient=verifier, duty=top.duty
    )


# The rungs whose causes are keyed as before the ladder was data (``reminder:<id>:deadline:<seq>``,
# ``supervision:<id>:<seq>``); an office's own rung carries its name in the key (``…:rung:<name>:<seq>``).
_STANDARD_KEYS = ("reminder", "supervision")


def _own_rung(spec: RungSpec) -> bool:
    return spec.name not in _STANDARD_KEYS


def _label(spec: RungSpec, reason: str) -> str:
    """An office's own rung names itself in the audit row's reason: "约谈：逾期15个工作日未完成整改"."""
    return f"{spec.title or spec.name}：{reason}" if _own_rung(spec) else reason


def _rung_extra(spec: RungSpec) -> dict[str, object]:
    """What an office's own rung adds to its transition and its notice's context (the standard rungs add nothing,
    so their notices stay as they were)."""
    return {"rung": spec.name, "rung_title": spec.title or spec.name} if _own_rung(spec) else {}


def _addressee(rules: Rules, h: Hazard, who: str, level: str) -> str | None:
    """The unit code a rung's ``to`` or ``cc`` word names for the hazard (``models.core.ladder.Addressee``)."""
    if who == "unit":
        return h.unit_code
    if who == "township":
        return h.township_code
    if who == "township_or_county" and h.unit_code != h.township_code:
        return h.township_code
    if who in ("township_or_county", "county"):
        # the office supervising at county level: the township's county, or the city for a township or key area
        # that sits directly under the city
        return rules.tree.supervising_unit(h.township_code, "county").code
    if who == "city":
        return rules.tree.city.code
    # level_office: the office supervising at the hazard's level
    return rules.tree.supervising_unit(h.township_code, level).code if level != "none" else None


def _copies(rules: Rules, h: Hazard, spec: RungSpec, level: str) -> tuple[str, ...]:
    """The rung's copy-to units, each once, never the responsible unit (as ``Rules.copies``)."""
    codes: list[str] = []
    for who in spec.cc:
        code = _addressee(rules, h, who, level)
        if code and code != h.unit_code and code not in codes:
            codes.append(code)
    return tuple(codes)


def _recipient(rules: Rules, h: Hazard, spec: RungSpec, level: str) -> Unit | None:
    """The unit the rung's notice is addressed to; None for the responsible unit (the notice's default), or when
    the word names nobody for this hazard (``level_office`` at level none)."""
    if spec.to == "unit":
        return None
    code = _addressee(rules, h, spec.to, level)
    return rules.tree.units[code] if code else None


def _duty_notice(rules: Rules, h: Hazard, rung: PendingRung, now: datetime) -> Effects:
    """A reminder or supervision notice to the verifier or the deciding unit, for its own deadline, issued by the
    office above it and recorded against it (the transition's ``details.duty`` and ``details.unit``)."""
    spec = rung.spec
    assert spec is not None
    verifying = rung.duty == "verification"
    seq = h.verify_seq if verifying else h.extension_count
    due_at = h.verify_due_at if verifying else h.extension_due_at
    kind = spec.notice  # reminder | supervision
    key = (
        cause_key(kind, h.id, rung.duty, "rung", spec.name, seq)
        if _own_rung(spec)
        else cause_key(kind, h.id, rung.duty, seq)
    )
    unit = rules.verifier_of(h)
    remaining = rules.calendar.working_days_between(rules.local_day(now), rules.local_day(due_at)) if due_at else 0
    return Effects(
        [
            Transition(
                h.id,
                h.township_code,
                _ACTIONS[kind],
                h.state,
                h.state,
                now,
                "system",
                reason=_label(spec, _REASONS[f"{rung.duty}_{kind}"]),
                cause_key=key,
                details={
                    "duty": rung.duty,
                    "unit": unit.code,
                    "duty_due_at": rules.local_iso(due_at),
                    "fell_due_at": rules.local_iso(rung.at),
                    **_rung_extra(spec),
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
                **_rung_extra(spec),
            )
        ],
    )


def _ack_reminder(rules: Rules, h: Hazard, rung: PendingRung, now: datetime) -> Effects:
    """The reminder to acknowledge (签收), counted from the assignment rather than the deadline."""
    key = cause_key("reminder", h.id, "acknowledge", h.assignment_seq)
    remaining = rules.calendar.working_days_between(rules.local_day(now), rules.local_day(h.due_at)) if h.due_at else 0
    supervising = rules.tree.supervising_unit(h.township_code, h.level).code if h.level != "none" else None
    return Effects(
        [
            Transition(
                h.id,
                h.township_code,
                Action.REMINDED,
                h.state,
                h.state,
                now,
                "system",
                reason=_REASONS["ack_reminder"],
                cause_key=key,
                details={"why": "acknowledge", "fell_due_at": rules.local_iso(rung.at)},
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
                reminder_reason="acknowledge",
                remaining_days=remaining,
            )
        ],
    )


def _rung_notice(rules: Rules, h: Hazard, rung: PendingRung, now: datetime) -> Effects:
    """A reminder or supervision of the responsible unit for its rectification deadline, addressed as the rung
    says and issued by the office supervising the hazard at its level."""
    spec = rung.spec
    assert spec is not None
    kind, seq = spec.notice, h.deadline_seq
    if _own_rung(spec):
        key = cause_key(kind, h.id, "rung", spec.name, seq)
    else:
        key = cause_key(kind, h.id, "deadline", seq) if kind == "reminder" else cause_key(kind, h.id, seq)
    if kind == "reminder":
        reason = _REASONS["reminder"]
        details: dict[str, object] = {"why": "deadline", "fell_due_at": rules.local_iso(rung.at)}
        remaining = rules.calendar.working_days_between(rules.local_day(now), rules.local_day(h.due_at))
        extra: dict[str, object] = {"reminder_reason": "deadline", "remaining_days": remaining}
    else:
        days = rules.overdue_days_since(h.due_at, rung.at)
        own_days = _own_rung(spec) and days > 0
        reason = f"逾期{days}个工作日未完成整改" if own_days else _REASONS["supervision"]
        details = {"due_at": rules.local_iso(h.due_at), "fell_due_at": rules.local_iso(rung.at)}
        extra = {}
    return Effects(
        [
            Transition(
                h.id,
                h.township_code,
                _ACTIONS[kind],
                h.state,
                h.state,
                now,
                "system",
                reason=_label(spec, reason),
                cause_key=key,
                details={**details, **_rung_extra(spec)},
            )
        ],
        [
            rules.notice(
                kind,
                key,
                h,
                now,
                rules.issuer(h),
                _copies(rules, h, spec, h.level),
                recipient=_recipient(rules, h, spec, h.level),
                **extra,
                **_rung_extra(spec),
            )
        ],
    )
