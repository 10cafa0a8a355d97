"""The rules of the closed loop: what each event does to a hazard, who may do it, and the deadlines it
sets. Pure functions of (hazard, event, policy, organisation, calendar); time comes in with the event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from hazardloop.models.core.actions import Action
from hazardloop.models.core.calendar import (
    WorkingCalendar,
    calendar_for,
    end_of_day,
    full_working_days_overdue,
    local_date,
)
from hazardloop.models.core.errors import InvalidInput, Problem, Refused
from hazardloop.models.core.events import (
    DetectedHazard,
    ExtensionDecided,
    ExtensionRequested,
    HazardAcknowledged,
    HazardAssigned,
    HazardDetected,
    HazardEscalated,
    HazardEvent,
    HazardInvalidated,
    HazardReassigned,
    RectificationSubmitted,
    VerificationFailed,
    VerificationPassed,
)
from hazardloop.models.core.hazard import HAZARD_ID_FORM, Effects, Hazard, NoticeIntent, Transition, cause_key
from hazardloop.models.core.ladder import Schedule
from hazardloop.models.core.lifecycle import CLOCK_RUNNING, State, next_state
from hazardloop.models.core.memo import memoised
from hazardloop.models.core.orgtree import Actor, OrgTree
from hazardloop.models.core.policy import LEVEL_RANK, Policy, Unit

_V = TypeVar("_V")

# How an order error names a hazard's last step.
_STEP_WORDS: dict[str, str] = {
    Action.DETECTED: "its detection",
    Action.ASSIGNED: "its assignment",
    Action.ACKNOWLEDGED: "its acknowledgement",
    Action.REASSIGNED: "its reassignment",
    Action.EXTENSION_REQUESTED: "the request for an extension",
    Action.EXTENSION_DECIDED: "the decision on an extension",
    Action.RECTIFICATION_SUBMITTED: "the submission of its rectification for verification",
    Action.VERIFICATION_PASSED: "its verification",
    Action.VERIFICATION_FAILED: "its failed verification",
    Action.INVALIDATED: "its closing as invalid",
    Action.ESCALATED: "its escalation by hand",
}


@dataclass
class Rules:
    policy: Policy
    tree: OrgTree
    calendar: WorkingCalendar
    # (deadline, instant) -> working days overdue, likewise derived
    overdue_counts: dict[tuple[datetime, datetime], int] = field(default_factory=dict, repr=False, compare=False)
    # (start day, working days) -> the verifier's or deciding unit's deadline, likewise derived
    duty_deadlines: dict[tuple[date, int], tuple[datetime, date, bool]] = field(
        default_factory=dict, repr=False, compare=False
    )

    # instant -> its local day, and its local ISO text: a batch asks for the same deadlines and event instants again
    # and again (a hazard's detection in each of its notices). Keyed by value: equal instants, in whatever zone,
    # have the same local day and text.
    local_days: dict[datetime, date] = field(default_factory=dict, repr=False, compare=False)
    local_isos: dict[datetime, str] = field(default_factory=dict, repr=False, compare=False)

    # when each rung of the escalation ladder falls due (``models.core.ladder``), derived from the three above
    schedule: Schedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.schedule = Schedule(
            self.policy.escalation.rungs,
            self.calendar,
            self.policy.tz,
            acknowledge_within_days=self.policy.escalation.acknowledge_within_days,
            extension_decision_days=self.policy.deadlines.extension_decision,
        )

    @classmethod
    def build(cls, policy: Policy, tree: OrgTree) -> Rules:
        return cls(policy, tree, calendar_for(policy.calendar))

    # --- deadlines ------------------------------------------------------------------------------------
    def local_day(self, instant: datetime) -> date:
        day = self.local_days.get(instant)
        if day is None:
            day = local_date(instant, self.policy.tz)
            _remember(self.local_days, instant, day)
        return day

    def local_iso(self, instant: datetime | None) -> str | None:
        """An instant as text in the policy's zone, as every view, history and message shows it, whether the
        hazard was decided in memory or read back from the store (which gives UTC)."""
        if instant is None:
            return None
        text = self.local_isos.get(instant)
        if text is None:
            text = instant.astimezone(self.policy.tz).isoformat()
            _remember(self.local_isos, instant, text)
        return text

    def set_deadline(self, h: Hazard, start: datetime, due_day: date) -> None:
        h.due_at = end_of_day(due_day, self.policy.tz)
        h.deadline_set_at = start
        h.deadline_provisional = self.calendar.span_provisional(self.local_day(start), due_day)
        h.deadline_days = self.calendar.working_days_between(self.local_day(start), due_day)
        h.deadline_seq += 1
        h.overdue_since = None

    def assign(self, h: Hazard, unit: Unit, at: datetime) -> None:
        h.unit_code = unit.code
        h.assigned_at = at
        h.acknowledged_at = None
        h.assignment_seq += 1
        days = self.policy.deadline_days(h.field, h.severity)
        self.set_deadline(h, at, self.calendar.add_working_days(self.local_day(at), days))

    # --- who is who -------------------------------------------------------------------------------------
    def issuer(self, h: Hazard, level: str | None = None) -> Unit:
        """The office that issues a hazard's notices: the unit supervising at the hazard's level (at least
        the township), never the responsible unit itself."""
        lvl = level or h.level
        unit = self.tree.supervising_unit(h.township_code, "township" if lvl == "none" else lvl)
        if unit.code == h.unit_code:
            unit = self.tree.county_of(h.township_code) or self.tree.city
        return unit

    def copies(self, h: Hazard, *extra: str | None) -> tuple[str, ...]:
        """Copy-to units for a hazard's notice: the township (when it is not the recipient) and any extra."""
        codes: list[str] = []
        for code in (h.township_code, *extra):
            if code and code != h.unit_code and code not in codes:
                codes.append(code)
        return tuple(codes)

    def notice(
        self,
        kind: str,
        key: str,
        h: Hazard,
        at: datetime,
        issuer: Unit,
        cc: tuple[str, ...],
        *,
        recipient: Unit | None = None,
        **extra: object,
    ) -> NoticeIntent:
        return NoticeIntent(
            kind=kind,
            key=key,
            hazard_id=h.id,
            township_code=h.township_code,
            recipient_code=recipient.code if recipient else h.unit_code or h.township_code,
            cc_codes=cc,
            issuer_code=issuer.code,
            at=at,
            extra=dict(extra),
        )

    def _village_of(self, given: str | None, township: Unit) -> str | None:
        """The village a detection names, as its station's name when it names a village or community of org.yaml by
        code or by name (the station sees the hazards of its village by name); a village of another township is a
        contradiction. Any other text is a village org.yaml does not list, kept as given."""
        if not given:
            return given
        named = self.tree.find(given, "hazard.village", within=township.code, levels=("village",))
        if named is None:  # a village of another township, by code or by its own name, or none org.yaml lists
            try:
                named = self.tree.find(given, "hazard.village", levels=("village",))
            except InvalidInput:  # the name of villages elsewhere, none of them this township's
                raise InvalidInput([Problem(f"{given} is not in {township.name}", field="hazard.village")]) from None
        if named is None:
            return given
        if named.parent != township.code:
            raise InvalidInput([Problem(f"{named.name} is not in {township.name}", field="hazard.village")])
        return named.name

    def verifier_of(self, h: Hazard) -> Unit:
        """The unit that verifies the hazard's rectification and decides its extensions: the township, or the
        county when the township is itself responsible (``OrgTree.verifiers``, nearest first)."""
        return self.tree.verifiers(h.township_code, h.unit_code or "")[0]

    def overseer_of(self, h: Hazard, unit: Unit) -> Unit:
        """The office above ``unit`` in the hazard's chain (the county above a township, the city above a county):
        it issues the notices that chase ``unit`` for its own duty (verification, an extension decision)."""
        chain = [self.tree.units[h.township_code], *self.tree.ancestors(h.township_code)]
        codes = [u.code for u in chain]
        above = chain[codes.index(unit.code) + 1 :] if unit.code in codes else []
        return above[0] if above else self.tree.city

    def duty_deadline(self, at: datetime, days: int) -> tuple[datetime, date, bool]:
        """The deadline ``days`` working days after ``at`` for a verifier or a deciding unit: its instant, its day
        and whether it is provisional. Memoised per start day: a batch submits thousands on a few days."""
        start = self.local_day(at)
        return memoised(self.duty_deadlines, (start, days), lambda: self._duty_deadline(start, days))

    def _duty_deadline(self, start: date, days: int) -> tuple[datetime, date, bool]:
        due_day = self.calendar.add_working_days(start, days)
        return end_of_day(due_day, self.policy.tz), due_day, self.calendar.span_provisional(start, due_day)

    # --- detection --------------------------------------------------------------------------------------
    def detect(self, event: HazardDetected, hazard_id: str) -> tuple[Hazard, Effects]:
        d = event.hazard
        if d.field not in self.policy.fields:
            known = ", ".join(self.policy.fields)
            raise InvalidInput([Problem(f"unknown field '{d.field}'; policy.yaml knows {known}", field="hazard.field")])
        if HAZARD_ID_FORM.fullmatch(d.ref):
            raise InvalidInput(
                [
                    Problem(
                        f"the source reference '{d.ref}' has the form of this engine's hazard ids (HZ-year-number), "
                        "so it could name two hazards; give the source system's own reference",
                        field="hazard.ref",
                    )
                ]
            )
        named = None  # the county the detection gives, which also tells apart townships of one name
        if d.county is not None:
            named = self.tree.find(d.county, "hazard.county", levels=("county",))
            if named is None:
                raise InvalidInput([Problem(f"'{d.county}' is not a county in org.yaml", field="hazard.county")])
        township = self.tree.resolve_township(
            d.township, field="hazard.township", within=named.code if named is not None else None
        )
        county = self.tree.county_of(township.code)
        if named is not None and (county is None or named.code != county.code):
            where = self.tree.place_of(township) if self.tree.shares_its_name(township) else township.name
            raise InvalidInput([Problem(f"{where} is not in {named.name}", field="hazard.county")])
        village = self._village_of(d.village, township)
        actor = self.tree.parse_actor(event.actor, reporter=True)
        h = Hazard(
            id=hazard_id,
            ref=d.ref,
            title=d.title,
            description=d.description,
            field=d.field,
            severity=d.severity,
            township_code=township.code,
            county_code=county.code if county else None,
            detected_at=event.at,
            reporter=actor.raw,
            last_step=event.type,
            last_step_at=event.at,
            village=village,
            address=d.address,
            source=d.source or "",
            campaign=d.campaign,
        )
        effects = Effects(
            [
                Transition(
                    h.id,
                    h.township_code,
                    event.type,
                    None,
                    State.DETECTED,
                    event.at,
                    actor.raw,
                    event_id=event.event_id,
                    details=_report_details(d),
                )
            ]
        )
        if d.unit is not None:  # the source names the responsible unit: assigned to it, whatever the routing
            unit = self.tree.resolve_unit(d.unit, field="hazard.unit")
            self._check_assignable(unit, h)
            effects.extend(self._route(h, unit, event.at, "system", Action.ROUTED, event.event_id, None))
        elif self.policy.routing.auto:
            unit = self.tree.route(h.field, h.township_code)
            effects.extend(self._route(h, unit, event.at, "system", Action.ROUTED, event.event_id, None))
        self.refresh_next_action(h)
        return h, effects

    def _route(
        self,
        h: Hazard,
        unit: Unit,
        at: datetime,
        actor: str,
        action: str,
        event_id: str | None,
        reason: str | None,
    ) -> Effects:
        before = h.state
        h.state = next_state(h.state, action)
        self.assign(h, unit, at)
        key = cause_key("assignment", h.id, h.assignment_seq)
        return Effects(
            [
                Transition(
                    h.id,
                    h.township_code,
                    action,
                    before,
                    h.state,
                    at,
                    actor,
                    event_id=event_id,
                    reason=reason,
                    details={"unit": unit.code, "due_at": self.local_iso(h.due_at)},
                )
            ],
            [self.notice("assignment", key, h, at, self.issuer(h), self.copies(h), reason=reason)],
        )

    # --- everything else --------------------------------------------------------------------------------
    def apply(self, h: Hazard, event: HazardEvent) -> Effects:
        """Apply one event to a hazard in place; raise ``Refused`` / ``InvalidInput`` and leave the hazard
        untouched when it may not happen."""
        actor = self.tree.parse_actor(event.actor)
        next_state(h.state, event.type)  # refuse early, before any guard, with the state in the message
        self.check_order(h, event)
        handler = getattr(self, "_on_" + event.type.replace(".", "_"))
        work = h.copy()
        effects: Effects = handler(work, event, actor)
        if not actor.is_system:
            work.last_step, work.last_step_at = event.type, event.at
        work.version = h.version
        self.refresh_next_action(work)
        h.__dict__.update(work.__dict__)
        return effects

    def check_order(self, h: Hazard, event: HazardEvent) -> None:
        """A hazard's history runs forward: an event dated before the last step a person took on it (its
        detection at the earliest) is invalid input. Every step depends on the one before it (an acknowledgement
        on the assignment, a verification on the submission, a decision on the request), and a person's step is
        that step or comes after it. The engine's own steps (reminders, supervision, elevation by the sweep) do not
        count: a unit's acknowledgement at 10:00 that reaches the engine after the 12:00 sweep reminded it is
        accepted, and recorded after the reminder."""
        step, step_at = (h.last_step, h.last_step_at) if h.last_step_at else (Action.DETECTED, h.detected_at)
        if event.at >= step_at:
            return
        what = _STEP_WORDS.get(step, step)
        zone = self.policy.timezone
        raise InvalidInput(
            [
                Problem(
                    f"the event is dated {self.local_iso(event.at)}, before this hazard's last step, {what} "
                    f"('{step}') at {self.local_iso(step_at)} ({zone}); a hazard's events must be dated in the "
                    "order they happened",
                    field="at",
                )
            ]
        )

    def _require_unit(self, actor: Actor, allowed: list[Unit], what: str) -> Unit:
        if actor.unit is None or actor.unit.code not in {u.code for u in allowed}:
            who = actor.unit.name if actor.unit else actor.raw
            names = "、".join(u.name for u in allowed[:3]) or "nobody"
            raise Refused(f"{who} may not {what}; this is for {names}", field="actor")
        return actor.unit

    def _transition(
        self,
        h: Hazard,
        event: HazardEvent,
        before: str,
        actor: Actor,
        reason: str | None = None,
        **details: object,
    ) -> Transition:
        return Transition(
            h.id,
            h.township_code,
            event.type,
            before,
            h.state,
            event.at,
            actor.raw,
            event_id=event.event_id,
            reason=reason,
            details=dict(details),
        )

    def _on_hazard_assigned(self, h: Hazard, e: HazardAssigned, actor: Actor) -> Effects:
        self._require_unit(actor, self.tree.supervisors(h.township_code), "assign this hazard")
        unit = self.tree.resolve_unit(e.unit)
        self._check_assignable(unit, h)
        return self._route(h, unit, e.at, actor.raw, e.type, e.event_id, None)

    def _check_assignable(self, unit: Unit, h: Hazard) -> None:
        if unit.level == "village":
            raise Refused(f"{unit.name} is a village station and cannot be a responsible unit", field="unit")
        if not self.tree.may_answer_for(unit, h.township_code):
            raise Refused(
                f"{unit.name} cannot answer for a hazard in {self.tree.get(h.township_code).name}: the responsible "
                "unit must be the township, or a department of the township, its county or the city",
                field="unit",
            )

    def _on_hazard_reassigned(self, h: Hazard, e: HazardReassigned, actor: Actor) -> Effects:
        self._require_unit(actor, self.tree.supervisors(h.township_code), "reassign this hazard")
        unit = self.tree.resolve_unit(e.unit)
        if unit.code == h.unit_code:
            raise Refused(f"the hazard is already assigned to {unit.name}", field="unit")
        self._check_assignable(unit, h)
        effects = Effects()
        before_state, h.state = h.state, next_state(h.state, e.type)
        # A reassignment keeps the running deadline: a dispute does not buy time.
        due_at, provisional, seq = h.due_at, h.deadline_provisional, h.deadline_seq
        before_unit = h.unit_code
        self.assign(h, unit, e.at)
        h.due_at, h.deadline_provisional, h.deadline_seq = due_at, provisional, seq
        effects.transitions.append(
            Transition(
                h.id,
                h.township_code,
                e.type,
                before_state,
                h.state,
                e.at,
                actor.raw,
                event_id=e.event_id,
                reason=e.reason,
                details={"unit": unit.code, "from_unit": before_unit},
            )
        )
        key = cause_key("assignment", h.id, h.assignment_seq)
        # a 转办 says where it comes from and why; the unit it leaves gets the copy
        previous = self.tree.units.get(before_unit) if before_unit else None
        effects.notices.append(
            self.notice(
                "assignment",
                key,
                h,
                e.at,
                self.issuer(h),
                self.copies(h, before_unit),
                reason=e.reason,
                reassigned_from=previous.name if previous else None,
            )
        )
        return effects

    def _on_hazard_acknowledged(self, h: Hazard, e: HazardAcknowledged, actor: Actor) -> Effects:
        self._require_unit(actor, [self.tree.get(h.unit_code)] if h.unit_code else [], "acknowledge this hazard")
        before, h.state = h.state, next_state(h.state, e.type)
        h.acknowledged_at = e.at
        return Effects([self._transition(h, e, before, actor)])

    def _on_extension_requested(self, h: Hazard, e: ExtensionRequested, actor: Actor) -> Effects:
        self._require_unit(
            actor, [self.tree.get(h.unit_code)] if h.unit_code else [], "ask for an extension of this hazard"
        )
        ext = self.policy.extensions
        if h.pending_extension_days is not None:
            raise Refused("an extension request for this hazard is already waiting for a decision", field="type")
        if h.extension_count >= ext.max_requests:
            raise Refused(
                f"the hazard has had {h.extension_count} extension request(s); the policy allows {ext.max_requests}",
                field="type",
            )
        if e.days > ext.max_days:
            raise Refused(
                f"{e.days} working days is more than the policy allows for one extension ({ext.max_days})", field="days"
            )
        h.pending_extension_days, h.pending_extension_reason = e.days, e.reason
        h.extension_count += 1
        # the deciding unit has its own deadline, chased like the unit's (``models.escalation``)
        h.extension_due_at, decide_by, decide_provisional = self.duty_deadline(
            e.at, self.policy.deadlines.extension_decision
        )
        decider = self.verifier_of(h)
        key = cause_key("extension_request", h.id, h.extension_count)
        return Effects(
            [
                self._transition(
                    h, e, h.state, actor, e.reason, days=e.days, decide_by=self.local_iso(h.extension_due_at)
                )
            ],
            [
                self.notice(
                    "extension_request",
                    key,
                    h,
                    e.at,
                    self.overseer_of(h, decider),
                    self.copies(h),
                    recipient=decider,
                    days=e.days,
                    reason=e.reason,
                    decide_by=decide_by.isoformat(),
                    decide_provisional=decide_provisional,
                )
            ],
        )

    def _on_extension_decided(self, h: Hazard, e: ExtensionDecided, actor: Actor) -> Effects:
        decider = self._require_unit(
            actor,
            self.tree.verifiers(h.township_code, h.unit_code or ""),
            "decide on this hazard's extension",
        )
        if h.pending_extension_days is None:
            raise Refused("there is no extension request waiting for a decision on this hazard", field="type")
        days = h.pending_extension_days
        h.pending_extension_days = h.pending_extension_reason = None
        h.extension_due_at = None
        if e.approved and h.due_at is not None:
            new_day = self.calendar.add_working_days(self.local_day(h.due_at), days)
            self.set_deadline(h, e.at, new_day)
            h.extension_days_granted += days
        key = cause_key("extension_decision", h.id, e.event_id)
        cc = self.copies(h, decider.code)
        return Effects(
            [
                self._transition(
                    h,
                    e,
                    h.state,
                    actor,
                    e.reason,
                    approved=e.approved,
                    days=days,
                    due_at=self.local_iso(h.due_at),
                )
            ],
            [
                self.notice(
                    "extension_decision",
                    key,
                    h,
                    e.at,
                    decider,
                    cc,
                    approved=e.approved,
                    days=days,
                    reason=e.reason,
                )
            ],
        )

    def _on_rectification_submitted(self, h: Hazard, e: RectificationSubmitted, actor: Actor) -> Effects:
        self._require_unit(
            actor, [self.tree.get(h.unit_code)] if h.unit_code else [], "submit this hazard's rectification"
        )
        before, h.state = h.state, next_state(h.state, e.type)
        h.submitted_at = e.at
        # the verifier's clock starts: a 核查通知 now, reminders and supervision if it runs out (models.escalation)
        h.verify_seq += 1
        h.verify_due_at, verify_by, verify_provisional = self.duty_deadline(e.at, self.policy.deadlines.verification)
        verifier = self.verifier_of(h)
        supervising = self.tree.supervising_unit(h.township_code, h.level).code if h.level != "none" else None
        key = cause_key("verification_request", h.id, h.verify_seq)
        return Effects(
            [
                self._transition(
                    h,
                    e,
                    before,
                    actor,
                    e.note,
                    evidence=list(e.evidence),
                    verify_due_at=self.local_iso(h.verify_due_at),
                )
            ],
            [
                self.notice(
                    "verification_request",
                    key,
                    h,
                    e.at,
                    self.overseer_of(h, verifier),
                    self.copies(h, supervising),
                    recipient=verifier,
                    note=e.note,
                    evidence_count=len(e.evidence),
                    verify_by=verify_by.isoformat(),
                    verify_provisional=verify_provisional,
                )
            ],
        )

    def _verifier(self, h: Hazard, actor: Actor) -> Unit:
        if actor.unit is not None and actor.unit.code == h.unit_code:
            raise Refused(f"{actor.unit.name} is the responsible unit and may not verify its own work", field="actor")
        return self._require_unit(actor, self.tree.verifiers(h.township_code, h.unit_code or ""), "verify this hazard")

    def _on_verification_passed(self, h: Hazard, e: VerificationPassed, actor: Actor) -> Effects:
        verifier = self._verifier(h, actor)
        before, h.state = h.state, next_state(h.state, e.type)
        h.cleared_at = h.closed_at = e.at
        h.verify_due_at = None
        key = cause_key("clearance", h.id)
        supervising = self.tree.supervising_unit(h.township_code, h.level).code if h.level != "none" else None
        return Effects(
            [self._transition(h, e, before, actor, e.note)],
            [
                self.notice(
                    "clearance",
                    key,
                    h,
                    e.at,
                    verifier,
                    self.copies(h, supervising),
                    note=e.note,
                    verifier=verifier.code,
                )
            ],
        )

    def _on_verification_failed(self, h: Hazard, e: VerificationFailed, actor: Actor) -> Effects:
        verifier = self._verifier(h, actor)
        before, h.state = h.state, next_state(h.state, e.type)
        h.rework_count += 1
        h.submitted_at = h.verify_due_at = None
        key = cause_key("return", h.id, h.rework_count)
        return Effects(
            [self._transition(h, e, before, actor, e.reason, rework_count=h.rework_count)],
            [
                self.notice(
                    "return",
                    key,
                    h,
                    e.at,
                    verifier,
                    self.copies(h, verifier.code),
                    reason=e.reason,
                    rework_count=h.rework_count,
                )
            ],
        )

    def _on_hazard_invalidated(self, h: Hazard, e: HazardInvalidated, actor: Actor) -> Effects:
        self._require_unit(actor, self.tree.supervisors(h.township_code), "close this hazard as invalid")
        before, h.state = h.state, next_state(h.state, e.type)
        h.closed_at = e.at
        h.pending_extension_days = h.pending_extension_reason = None
        h.verify_due_at = h.extension_due_at = None
        return Effects([self._transition(h, e, before, actor, e.reason)])

    def _on_hazard_escalated(self, h: Hazard, e: HazardEscalated, actor: Actor) -> Effects:
        if actor.unit is None:
            raise Refused("a manual escalation needs a supervising unit as actor", field="actor")
        why_not = self.tree.may_escalate(actor.unit, h.township_code, h.level, e.to)
        if why_not:
            raise Refused(why_not[1], field=why_not[0])
        return self.elevate(h, e.to, e.at, actor.raw, e.reason, event_id=e.event_id, issuer=actor.unit, manual=True)

    def elevate(
        self,
        h: Hazard,
        level: str,
        at: datetime,
        actor: str,
        reason: str,
        *,
        event_id: str | None = None,
        issuer: Unit | None = None,
        manual: bool = False,
        fell_due_at: datetime | None = None,
        recipient: Unit | None = None,
        duty: str = "rectification",
        cc: tuple[str, ...] | None = None,
    ) -> Effects:
        """Raise the hazard's supervision level. ``duty``: whose lateness caused it, the responsible unit's
        (rectification) or the verifier's (verification, then ``recipient`` is the verifier). ``cc``: the copy-to
        units when a ladder rung names them; by default the township and the offices of the new level."""
        before = h.level
        h.level = level
        office = issuer or self.tree.supervising_unit(h.township_code, level)
        key = cause_key("elevation", h.id, level)
        supervising = self.tree.supervising_unit(h.township_code, level).code
        return Effects(
            [
                Transition(
                    h.id,
                    h.township_code,
                    Action.ESCALATED if manual else Action.ELEVATED,
                    h.state,
                    h.state,
                    at,
                    actor,
                    event_id=event_id,
                    reason=reason,
                    level=level,
                    cause_key=key,
                    details={
                        "from_level": before,
                        "manual": manual,
                        **({"duty": duty} if duty != "rectification" else {}),
                        **({"fell_due_at": self.local_iso(fell_due_at)} if fell_due_at else {}),
                    },
                )
            ],
            [
                self.notice(
                    "elevation",
                    key,
                    h,
                    at,
                    office,
                    self.copies(h, supervising, office.code) if cc is None else cc,
                    recipient=recipient,
                    new_level=level,
                    reason=reason,
                    manual=manual,
                    duty=duty,
                )
            ],
        )

    # --- the clock -------------------------------------------------------------------------------------
    def refresh_next_action(self, h: Hazard) -> None:
        h.next_action_at = self.schedule.next_action_at(h)

    def is_overdue(self, h: Hazard, now: datetime) -> bool:
        return h.state in CLOCK_RUNNING and h.due_at is not None and now > h.due_at

    def overdue_days(self, h: Hazard, now: datetime) -> int:
        return self.overdue_days_since(h.due_at, now)

    def overdue_days_since(self, due_at: datetime | None, now: datetime) -> int:
        """Full working days from the deadline ``due_at`` to ``now`` (``models.calendar.full_working_days_overdue``)."""
        if due_at is None or now <= due_at:
            return 0
        # a sweep asks this for every hazard it acts on, at one ``now``, of deadlines most hazards share
        return memoised(
            self.overdue_counts,
            (due_at, now),
            lambda: full_working_days_overdue(self.calendar, due_at, now, self.policy.tz),
        )

    def level_rank(self, level: str) -> int:
        return LEVEL_RANK[level]


def _remember(cache: dict[datetime, _V], instant: datetime, value: _V) -> None:
    """Keep ``value`` for ``instant`` (see ``memo.memoised``: emptied at 100,000 entries, bounding a long process)."""
    if len(cache) >= 100_000:
        cache.clear()
    cache[instant] = value


def _report_details(d: DetectedHazard) -> dict[str, object]:
    """What a report adds to its detection's audit row: its evidence files and where it was made."""
    details: dict[str, object] = {}
    if d.evidence:
        details["evidence"] = list(d.evidence)
    if d.latitude is not None and d.longitude is not None:
        details["location"] = {"latitude": d.latitude, "longitude": d.longitude}
    return details
