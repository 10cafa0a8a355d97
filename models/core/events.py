"""The events of the contract, as pydantic models. One ``TypeAdapter`` over a discriminated union parses a
line in one call (the fast path for batches)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)
from pydantic_core import PydanticCustomError

from hazardloop.models.core.instants import RANGE_WORDS, instant_in_range
from hazardloop.models.core.text import MULTI_LINE_PATTERN, ONE_LINE_PATTERN

# Every text field of every event is one of these: the rule on what text is accepted (models.text) is here once.
# Multi-line text: descriptions, notes, reasons.
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000, pattern=MULTI_LINE_PATTERN)
]
# One-line text: references, titles, names, sources, campaigns, event ids, actors, evidence items.
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=ONE_LINE_PATTERN)
]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=ONE_LINE_PATTERN)]

MAX_EVIDENCE_ITEMS = 100

_ISO_DATE_AND_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    """pydantic would read a JSON number, or a string of digits, as Unix seconds; the contract's instants are
    ISO 8601 text with their offset, and a number there is far more likely a mistake than a timestamp."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime")
    if not _ISO_DATE_AND_TIME.match(value):
        raise PydanticCustomError("datetime_parsing", "Input should be a valid datetime")
    return value


def _in_range(value: datetime) -> datetime:
    if not instant_in_range(value):
        raise PydanticCustomError("instant_out_of_range", "is out of range: {range}", {"range": RANGE_WORDS})
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_range)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: ShortText
    at: Instant
    actor: ShortText


class DetectedHazard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: ShortText
    title: ShortText
    description: Text
    field: ShortText
    severity: Literal["general", "major"]
    township: ShortText
    county: ShortText | None = None
    village: ShortText | None = None
    address: Address | None = None
    source: ShortText | None = None
    campaign: ShortText | None = None
    unit: ShortText | None = None  # the responsible unit, when the source names it (an indicator's); else routing
    # added to the contract: photos or documents of the report (``sha256:<hex>`` of stored files, as a
    # submission's evidence) and where the reporter stood (WGS 84 degrees)
    evidence: list[ShortText] = Field(default_factory=list, max_length=50)
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


class HazardDetected(_Event):
    type: Literal["hazard.detected"]
    hazard: DetectedHazard


class _HazardEvent(_Event):
    hazard: ShortText


class HazardAssigned(_HazardEvent):
    type: Literal["hazard.assigned"]
    unit: ShortText


class HazardAcknowledged(_HazardEvent):
    type: Literal["hazard.acknowledged"]


class HazardReassigned(_HazardEvent):
    type: Literal["hazard.reassigned"]
    unit: ShortText
    reason: Text


class ExtensionRequested(_HazardEvent):
    type: Literal["extension.requested"]
    days: Annotated[int, Field(ge=1, le=365, strict=True)]
    reason: Text


class ExtensionDecided(_HazardEvent):
    type: Literal["extension.decided"]
    approved: Annotated[bool, Field(strict=True)]
    reason: Text


class RectificationSubmitted(_HazardEvent):
    type: Literal["rectification.submitted"]
    note: Text
    # references to photos and documents (file names, hashes, links): a rectification's evidence, not an archive
    evidence: list[ShortText] = Field(default_factory=list, max_length=MAX_EVIDENCE_ITEMS)


class VerificationPassed(_HazardEvent):
    type: Literal["verification.passed"]
    note: Text


class VerificationFailed(_HazardEvent):
    type: Literal["verification.failed"]
    reason: Text


class HazardInvalidated(_HazardEvent):
    type: Literal["hazard.invalidated"]
    reason: Text


class HazardEscalated(_HazardEvent):
    type: Literal["hazard.escalated"]
    to: Literal["township", "county", "city"]
    reason: Text


class TownshipListed(_Event):
    type: Literal["township.listed"]
    township: ShortText
    reason: Text


class TownshipDelisted(_Event):
    type: Literal["township.delisted"]
    township: ShortText
    reason: Text
    # Delisting needs the listed problems closed and the figures back within bounds; a supervisor may delist
    # regardless (a listing made in error), saying why in the reason.
    force: Annotated[bool, Field(strict=True)] = False


# The events that act on an existing hazard.
HazardEvent = (
    HazardAssigned
    | HazardAcknowledged
    | HazardReassigned
    | ExtensionRequested
    | ExtensionDecided
    | RectificationSubmitted
    | VerificationPassed
    | VerificationFailed
    | HazardInvalidated
    | HazardEscalated
)
Event = Annotated[HazardDetected | HazardEvent | TownshipListed | TownshipDelisted, Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# an event_id given on its own (an action's retry key), checked by the very rule of the events' own field
EVENT_ID_ADAPTER: TypeAdapter[str] = TypeAdapter(ShortText)
EVENT_TYPES: tuple[str, ...] = (
    "hazard.detected",
    "hazard.assigned",
    "hazard.acknowledged",
    "hazard.reassigned",
    "extension.requested",
    "extension.decided",
    "rectification.submitted",
    "verification.passed",
    "verification.failed",
    "hazard.invalidated",
    "hazard.escalated",
    "township.listed",
    "township.delisted",
)
HAZARD_EVENT_TYPES = tuple(t for t in EVENT_TYPES if not t.startswith("township."))
