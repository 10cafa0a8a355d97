"""Which hazards a ledger (隐患台账) shows: a township, a county, states, hazards closed since an instant, and the
caller's further conditions. The store reads the rows (``models.store.ledger``); ``notifications.ledger`` writes
the workbook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.lifecycle import State
from hazardloop.models.core.rules import Rules


@dataclass(frozen=True)
class LedgerFilter:
    township: str | None = None  # codes, resolved
    county: str | None = None
    states: tuple[str, ...] = ()
    closed_since: datetime | None = None  # open hazards and those closed since this instant only
    # further conditions on hazards (the API's filters and the caller's jurisdiction): SQL expressions the store
    # builds and applies, opaque here
    where: tuple[Any, ...] = ()


def resolve_filter(
    rules: Rules, *, township: str | None = None, county: str | None = None, state: str | None = None
) -> LedgerFilter:
    """Validate the command-line filters (names or codes) into codes; unknown ones are invalid input."""
    tree = rules.tree
    town_code = tree.resolve_township(township, field="--township").code if township else None
    county_code = None
    if county:
        unit = tree.find(county, "--county", levels=("county",))
        if unit is None:
            raise InvalidInput([Problem(f"'{county}' is not a county in org.yaml", field="--county")])
        county_code = unit.code
        if town_code and (tree.county_of(town_code) or tree.city).code != county_code:
            raise InvalidInput([Problem(f"{tree.get(town_code).name} is not in {unit.name}", field="--township")])
    states: tuple[str, ...] = ()
    if state:
        states = tuple(s.strip() for s in state.split(",") if s.strip())
        known = {str(s) for s in State}
        bad = [s for s in states if s not in known]
        if bad:
            raise InvalidInput([Problem(f"unknown state(s) {bad}; states are {sorted(known)}", field="--state")])
    return LedgerFilter(town_code, county_code, states)


def report_ledger_filter(rules: Rules, context: dict[str, Any]) -> LedgerFilter | None:
    """The hazards of the ledger attached to a monthly report notice (``None`` for other periods): the scope's
    hazards still open and those closed since the period began."""
    if context.get("period_kind") != "monthly":
        return None
    scope = context.get("scope") or {}
    first = context.get("period_start")
    first_day = date.fromisoformat(first) if isinstance(first, str) else first
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=rules.policy.tz) if first_day else None
    if scope.get("level") == "county":
        return LedgerFilter(county=scope["code"], closed_since=since)
    if scope.get("level") == "township":
        return LedgerFilter(township=scope["code"], closed_since=since)
    return LedgerFilter(closed_since=since)
