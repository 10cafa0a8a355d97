"""Monitoring-point readings sent through the HTTP API: the indicator system's intake, as ``hazardloop readings``
takes a file, for an account that may send them."""

from __future__ import annotations

from collections.abc import Sequence

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action, Principal, role_refusal_words
from hazardloop.models.core.errors import Refused
from hazardloop.models.store.monitoring import ReadingsReport
from hazardloop.monitoring import ingest_readings


def send_readings(
    app: App, principal: Principal, lines: Sequence[tuple[int, str]], *, partial: bool = False
) -> ReadingsReport:
    """Readings ``(line number, text)`` of CSV or JSON Lines, all-or-nothing unless ``partial``. A breach raises a
    hazard wherever its point stands, so only a staff account of the whole organisation (the city office, where a
    monitoring platform's account belongs) may send them: the points are the city's set, not a township's."""
    if not principal.may(Action.SEND_READINGS):
        raise Refused(role_refusal_words(principal, Action.SEND_READINGS), field="actor")
    if not principal.jurisdiction.everything:
        raise Refused(
            f"readings raise hazards anywhere the monitoring points stand; the account '{principal.login}' sees only "
            f"part of the organisation ({principal.unit_code}): send readings with a staff account of the city office",
            field="actor",
        )
    return ingest_readings(app, lines, source="request", partial=partial, principal=principal)
