"""Intake and lifecycle flows: events from a file (or a list) are validated, deduplicated by event id and
source reference, routed, assigned and applied — in batches, one task per stage, never a run per hazard.

Run locally: ``python -m hazardloop.flows.intake events.jsonl --db sqlite:///hazardloop.db``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from hazardloop.flows.common import run_service, transient_db_error, wired
from hazardloop.models.core.errors import Problem
from hazardloop.models.core.event_json import numbered_lines
from hazardloop.services.hazards import apply_events as apply_event_lines
from hazardloop.services.hazards import check_event_lines


def _problems(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"line": p.line, "field": p.field, "message": p.message, "refused": p.refused} for p in problems]


@task(name="validate-events")
def validate_events(lines: list[tuple[int, str]], source: str, now: datetime) -> list[dict[str, Any]]:
    """Parse every line against the event schema; returns the problems found (nothing is written)."""
    return _problems(check_event_lines(lines, source, now))


@task(name="apply-events", retries=3, retry_delay_seconds=[1, 5, 15], retry_condition_fn=transient_db_error)
def apply_events(
    lines: list[tuple[int, str]], source: str, db: str | None, config: str | None, now: datetime, partial: bool
) -> dict[str, Any]:
    """Dedupe, route, assign and apply in one all-or-nothing transaction (or chunk by chunk if partial)."""
    report = run_service(
        db, config, now, lambda app, who: apply_event_lines(app, who, lines, source=source, partial=partial)
    )
    return {
        "applied": report.applied,
        "duplicates": report.duplicates,
        "created": len(report.created),
        "notices": report.notices,
        "rejected": _problems(report.rejected),
    }


def _lines(events: list[str] | None, path: str | None) -> tuple[str, list[tuple[int, str]]]:
    if path:
        return path, numbered_lines(Path(path).read_bytes().decode("utf-8"))
    return "parameters", list(enumerate(events or [], start=1))


def _clock_now(db: str | None, config: str | None) -> datetime:
    with wired(db, config) as app:
        return app.clock.now()


@flow(name="intake", flow_run_name="intake-{source_name}", log_prints=False)
async def intake(
    events: list[str] | None = None,
    path: str | None = None,
    source_name: str = "events",
    db: str | None = None,
    config: str | None = None,
    now: datetime | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """Apply a batch of contract events (JSON strings, or a JSON Lines file on the worker's disk)."""
    logger = get_run_logger()
    source, lines = _lines(events, path)
    as_of = now or _clock_now(db, config)
    problems = validate_events(lines, source, as_of)
    if problems and not partial:
        logger.error("%d bad line(s); nothing applied: %s", len(problems), problems[:10])
        raise ValueError(f"{len(problems)} bad line(s) in {source}; first: {problems[0]}")
    result = apply_events(lines, source, db, config, as_of, partial)
    logger.info(
        "applied %s event(s), %s duplicate(s), %s hazard(s) created, %s notice(s) queued",
        result["applied"],
        result["duplicates"],
        result["created"],
        result["notices"],
    )
    return result


if __name__ == "__main__":
    import asyncio

    file = sys.argv[1]
    db_url = sys.argv[sys.argv.index("--db") + 1] if "--db" in sys.argv else None
    print(asyncio.run(intake(path=file, source_name=Path(file).name, db=db_url)))
