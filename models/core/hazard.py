"""The hazard as the rules see it, and what applying something to it produces (transitions and notices).
Plain dataclasses: the persistence layer copies them to and from rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

# The engine's own hazard ids. A source reference of this form could later name two hazards (``show HZ-…`` takes
# an id or a reference), so detection refuses it.
HAZARD_ID_FORM = re.compile(r"HZ-\d{4}-\d{6,}")


def hazard_id_for(year: int, seq: int) -> str:
    return f"HZ-{year}-{seq:06d}"


@dataclass
class Hazard:
    id: str
    ref: str
    title: str
    description: str
    field: str
    severity: str
    township_code: str
    county_code: str | None
    detected_at: datetime
    reporter: str
    state: str = "detected"
    village: str | None = None
    address: str | None = None
    source: str = ""  # '' when the detection named none: a source reference is unique within its source
    campaign: str | None = None
    unit_code: str | None = None
    level: str = "none"
    assigned_at: datetime | None = None
    acknowledged_at: datetime | None = None
    due_at: datetime | None = None
    deadline_set_at: datetime | None = None
    deadline_provisional: bool = False
    deadline_days: int = 0  # working days from the local day of deadline_set_at to the due day, as counted then
    deadline_seq: int = 0  # bumps with every new deadline (assignment, approved extension)
    reminded_seq: int = 0  # the deadline_seq whose reminder has been issued
    supervised_seq: int = 0  # the deadline_seq whose overdue supervision has been issued
    assignment_seq: int = 0  # bumps with every (re)assignment
    ack_reminded_seq: int = 0  # the assignment_seq whose acknowledgement reminder has been issued
    overdue_since: datetime | None = None
    rework_count: int = 0
    extension_count: int = 0
    extension_days_granted: int = 0
    pending_extension_days: int | None = None
    pending_extension_reason: str | None = None
    submitted_at: datetime | None = None
    # the verifier's clock: set at each submission, gone once verified; seqs as for the unit's deadline
    verify_due_at: datetime | None = None
    verify_seq: int = 0  # bumps with every submission for verification
    verify_reminded_seq: int = 0
    verify_supervised_seq: int = 0
    # the deciding unit's clock for the pending extension request (its number is ``extension_count``)
    extension_due_at: datetime | None = None
    extension_reminded_seq: int = 0
    extension_supervised_seq: int = 0
    # the rungs of an office's own ladder that have fired, as "duty/rung=seq" words (``models.core.ladder``); the
    # standard rungs keep their records in the columns above
    rungs_fired: str = ""
    cleared_at: datetime | None = None
    closed_at: datetime | None = None
    next_action_at: datetime | None = None
    # The last step a person took (an event type) and its instant: a later event may not be dated before it
    # (``Rules.check_order``). The engine's own steps (routing, reminders, supervision, elevation) do not count.
    last_step: str | None = None
    last_step_at: datetime | None = None
    version: int = 0
    updated_at: datetime | None = None

    def copy(self) -> Hazard:
        clone = object.__new__(Hazard)
        clone.__dict__.update(self.__dict__)
        return clone

    def as_row(self) -> dict[str, Any]:
        return {name: self.__dict__[name] for name in HAZARD_COLUMNS}


HAZARD_COLUMNS = tuple(f.name for f in fields(Hazard))
# Set by the store on a hazard it read: the updatable values as read, so an update writes only what changed.
# Kept out of the dataclass fields (not compared, not a column); copies carry it along.
LOADED = "_loaded"


def cause_key(kind: str, hazard_id: str, *parts: object) -> str:
    """The idempotency key of a step and its notice: the same cause is never acted on twice."""
    return ":".join([kind, hazard_id, *(str(p) for p in parts)])


@dataclass(frozen=True)
class Transition:
    """One audit row: who did what to which hazard (or township), from which state to which, and why."""

    hazard_id: str | None
    township_code: str | None
    action: str  # the event type, or a sweep action: reminded, supervised, elevated, listed, ...
    from_state: str | None
    to_state: str | None
    at: datetime
    actor: str
    event_id: str | None = None
    reason: str | None = None
    level: str | None = None
    cause_key: str | None = None  # unique: the same cause is never acted on twice
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoticeIntent:
    """A notice the engine decided to issue. Numbering, recipients' addresses and the document's context
    snapshot are filled in by the service that writes it, in the same transaction."""

    kind: str
    key: str  # idempotency key
    hazard_id: str | None
    township_code: str | None
    recipient_code: str
    cc_codes: tuple[str, ...]
    issuer_code: str
    at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Effects:
    transitions: list[Transition] = field(default_factory=list)
    notices: list[NoticeIntent] = field(default_factory=list)

    def extend(self, other: Effects) -> None:
        self.transitions.extend(other.transitions)
        self.notices.extend(other.notices)
