"""Event-driven intake at scale: other systems emit Prefect events, one run applies a window of them.

An external system emits a Prefect event named after the contract's event type, with the contract event as
its payload and a resource id under ``hazardloop.``::

    emit_event(event="hazard.detected", resource={"prefect.resource.id": "hazardloop.source.patrol-app"},
               payload={"event_id": "patrol-20251013-0001", "ref": "XC-0001", ...})

The ``intake-events`` deployment carries a reactive ``DeploymentEventTrigger`` (threshold 1, ``within`` the
window): the first matching event starts one run and the trigger stays quiet for the rest of the window. That
run waits for the window to close (plus the time the Prefect server takes to store events), reads every
matching event of the window from the events API, and applies them as one batch through the same code path
as ``hazardloop apply --partial``. The next event after the window starts the next run, so no event is left
behind, and a batch never costs more than one flow run. Events are idempotent by ``event_id`` (default:
``prefect:<the Prefect event id>``), so overlapping windows and a re-run change nothing twice.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.events.schemas.events import Event

from hazardloop.flows.common import wired
from hazardloop.flows.intake import apply_events

EVENT_RESOURCE_PREFIX = "hazardloop."
# Every contract event type starts with one of these; Prefect's own events (prefect.flow-run...) never do.
EVENT_NAME_PREFIXES = ["hazard.", "extension.", "rectification.", "verification.", "township."]
EVENT_NAME_PATTERNS = [prefix + "*" for prefix in EVENT_NAME_PREFIXES]
WINDOW_SECONDS = 5.0
# The Prefect server writes received events to its database every few seconds
# (PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL, default 5 s): wait that long before reading.
SETTLE_SECONDS = 6.0
LOOKBACK_SECONDS = 10.0


def contract_line(event: Event) -> str:
    """The contract event a Prefect event carries, as one JSON line: the payload, with the type taken from the
    event's name, the idempotency key from the Prefect event id and the instant from its occurrence when the
    payload leaves them out."""
    payload: dict[str, Any] = dict(event.payload)
    payload.setdefault("type", event.event)
    payload.setdefault("event_id", f"prefect:{event.id}")
    payload.setdefault("at", event.occurred.isoformat())
    return json.dumps(payload, ensure_ascii=False, default=str)


async def read_window(since: datetime, until: datetime) -> list[Event]:
    """Every hazardloop event that occurred in [since, until], oldest first, across all pages."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventOrder,
        EventResourceFilter,
    )

    wanted = EventFilter(
        occurred=EventOccurredFilter(since=since, until=until),
        event=EventNameFilter(prefix=EVENT_NAME_PREFIXES),
        resource=EventResourceFilter(id_prefix=[EVENT_RESOURCE_PREFIX]),
        order=EventOrder.ASC,
    )
    events: list[Event] = []
    async with get_client() as client:
        page = await client.read_events(filter=wanted, limit=50)
        events.extend(page.events)
        while page.next_page is not None:
            page = await client.read_events_page(str(page.next_page))
            events.extend(page.events)
    unique = {event.id: event for event in events}  # a page boundary may repeat an event
    return sorted(unique.values(), key=lambda event: (event.occurred, str(event.id)))


@flow(name="intake-events", flow_run_name="intake-events-{first_event_at}")
async def intake_events(
    first_event_at: datetime | None = None,
    window_seconds: float = WINDOW_SECONDS,
    settle_seconds: float = SETTLE_SECONDS,
    lookback_seconds: float = LOOKBACK_SECONDS,
    db: str | None = None,
    config: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply the hazardloop events emitted to Prefect in the window that starts at ``first_event_at`` (the
    trigger passes the first event's instant; without it, the last ``lookback_seconds``)."""
    logger = get_run_logger()
    with wired(db, config, now) as app:
        clock = app.clock
    # Waiting on the real time is about the Prefect server's buffering, not a rule: rules see the clock's ``now``.
    started = clock.wall_now()
    first = first_event_at.astimezone(UTC) if first_event_at else started
    close = first + timedelta(seconds=window_seconds + settle_seconds)
    if close > started:
        await asyncio.sleep((close - started).total_seconds())
    events = await read_window(first - timedelta(seconds=lookback_seconds), clock.wall_now())
    if not events:
        logger.info("no hazardloop events in the window that opened at %s", first.isoformat())
        return {"events": 0, "applied": 0, "duplicates": 0, "created": 0, "notices": 0, "rejected": []}
    lines = [(number, contract_line(event)) for number, event in enumerate(events, start=1)]
    as_of = clock.now()
    result = apply_events(lines, "prefect-events", db, config, as_of, True)
    for problem in result["rejected"]:
        event = events[problem["line"] - 1] if problem["line"] else None
        logger.error(
            "event %s (%s) rejected: %s%s",
            event.payload.get("event_id", event.id) if event else "?",
            event.event if event else "?",
            f"{problem['field']}: " if problem["field"] else "",
            problem["message"],
        )
    logger.info(
        "%d event(s) read: %s applied, %s duplicate(s), %s hazard(s) created, %s notice(s) queued, %d rejected",
        len(events),
        result["applied"],
        result["duplicates"],
        result["created"],
        result["notices"],
        len(result["rejected"]),
    )
    return {"events": len(events), **result}
