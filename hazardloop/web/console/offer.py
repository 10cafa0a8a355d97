"""Which actions a hazard page offers to this account: the ones the role table allows (``models.authz.decide``),
that the lifecycle allows in the hazard's state (``models.lifecycle``), and that the unit rules would accept from
this account's unit (the responsible unit acknowledges and submits, never verifies its own work; the township's
chain verifies and supervises). The server judges every action again when it is posted; this only keeps buttons
that would be refused off the page."""

from __future__ import annotations

from typing import Any

from hazardloop.models.core.authz import Action, Decision, HazardTarget, Principal, decide
from hazardloop.models.core.lifecycle import State, allowed_events
from hazardloop.models.core.policy import LEVEL_RANK
from hazardloop.models.core.rules import Rules
from hazardloop.models.core.vocabulary import SUPERVISION_LEVELS

# The page's actions in the order a person does them, with the event each one records.
ORDER: tuple[tuple[Action, str], ...] = (
    (Action.ACKNOWLEDGE, "hazard.acknowledged"),
    (Action.SUBMIT, "rectification.submitted"),
    (Action.PASS, "verification.passed"),
    (Action.FAIL, "verification.failed"),
    (Action.REQUEST_EXTENSION, "extension.requested"),
    (Action.DECIDE_EXTENSION, "extension.decided"),
    (Action.REASSIGN, "hazard.reassigned"),
    (Action.ESCALATE, "hazard.escalated"),
    (Action.INVALIDATE, "hazard.invalidated"),
)


def target_of(h: dict[str, Any]) -> HazardTarget:
    return HazardTarget(h["township_code"], h.get("unit"), h["field"], h.get("reporter"), h.get("village"))


def escalation_levels(principal: Principal, rules: Rules, h: dict[str, Any]) -> list[str]:
    unit = rules.tree.units.get(principal.unit_code)
    if unit is None:
        return []
    return [
        level
        for level in SUPERVISION_LEVELS
        if rules.tree.may_escalate(unit, h["township_code"], h["level"], level) is None
    ]


def offered(principal: Principal, rules: Rules, h: dict[str, Any]) -> list[str]:
    """The action names (``acknowledge``, ``submit``, …) to show on this hazard's page."""
    tree, target = rules.tree, target_of(h)
    state = State(h["state"])
    events = set(allowed_events(state))
    unit = principal.unit_code
    responsible = h.get("unit")
    in_chain = {u.code for u in tree.supervisors(h["township_code"])}
    verifiers = {u.code for u in tree.verifiers(h["township_code"], responsible or "")}
    pending = h.get("pending_extension_days") is not None
    ext = rules.policy.extensions
    unit_ok = {
        Action.ACKNOWLEDGE: unit == responsible,
        Action.SUBMIT: unit == responsible,
        Action.REQUEST_EXTENSION: unit == responsible and not pending and h["extension_count"] < ext.max_requests,
        Action.PASS: unit in verifiers and unit != responsible,
        Action.FAIL: unit in verifiers and unit != responsible,
        Action.DECIDE_EXTENSION: pending and unit in verifiers,
        Action.REASSIGN: unit in in_chain,
        Action.INVALIDATE: unit in in_chain,
        Action.ESCALATE: LEVEL_RANK.get(h["level"], 0) < 3 and bool(escalation_levels(principal, rules, h)),
    }
    return [
        str(action)
        for action, event in ORDER
        if event in events and unit_ok[action] and decide(principal, action, target) is Decision.ALLOWED
    ]


def reassign_units(rules: Rules, h: dict[str, Any]) -> list[tuple[str, str]]:
    """Units that could answer for the hazard instead: the township's chain and their departments."""
    tree = rules.tree
    chain = tree.supervisors(h["township_code"])
    codes = {u.code for u in chain}
    found = [u for u in chain]
    for parent in chain:
        found += [c for c in tree.children(parent.code) if c.level == "department" and c.code not in codes]
    return [(u.code, u.name) for u in found if u.code != h.get("unit") and u.level != "village"]


EVENT_OF: dict[str, str] = {str(action): event for action, event in ORDER}
