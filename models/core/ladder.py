"""The escalation ladder as data: the rungs an office declares under ``escalation.ladder`` in ``policy.yaml``
(催办 → 督办 → 提级 → whatever it adds, e.g. a 约谈), and when each falls due for a hazard.

A rung fires either ``before_deadline: N`` (at the start of the working day N working days before the due day)
or ``overdue_days: N`` (N full working days after the deadline; 0 is the first instant after it). It may be
limited to one ``severity``; it may move the hazard to a supervision ``level`` (then it sends ``elevation``); it
sends one ``notice`` to ``to``, copied to ``cc``; it chases the ``duties`` it lists: the responsible unit's
rectification, and with the same instants counted from their own deadlines the verifier's verification and the
deciding unit's extension decision (those notices go to that unit, from the office above it).

Each rung fires once per cause: a rung that moves the level once per level (a late sweep that finds several
due goes straight to the highest), any other once per deadline of its duty. The standard ladder (``standard_ladder``,
what the shorthand keys ``remind_before_days``, ``county_after_days``, ``city_after_days`` and
``major_overdue_to`` describe) is the default when a policy has no ``ladder``.

The schedule (``Schedule``) answers, for a hazard, which rungs have not fired yet and when they fall due; it
depends on the rungs, the calendar and the time zone only, so the rules keep one and the sweep reads it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hazardloop.models.core.calendar import WorkingCalendar, end_of_day, local_date
from hazardloop.models.core.hazard import Hazard
from hazardloop.models.core.lifecycle import CLOCK_RUNNING, State
from hazardloop.models.core.memo import memoised
from hazardloop.models.core.notice_kinds import NOTICE_KINDS
from hazardloop.models.core.text import ONE_LINE_PATTERN

Duty = Literal["rectification", "verification", "extension"]
RungLevel = Literal["township", "county", "city"]
# Who a rung's notice is addressed or copied to, for the rectification duty:
# unit — the responsible unit; township — the hazard's township centre; township_or_county — the township centre,
# or its county when the township is itself the responsible unit; county / city — the hazard's county (the city for
# a township or key area directly under the city), the city;
# level_office — the office supervising the hazard at its level (after the rung's move; none at level none).
Addressee = Literal["unit", "township", "township_or_county", "county", "city", "level_office"]
DUTIES: tuple[str, ...] = get_args(Duty)
# A rung's level in rank order: a ladder climbs, so a later rung for every severity never moves lower.
RUNG_LEVELS: tuple[str, ...] = get_args(RungLevel)
# The notices a rung can send (``rung`` in the registry); each has its template and its audit action.
RUNG_NOTICES: tuple[str, ...] = NOTICE_KINDS.sent_by_rungs()
# The rungs whose record predates the ladder as data: each duty's reminder and supervision keep the sequence
# number they fired for in the hazard's own columns (stored hazards carry them); other rungs in ``rungs_fired``.
_RECORD_COLUMNS: dict[tuple[str, str], str] = {
    ("rectification", "reminder"): "reminded_seq",
    ("rectification", "supervision"): "supervised_seq",
    ("verification", "reminder"): "verify_reminded_seq",
    ("verification", "supervision"): "verify_supervised_seq",
    ("extension", "reminder"): "extension_reminded_seq",
    ("extension", "supervision"): "extension_supervised_seq",
}
STANDARD_RUNGS = ("reminder", "supervision", "major", "county", "city")

_ONE_SECOND = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)


class RungSpec(BaseModel):
    """One rung as ``policy.yaml`` declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$", description="short code, e.g. interview"
    )
    # one line of text: it is written into the audit trail, notices and the terminal, so no control characters
    title: str | None = Field(
        None, max_length=40, pattern=ONE_LINE_PATTERN, description="its Chinese name, e.g. 约谈; the audit row's reason"
    )
    before_deadline: int | None = Field(None, ge=1, le=60, description="working days before the due day")
    overdue_days: int | None = Field(None, ge=0, le=365, description="full working days overdue; 0: at once")
    severity: Literal["general", "major"] | None = None
    level: RungLevel | None = None
    notice: str
    to: Addressee = "unit"
    cc: tuple[Addressee, ...] = ("township",)
    duties: tuple[Duty, ...] = ("rectification",)

    @field_validator("notice")
    @classmethod
    def _a_rung_notice(cls, value: str) -> str:
        if value not in RUNG_NOTICES:
            known = ", ".join(f"{kind} ({NOTICE_KINDS[kind].title})" for kind in RUNG_NOTICES)
            raise ValueError(f"unknown notice kind '{value}' for a rung; a rung sends one of {known}")
        return value

    @field_validator("duties")
    @classmethod
    def _some_duties_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a rung chases at least one duty (rectification, verification, extension)")
        if len(set(value)) < len(value):
            raise ValueError("a duty is listed twice")
        return value

    @model_validator(mode="after")
    def _makes_sense(self) -> RungSpec:
        if (self.before_deadline is None) == (self.overdue_days is None):
            raise ValueError(
                f"rung '{self.name}' needs exactly one of before_deadline (working days before the deadline) and "
                "overdue_days (working days after it; 0 for at once)"
            )
        if self.level is not None:
            if self.notice != "elevation":
                raise ValueError(f"rung '{self.name}' moves the hazard to {self.level}, so its notice is elevation")
            if self.before_deadline is not None:
                raise ValueError(
                    f"rung '{self.name}' moves the level before the deadline; elevation comes once overdue"
                )
            if "extension" in self.duties:
                raise ValueError(
                    f"rung '{self.name}' moves the level for a late extension decision; only rectification and "
                    "verification are elevated (the unit's own deadline keeps running)"
                )
        elif self.notice == "elevation":
            raise ValueError(f"rung '{self.name}' sends an elevation notice but names no level to move to")
        return self

    @property
    def offset(self) -> int:
        """Where the rung sits on the ladder in working days from the deadline (before it: negative)."""
        return -self.before_deadline if self.before_deadline is not None else self.overdue_days or 0

    @property
    def overdue(self) -> bool:
        return self.overdue_days is not None


