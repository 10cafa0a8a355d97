"""What an audit row says was done (the transitions table's ``action``): the contract's event types, the engine's
own steps (routing, reminders, supervision, elevation) and the monitoring points' notes. A ``StrEnum``: each member
is its stored string, so rows, JSON and comparisons with plain strings stay as they were.

Not to be confused with ``models.core.authz.Action``, what a principal asks to do (a permission verb)."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    # the contract's events, as people and other systems send them
    DETECTED = "hazard.detected"
    ASSIGNED = "hazard.assigned"
    ACKNOWLEDGED = "hazard.acknowledged"
    REASSIGNED = "hazard.reassigned"
    EXTENSION_REQUESTED = "extension.requested"
    EXTENSION_DECIDED = "extension.decided"
    RECTIFICATION_SUBMITTED = "rectification.submitted"
    VERIFICATION_PASSED = "verification.passed"
    VERIFICATION_FAILED = "verification.failed"
    INVALIDATED = "hazard.invalidated"
    ESCALATED = "hazard.escalated"  # by hand, by a supervisor
    TOWNSHIP_LISTED = "township.listed"
    TOWNSHIP_DELISTED = "township.delisted"
    # the engine's own steps
    ROUTED = "routed"  # a fresh detection assigned by the routing rules
    REMINDED = "reminded"  # 催办
    SUPERVISED = "supervised"  # 督办
    ELEVATED = "elevated"  # 提级 by the sweep
    # a monitoring point's readings on the hazard they raised
    READING_BREACH = "reading.breach"
    READING_RECOVERED = "reading.recovered"
    # the lifecycle table's entry under which the sweep acts (its reminders, supervision and elevation keep the
    # state); no audit row carries it
    SWEPT = "swept"
