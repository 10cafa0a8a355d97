"""The indicator system's use cases, called by every entry point (the command line; the HTTP API's
``POST /api/v1/readings``; a Prefect flow)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.store.monitoring import ReadingsReport, ingest_lines


def ingest_readings(
    app: App,
    lines: Sequence[tuple[int, str]],
    *,
    source: str,
    partial: bool = False,
    principal: Any = None,
    progress: Callable[[int], None] | None = None,
) -> ReadingsReport:
    """Readings ``(line number, text)`` of CSV or JSON Lines, as of the app's clock. All-or-nothing raises
    ``Rejections`` naming every bad line; ``partial`` keeps the good lines. The hazards a breach raises are the
    city office's monitoring (``<city>/指标监测``) whoever sent the readings: ``principal`` is accepted for the
    API's audit and scoping, which the indicator system does not narrow (a point belongs to the city's set)."""
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