def ladder_problem(rungs: tuple[RungSpec, ...]) -> tuple[int, str, str] | None:
    """The first thing wrong with a ladder as a whole, as (rung index, key, reason); None if nothing is."""
    by_name: dict[str, int] = {}
    for i, rung in enumerate(rungs):
        if rung.name in by_name:
            return i, "name", f"rung name '{rung.name}' is used twice (rungs {by_name[rung.name]} and {i})"
        by_name[rung.name] = i
    when = "before_deadline"
    for i in range(1, len(rungs)):
        rung, above = rungs[i], rungs[i - 1]
        if rung.offset < above.offset:
            when = "before_deadline" if rung.before_deadline is not None else "overdue_days"
            return (
                i,
                when,
                f"rung '{rung.name}' fires before rung '{above.name}' listed above it; list the rungs in the order "
                "they fire",
            )
    for i, rung in enumerate(rungs):
        when = "before_deadline" if rung.before_deadline is not None else "overdue_days"
        for j in range(i):
            other = rungs[j]
            same = (other.offset, other.notice, other.level, other.severity) == (
                rung.offset,
                rung.notice,
                rung.level,
                rung.severity,
            )
            if same and set(other.duties) & set(rung.duties):
                return i, when, f"rung '{rung.name}' does the same as rung '{other.name}' at the same time"
    top: tuple[int, RungSpec] | None = None  # the highest level reached so far by a rung for every severity
    for i, rung in enumerate(rungs):
        if rung.level is None or rung.severity is not None:
            continue
        if top is not None and RUNG_LEVELS.index(rung.level) <= RUNG_LEVELS.index(top[1].level or ""):
            reached = top[1]
            return (
                i,
                "level",
                f"rung '{rung.name}' moves the hazard to {rung.level}, but rung '{reached.name}' has already moved it "
                f"to {reached.level}; a ladder climbs, so this rung would never fire",
            )
        top = (i, rung)
    return None


def standard_ladder(
    remind_before_days: int = 1, county_after_days: int = 3, city_after_days: int = 10, major_overdue_to: str = "county"
) -> tuple[RungSpec, ...]:
    """Today's ladder from the shorthand keys: reminder, supervision, a major hazard elevated at once, county and
    city supervision. Each reminder and supervision also chases the verifier and the deciding unit; elevation the
    verifier."""
    every: tuple[Duty, ...] = ("rectification", "verification", "extension")
    elevated: tuple[Duty, ...] = ("rectification", "verification")
    rungs = []
    if remind_before_days:
        rungs.append(
            RungSpec(
                name="reminder",
                title="催办",
                before_deadline=remind_before_days,
                notice="reminder",
                cc=("township", "level_office"),
                duties=every,
            )
        )
    rungs.append(
        RungSpec(
            name="supervision",
            title="督办",
            overdue_days=0,
            notice="supervision",
            cc=("township_or_county",),
            duties=every,
        )
    )
    for name, title, days, severity, level in (
        ("major", "重大隐患逾期提级", 0, "major", major_overdue_to),
        ("county", "提级县级督办", county_after_days, None, "county"),
        ("city", "提级市级督办", city_after_days, None, "city"),
    ):
        rungs.append(
            RungSpec.model_validate(
                {
                    "name": name,
                    "title": title,
                    "overdue_days": days,
                    "severity": severity,
                    "level": level,
                    "notice": "elevation",
                    "cc": ("township", "level_office"),
                    "duties": elevated,
                }
            )
        )
    return tuple(rungs)


