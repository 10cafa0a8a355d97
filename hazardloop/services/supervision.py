"""A supervisor's manual actions, one use case each: escalate a hazard (提级), list a township for elevated supervision
(挂牌督办), delist it (摘牌), confirm the sweep's delisting proposal, decide an extension (审批延期). Each is one event
stamped at the app's clock and applied with the principal's audit columns and authorisation guard, so the command
line's ``--by``, a Prefect form's ``actor`` and an account all meet the same lifecycle rules.

The events' problems are raised as they are (``InvalidInput``, ``Rejections``), naming the event's fields (``to``,
``reason``, ``actor``): an entry point renames them in its own terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import InvalidInput, NotFound, Problem, Refused
from hazardloop.models.core.vocabulary import SUPERVISION_LEVELS
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.intake import ApplyReport
from hazardloop.models.store.queries import list_listings
from hazardloop.services.hazards import record_manual

LEVELS = SUPERVISION_LEVELS  # the levels a hazard can be escalated to


@dataclass
class ManualResult:
    """One manual event: ``applied`` 1 (or ``duplicates`` 1), the notices it queued, the hazard it concerned."""

    type: str
    target: str  # the hazard or township as given
    applied: int
    duplicates: int
    notices: int
    hazard: str | None

    def as_dict(self) -> dict[str, Any]:
        """What a flow run returns."""
        return {"applied": self.applied, "notices": self.notices, "hazard": self.hazard}


def _record(app: App, principal: Principal, payload: dict[str, Any], target: str) -> ManualResult:
    report: ApplyReport = record_manual(app, principal, {**payload, "actor": principal.actor})
    return ManualResult(payload["type"], target, report.applied, report.duplicates, report.notices, report.last_hazard)


def escalate(app: App, principal: Principal, hazard: str, to: str, reason: str) -> ManualResult:
    """Escalate the hazard ``hazard`` (id or source reference) to the supervision level ``to``."""
    if to not in LEVELS:
        raise InvalidInput([Problem(f"'{to}' is not a level; use township, county or city", field="to")])
    payload = {"type": "hazard.escalated", "hazard": hazard, "to": to, "reason": reason}
    return _record(app, principal, payload, hazard)


def list_township(app: App, principal: Principal, township: str, reason: str) -> ManualResult:
    """List the township (name or code) for elevated supervision."""
    return _record(app, principal, {"type": "township.listed", "township": township, "reason": reason}, township)


def delist_township(app: App, principal: Principal, township: str, reason: str, *, force: bool = False) -> ManualResult:
    """Delist the township once its listed problems are closed and its figures are within bounds (``force``:
    regardless, for a listing made in error)."""
    payload: dict[str, Any] = {"type": "township.delisted", "township": township, "reason": reason}
    if force:
        payload["force"] = True
    return _record(app, principal, payload, township)


def confirm_delisting(app: App, principal: Principal, township: str, reason: str) -> ManualResult:
    """Confirm the sweep's proposal to delist the township: refused when no proposal waits for it."""
    levels = ("township", "area")
    unit = app.tree.find(township, "township", levels=levels, where=lambda u: principal.jurisdiction.sees_unit(u.code))
    if unit is None:
        raise NotFound([Problem(f"'{township}' is not a township, street or key area", field="township")])
    with unit_of_work(app.engine, write=False) as conn:
        active = list_listings(conn, app.rules, active_only=True, township=unit.code)
    if not any(row["delist_proposed_at"] for row in active):
        raise Refused(
            f"{unit.name} has no delisting proposal to confirm"
            + (" (it is not listed)" if not active else "; delist it with a reason instead"),
            field="township",
        )
    return delist_township(app, principal, unit.code, reason)


def decide_extension(app: App, principal: Principal, hazard: str, approved: bool, reason: str) -> ManualResult:
    """Grant or refuse the extension the hazard's unit asked for."""
    payload = {"type": "extension.decided", "hazard": hazard, "approved": approved, "reason": reason}
    return _record(app, principal, payload, hazard)
