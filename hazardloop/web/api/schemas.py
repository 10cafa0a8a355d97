"""The shapes of the API's answers, for the OpenAPI document (and the clients and tests that read it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hazardloop.web.problems import TITLES, ProblemDetails


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error responses as documented: RFC 9457 problem details."""
    ref = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    return {
        code: {
            "model": ProblemDetails,
            "description": TITLES.get(code, "Error"),
            "content": {"application/problem+json": ref},
        }
        for code in codes
    }


# Every authenticated route may answer these.
COMMON = (401, 413, 422, 429, 503)


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Hazard(Open):
    id: str
    ref: str
    title: str
    description: str
    field: str
    field_name: str
    severity: str
    state: str
    unit: str | None
    unit_name: str | None
    township: str
    township_code: str
    county: str | None
    county_code: str | None
    village: str | None
    address: str | None
    source: str | None
    campaign: str | None
    reporter: str
    level: str
    due_at: str | None
    deadline_provisional: bool
    overdue: bool
    overdue_days: int
    rework_count: int
    extension_count: int
    pending_extension_days: int | None
    detected_at: str
    assigned_at: str | None
    acknowledged_at: str | None
    submitted_at: str | None
    cleared_at: str | None
    closed_at: str | None
    next_action_at: str | None
    version: int


class HazardList(BaseModel):
    items: list[Hazard]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class HistoryEntry(Open):
    at: str | None
    recorded_at: str | None
    action: str
    actor: str
    reason: str | None
    via: str | None
    account_id: int | None


class Notice(Open):
    id: int
    kind: str
    hazard: str | None
    township: str | None
    to: list[str]
    cc: list[str]
    subject: str
    status: str
    number: str


class HazardDetail(Hazard):
    history: list[HistoryEntry]
    notices: list[Notice]


class ActionOutcome(BaseModel):
    hazard: HazardDetail
    event_id: str
    duplicate: bool = Field(description="true when this event_id had been applied before: nothing changed")
    notices: int


class Rejected(BaseModel):
    line: int | None
    field: str | None
    message: str
    refused: bool


class ApplyOutcome(BaseModel):
    lines: int
    applied: int
    duplicates: int
    created: list[str]
    notices: int
    rejected: list[Rejected]


class NoticeList(BaseModel):
    items: list[Notice]
    next_cursor: str | None


class NoticeDocument(BaseModel):
    subject: str
    text: str
    html: str
    as_sent: bool


class NoticeWithDocument(Notice):
    document: NoticeDocument


class Township(BaseModel):
    code: str
    name: str


class TownshipOutcome(BaseModel):
    township: Township
    listing: dict[str, Any] | None
    notices: int