class PendingRung(NamedTuple):
    """A rung that has not fired for a hazard, with the instant it falls due."""

    action: str  # the notice it sends (reminder | supervision | elevation), or ack_reminder
    at: datetime
    level: str | None = None
    duty: str = "rectification"  # whose clock: rectification (the unit) | verification | extension (decision)
    spec: RungSpec | None = None  # None for the acknowledgement reminder, which is counted from the assignment


def fired_seqs(h: Hazard) -> dict[str, int]:
    """``rungs_fired`` as {"duty/rung": the sequence number of the deadline it fired for}."""
    out: dict[str, int] = {}
    for word in h.rungs_fired.split():
        key, _, seq = word.rpartition("=")
        out[key] = int(seq)
    return out


def record_fired(h: Hazard, duty: str, spec: RungSpec, seq: int) -> None:
    """Remember that ``spec`` fired for deadline number ``seq`` of ``duty`` (a new string: the store compares the
    value with the one it read)."""
    column = _RECORD_COLUMNS.get((duty, spec.name))
    if column is not None:
        setattr(h, column, seq)
        return
    fired = fired_seqs(h)
    fired[f"{duty}/{spec.name}"] = seq
    h.rungs_fired = " ".join(f"{key}={value}" for key, value in sorted(fired.items()))


def duty_seq(h: Hazard, duty: str) -> int:
    """The number of the duty's current deadline: a rung fires once per deadline."""
    if duty == "verification":
        return h.verify_seq
    if duty == "extension":
        return h.extension_count
    return h.deadline_seq


