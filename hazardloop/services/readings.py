"""Monitoring-point readings sent through the HTTP API: the indicator system's intake, as ``hazardloop readings``
takes a file, for an account that may send them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action, Principal, role_refusal_words
from hazardloop.models.core.errors import Refused
from hazardloop.models.store.monitoring import ReadingsReport, ingest_lines


def ingest_readings(
    app: App,
    principal: Principal,
    lines: Sequence[tuple[int, str]],
    *,
    source: str,
    partial: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ReadingsReport:
    """Readings ``(line number, text)`` of CSV or JSON Lines, as of the app's clock. All-or-nothing raises
    ``Rejections`` naming every bad line; ``partial`` keeps the good lines. The hazards a breach raises are the
    city office's monitoring (``<city>/指标监测``) whoever sent the readings: the principal is checked by the caller
    that needs it (`send_readings`), and the indicator system does not narrow it (a point belongs to the city's
    set)."""
    del principal
    return ingest_lines(
        app.engine,
        app.rules,
        app.indicators,
        lines,
        source=source,
        now=app.clock.now(),
        partial=partial,
        progress=progress,
    )


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
    return ingest_readings(app, principal, lines, source="request", partial=partial)
