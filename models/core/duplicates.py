"""When an event delivered again is the same event.

An ``event_id`` is the idempotency key: delivered again, the event changes nothing and is counted as a
duplicate; reused for a different event, it is refused. "The same" is judged on meaning, not spelling: a system
in between may re-send an event with its instant in another offset (``Z`` for ``+08:00``), a hazard named by
its id instead of its source reference, or a unit, township or actor named by code instead of name. The cheap
check (the digest of the canonical JSON) settles almost every case; this is the fallback when the digests
differ.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from hazardloop.models.core.errors import InvalidInput
from hazardloop.models.core.events import Event
from hazardloop.models.core.orgtree import OrgTree

_UNIT_FIELDS = ("unit", "township", "county")


def same_event(tree: OrgTree, first: Event, first_hazard: str | None, again: Event, again_hazard: str | None) -> bool:
    """Whether two events mean the same; ``*_hazard``: the id of the hazard each names, where known."""
    return _meaning(tree, first, first_hazard) == _meaning(tree, again, again_hazard)


def _meaning(tree: OrgTree, event: Event, hazard_id: str | None) -> dict[str, Any]:
    data = event.model_dump()
    data["at"] = event.at.astimezone(UTC)
    data["actor"] = _actor(tree, event.actor)
    named = data.get("hazard")
    if isinstance(named, str) and hazard_id is not None:
        data["hazard"] = hazard_id
    for holder in (data, named if isinstance(named, dict) else {}):
        for key in _UNIT_FIELDS:
            value = holder.get(key)
            try:
                unit = tree.find(value) if isinstance(value, str) else None
            except InvalidInput:  # a name several units share stays as written
                unit = None
            if unit is not None:
                holder[key] = unit.code
    return data


def _actor(tree: OrgTree, actor: str) -> tuple[str | None, str | None]:
    parsed = tree.parse_actor(actor, reporter=True)  # never refuses: an unknown actor stays as written
    return (parsed.unit.code, parsed.person) if parsed.unit is not None else (None, parsed.raw)
