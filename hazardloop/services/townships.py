"""Listing a township for elevated supervision (挂牌督办) and delisting it (摘牌), by a principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action, Decision, Principal, TownshipTarget, decide, role_refusal_words
from hazardloop.models.core.errors import NotFound, Problem, Refused, Rejections
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.queries import list_listings
from hazardloop.services import supervision
from hazardloop.services.hazards import one_event_error


@dataclass
class TownshipResult:
    township: dict[str, Any]
    listing: dict[str, Any] | None
    notices: int


def resolve(app: App, principal: Principal, key: str, field: str = "township") -> Any:
    """The township by code or name; outside the principal's jurisdiction it does not exist."""
    levels = ("township", "area")
    unit = app.tree.find(key, field, levels=levels, where=lambda u: principal.jurisdiction.sees_unit(u.code))
    if unit is None or unit.level not in levels:
        raise NotFound([Problem(f"'{key}' is not a township, street or key area", field=field)])
    if decide(principal, Action.READ, TownshipTarget(unit.code)) is Decision.NOT_FOUND:
        raise NotFound([Problem(f"'{key}' is not a township in this account's jurisdiction", field=field)])
    return unit


def _latest_listing(app: App, code: str) -> dict[str, Any] | None:
    with unit_of_work(app.engine, write=False) as conn:
        rows = list_listings(conn, app.rules, township=code)
    return rows[-1] if rows else None


def change_listing(
    app: App, principal: Principal, key: str, action: Action, reason: str, force: bool = False
) -> TownshipResult:
    """``Action.LIST`` or ``Action.DELIST`` of the township ``key`` with ``reason`` (``force``: delist regardless of
    open problems and figures)."""
    township = resolve(app, principal, key)
    if decide(principal, action, TownshipTarget(township.code)) is Decision.FORBIDDEN:
        raise Refused(role_refusal_words(principal, action), field="actor")
    try:
        if action is Action.LIST:
            done = supervision.list_township(app, principal, township.code, reason)
        else:
            done = supervision.delist_township(app, principal, township.code, reason, force=force)
    except Rejections as exc:
        raise one_event_error(exc) from None
    return TownshipResult(
        {"code": township.code, "name": township.name}, _latest_listing(app, township.code), done.notices
    )


def listings(app: App, principal: Principal, *, active_only: bool = False) -> list[dict[str, Any]]:
    """The townships under (or once under) elevated listed supervision within the principal's jurisdiction, with
    their history and delisting proposals, oldest first."""
    j = principal.jurisdiction
    with unit_of_work(app.engine, write=False) as conn:
        rows = list_listings(conn, app.rules, active_only=active_only)
    return rows if j.everything else [r for r in rows if j.sees_township(r["township_code"])]
