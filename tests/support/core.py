"""The pure core in memory, for the unit tier: the shipped policy and organisation as objects (read once), rules
built from them, events as the contract spells them, and hazards taken through their life by the rules alone.
No database, no clock: every call is handed its instant."""

from __future__ import annotations

import functools
import itertools
from datetime import datetime
from typing import Any

from hazardloop.config.loading import load_org, load_policy
from hazardloop.models.core.escalation import sweep_hazard
from hazardloop.models.core.events import EVENT_ADAPTER
from hazardloop.models.core.hazard import Effects, Hazard, hazard_id_for
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.policy import Policy
from hazardloop.models.core.rules import Rules
from tests.support.factories import FIRE_UNIT, TOWNSHIP, TOWNSHIP_CODE, at
from tests.support.fixtures import CONFIG_DIR

_ids = itertools.count(1)


@functools.cache
def default_policy() -> Policy:
    return load_policy(CONFIG_DIR)


@functools.cache
def default_tree() -> OrgTree:
    return OrgTree(load_org(CONFIG_DIR, default_policy()))


def rules(**policy_changes: Any) -> Rules:
    """Rules over the default organisation; ``policy_changes`` replace whole sections of the default policy."""
    policy = default_policy()
    if policy_changes:
        policy = policy.model_copy(update=policy_changes)
    return Rules.build(policy, default_tree())


def parsed(event: dict[str, Any]) -> Any:
    return EVENT_ADAPTER.validate_python(event)


def detect(
    r: Rules, when: str, *, field: str = "fire", severity: str = "general", township: str = TOWNSHIP, **more: Any
) -> tuple[Hazard, Effects]:
    """A hazard detected at ``when`` (local time when no offset is written) and routed by the rules."""
    n = next(_ids)
    event = {
        "type": "hazard.detected",
        "event_id": f"det-{n}",
        "at": at(when).isoformat(),
        "actor": f"{TOWNSHIP_CODE}/网格员",
        "hazard": {
            "ref": f"U-{n}",
            "title": f"单元测试隐患 {n}",
            "description": "单元测试",
            "field": field,
            "severity": severity,
            "township": township,
            **more,
        },
    }
    return r.detect(parsed(event), hazard_id_for(2025, n))


def act(r: Rules, h: Hazard, kind: str, when: str, actor: str, **fields: Any) -> Effects:
    """Apply one contract event to ``h`` in place (``Refused`` / ``InvalidInput`` leave it untouched)."""
    event = {"type": kind, "event_id": f"{kind}-{next(_ids)}", "at": at(when).isoformat(), "actor": actor}
    return r.apply(h, parsed({**event, "hazard": h.id, **fields}))


def sweep(r: Rules, h: Hazard, when: str | datetime) -> Effects:
    """The escalation sweep's decision for one hazard at ``when``."""
    return sweep_hazard(r, h, when if isinstance(when, datetime) else at(when))


def actions(effects: Effects) -> list[str]:
    return [t.action for t in effects.transitions]


def notice_kinds(effects: Effects) -> list[str]:
    return [n.kind for n in effects.notices]


def acknowledged_fire_hazard(r: Rules, detected_at: str = "2025-03-03T08:00:00") -> Hazard:
    """A general fire hazard in 府山街道, assigned to 越城区消防救援大队 and acknowledged an hour later."""
    h, _ = detect(r, detected_at)
    act(r, h, "hazard.acknowledged", detected_at[:11] + "09:00:00", FIRE_UNIT)
    return h