class Schedule:
    """When each rung falls due for a hazard. The instants of a deadline's rungs depend on nothing but the deadline,
    the rungs and the calendar: memoised per deadline instant (hazards due the same day share one)."""

    def __init__(
        self,
        rungs: tuple[RungSpec, ...],
        calendar: WorkingCalendar,
        tz: ZoneInfo,
        *,
        acknowledge_within_days: int,
        extension_decision_days: int,
    ) -> None:
        self.rungs = rungs
        self.calendar = calendar
        self.tz = tz
        self.acknowledge_within_days = acknowledge_within_days
        self.extension_decision_days = extension_decision_days
        self._by_duty: dict[str, tuple[tuple[int, RungSpec, str | None], ...]] = {
            duty: tuple((i, r, _RECORD_COLUMNS.get((duty, r.name))) for i, r in enumerate(rungs) if duty in r.duties)
            for duty in DUTIES
        }
        self._instants: dict[datetime, tuple[datetime, ...]] = {}
        self._ack_due: dict[date, datetime] = {}

    def instants(self, due_at: datetime) -> tuple[datetime, ...]:
        """The instant each rung of the ladder falls due for a deadline, in ladder order."""
        return memoised(self._instants, due_at, lambda: self._make_instants(due_at))

    def _make_instants(self, due_at: datetime) -> tuple[datetime, ...]:
        cal, tz = self.calendar, self.tz
        due_day = local_date(due_at, tz)
        overdue_at = due_at + _ONE_SECOND
        out = []
        for rung in self.rungs:
            if rung.before_deadline is not None:
                # the working day that many working days before the due day, from its first instant ("one working
                # day before the deadline": a Monday deadline is reminded on Friday, not at midnight into Sunday)
                day = cal.add_working_days(due_day, -rung.before_deadline)
                out.append(end_of_day(day - _ONE_DAY, tz) + _ONE_SECOND)
            elif rung.overdue_days:
                out.append(end_of_day(cal.add_working_days(due_day, rung.overdue_days), tz) + _ONE_SECOND)
            else:
                out.append(overdue_at)
        return tuple(out)

    def ack_due_at(self, assigned_at: datetime) -> datetime:
        """Memoised per local day of the assignment: a batch assigns thousands of hazards on a few days."""
        start = local_date(assigned_at, self.tz)
        return memoised(self._ack_due, start, lambda: self._make_ack_due_at(start))

    def _make_ack_due_at(self, start: date) -> datetime:
        day: date = self.calendar.add_working_days(start, self.acknowledge_within_days)
        return end_of_day(day, self.tz) + _ONE_SECOND

    def pending(self, h: Hazard) -> list[PendingRung]:
        """Every rung that has not fired yet for the hazard's current assignment and deadlines, in time order."""
        if h.state == State.PENDING_VERIFICATION:
            if h.verify_due_at is None:
                return []  # submitted before the engine kept a verification deadline
            rungs = self._duty_rungs(h, "verification", h.verify_due_at, h.verify_seq, h.submitted_at)
            rungs.sort(key=_by_instant)
            return rungs
        if h.state not in CLOCK_RUNNING or h.due_at is None:
            return []
        rungs = []
        if (
            h.state == "assigned"
            and self.acknowledge_within_days
            and h.assigned_at is not None
            and h.ack_reminded_seq < h.assignment_seq
        ):
            rungs.append(PendingRung("ack_reminder", self.ack_due_at(h.assigned_at)))
        rungs += self._duty_rungs(h, "rectification", h.due_at, h.deadline_seq, h.deadline_set_at)
        if h.pending_extension_days is not None and h.extension_due_at is not None:
            rungs += self._duty_rungs(h, "extension", h.extension_due_at, h.extension_count, None)
        rungs.sort(key=_by_instant)
        return rungs

    def _duty_rungs(
        self, h: Hazard, duty: str, due_at: datetime, seq: int, started_at: datetime | None
    ) -> list[PendingRung]:
        instants = self.instants(due_at)
        fired = fired_seqs(h) if h.rungs_fired else {}
        rank = RUNG_LEVELS.index(h.level) if h.level in RUNG_LEVELS else -1
        out: list[PendingRung] = []
        for i, rung, column in self._by_duty[duty]:
            at = instants[i]
            if self._is_pending(h, duty, rung, column, at, seq, started_at, fired, rank):
                out.append(PendingRung(rung.notice, at, rung.level, duty, rung))
        return out

    def _is_pending(
        self,
        h: Hazard,
        duty: str,
        rung: RungSpec,
        column: str | None,
        at: datetime,
        seq: int,
        started_at: datetime | None,
        fired: dict[str, int],
        rank: int,
    ) -> bool:
        """Whether ``rung`` of ``duty`` (falling at ``at``) is still to fire for ``h``: the one decision behind both
        ``pending`` and ``next_action_at``."""
        if rung.severity is not None and rung.severity != h.severity:
            return False
        if rung.level is not None:
            return RUNG_LEVELS.index(rung.level) > rank  # once per level: pending while the hazard is below it
        done = getattr(h, column) if column is not None else fired.get(f"{duty}/{rung.name}", 0)
        if done >= seq:
            return False
        return rung.before_deadline is None or self._reminder_after_start(rung, at, duty, started_at)

    def _reminder_after_start(self, rung: RungSpec, at: datetime, duty: str, started_at: datetime | None) -> bool:
        """A rung before the deadline only when it falls after the deadline was set: a deadline set the day before
        it falls due has no reminder to send."""
        if duty == "extension":
            # the request instant is not kept; the reminder day lies after the request day only when the decision
            # has more working days than the reminder's lead
            return (rung.before_deadline or 0) < self.extension_decision_days
        return started_at is None or at > started_at

    def next_action_at(self, h: Hazard) -> datetime | None:
        """The instant of the first rung ``pending`` would list (every applied event asks it): the same walk,
        keeping only the earliest instant instead of building, and sorting, every pending rung. On a tie the rung
        listed first wins, as in ``pending``'s stable sort."""
        if h.state == State.PENDING_VERIFICATION:
            if h.verify_due_at is None:
                return None
            return self._earliest(h, "verification", h.verify_due_at, h.verify_seq, h.submitted_at, None)
        if h.state not in CLOCK_RUNNING or h.due_at is None:
            return None
        earliest = None
        if (
            h.state == "assigned"
            and self.acknowledge_within_days
            and h.assigned_at is not None
            and h.ack_reminded_seq < h.assignment_seq
        ):
            earliest = self.ack_due_at(h.assigned_at)
        earliest = self._earliest(h, "rectification", h.due_at, h.deadline_seq, h.deadline_set_at, earliest)
        if h.pending_extension_days is not None and h.extension_due_at is not None:
            earliest = self._earliest(h, "extension", h.extension_due_at, h.extension_count, None, earliest)
        return earliest

    def _earliest(
        self, h: Hazard, duty: str, due_at: datetime, seq: int, started_at: datetime | None, earliest: datetime | None
    ) -> datetime | None:
        """The earlier of ``earliest`` and the first instant among the duty's pending rungs (``_duty_rungs``)."""
        instants = self.instants(due_at)
        fired = fired_seqs(h) if h.rungs_fired else {}
        rank = RUNG_LEVELS.index(h.level) if h.level in RUNG_LEVELS else -1
        for i, rung, column in self._by_duty[duty]:
            at = instants[i]
            if earliest is not None and not at < earliest:
                continue  # cannot come first, whether pending or not
            if self._is_pending(h, duty, rung, column, at, seq, started_at, fired, rank):
                earliest = at
        return earliest


def _by_instant(rung: PendingRung) -> datetime:
    return rung.at
