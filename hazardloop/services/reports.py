"""The periodic analysis and the ledger, cut to a principal's jurisdiction."""

from __future__ import annotations

from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import NotFound, Problem
from hazardloop.models.core.figures import resolve_scope
from hazardloop.models.core.periods import resolve_period
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.queries import hazard_filters, hazards_within
from hazardloop.services.hazards import HazardFilter, check_levels, check_states

PERIOD_KINDS = ("daily", "weekly", "monthly", "quarterly")


def figures(
    app: App, principal: Principal, kind: str, period: str | None = None, scope: str | None = None
) -> dict[str, Any]:
    """The figures of ``report --json`` for ``scope`` (default: the account's own unit), which must be the city, a
    county or a township within the jurisdiction (else it does not exist for the account)."""
    from hazardloop.flows.reports import build

    rules = app.rules
    own = app.tree.units[principal.unit_code]
    if scope is None:
        if own.level not in ("city", "county", "township", "area"):
            raise NotFound(
                [
                    Problem(
                        f"{own.name} is not the city, a county or a township, so it has no analysis of its own; "
                        "name a scope within its jurisdiction",
                        field="scope",
                    )
                ]
            )
        scope = own.code
    unit = app.tree.find(scope)
    if unit is None or not principal.jurisdiction.sees_unit(unit.code):
        raise NotFound([Problem(f"'{scope}' is not a unit in this account's jurisdiction", field="scope")])
    chosen = resolve_scope(rules, unit.code)
    chosen_period = resolve_period(kind, app.clock.now(), rules.policy.tz, period)
    return build(app.engine, rules, chosen_period, [chosen])[chosen.code]


def ledger(app: App, principal: Principal, flt: HazardFilter) -> bytes:
    """The hazard ledger (.xlsx) of the principal's jurisdiction with the ``hazards`` filters, one sheet per
    county (the account's own county or township only, when it is one)."""
    from hazardloop.models.core.ledger_filter import LedgerFilter
    from hazardloop.models.store.ledger import ledger_rows
    from hazardloop.notifications.ledger import ledger_bytes

    check_states(flt.state, "state")
    check_levels(flt.level, "level")
    now = app.clock.now()
    where = hazard_filters(
        app.rules,
        now,
        state=flt.state,
        township=flt.township,
        unit=flt.unit,
        field=flt.field,
        overdue=flt.overdue,
        level=flt.level,
        q=flt.q,
        option=lambda name: name,
    )
    scope = hazards_within(principal.jurisdiction)
    if scope is not None:
        where.append(scope)
    own = app.tree.units[principal.unit_code]
    ledger_filter = LedgerFilter(
        township=own.code if own.level in ("township", "area") else None,
        county=own.code if own.level == "county" else None,
        where=tuple(where),
    )
    with unit_of_work(app.engine, write=False) as conn:
        return ledger_bytes(ledger_rows(conn, ledger_filter), app.rules, now, ledger_filter)
