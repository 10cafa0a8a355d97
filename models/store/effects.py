"""The effect writer: what a batch of rule applications decided (new and changed hazards, transitions, event
rows, drafted notices), collected in memory and written in one go in the caller's transaction. Shared by the
intake (``models.store.intake``), the sweep (``models.store.sweep``) and the township listing
(``models.store.listing``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from hazardloop.models.core.hazard import Effects, Hazard, Transition
from hazardloop.models.core.notice_docs import Numbering, draft_notice, hazard_facts, number_notice
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.bulk import shared_conversions
from hazardloop.models.store.repository import (
    NO_PRINCIPAL,
    Counters,
    insert_events,
    insert_hazards,
    insert_notices,
    insert_transitions,
    update_hazards,
)


class EffectWriter:
    """Collects what a batch decided and writes it in one go; numbers notices as they are decided."""

    def __init__(self, conn: Connection, rules: Rules, now: datetime, principal: dict[str, Any] | None = None) -> None:
        self.conn, self.rules, self.now = conn, rules, now
        self.principal = principal or NO_PRINCIPAL  # the audit columns of whoever caused this batch
        self.counters = Counters(conn)
        self.new: dict[str, Hazard] = {}
        self.dirty: dict[str, Hazard] = {}
        self.transitions: list[Transition] = []
        self.notice_rows: list[dict[str, Any]] = []
        self.numbering: list[Numbering] = []
        self.event_rows: list[dict[str, Any]] = []

    def record(self, effects: Effects, hazards: dict[str, Hazard]) -> None:
        self.transitions.extend(effects.transitions)
        # The notices of one step describe the hazard as the step left it: one snapshot serves them all.
        snapshots: dict[tuple[str, datetime], dict[str, Any]] = {}
        for intent in effects.notices:
            h = hazards.get(intent.hazard_id) if intent.hazard_id else None
            particulars = None
            if h is not None:
                particulars = snapshots.get((h.id, intent.at))
                if particulars is None:
                    # as the outbox stores it: without what the hazard row keeps (``notice_docs.hazard_facts``)
                    particulars = snapshots[h.id, intent.at] = hazard_facts(self.rules, h, intent.at)
            row, numbering = draft_notice(self.rules, intent, h, self.now, particulars=particulars)
            self.notice_rows.append(row)
            self.numbering.append(numbering)

    def _number_notices(self) -> None:
        """Number the batch's notices in the order they were decided. The offices' sequences are taken (and on
        PostgreSQL locked) here, in one sorted order, so two writers never wait for each other crosswise and a
        batch decided without them (a sweep deciding its next batch while this one is written) holds no lock."""
        for scope, year in sorted({(n.scope, n.year) for n in self.numbering}):
            self.counters.peek(scope, year)
        for row, numbering in zip(self.notice_rows, self.numbering, strict=True):
            number_notice(row, numbering, self.counters.next(numbering.scope, numbering.year))

    def touch(self, h: Hazard) -> None:
        if h.id not in self.new:
            self.dirty[h.id] = h

    def flush(self) -> int:
        self._number_notices()
        # one event's instant recurs in its hazard, transition and event rows: convert it once for all tables
        shared = shared_conversions()
        insert_hazards(self.conn, list(self.new.values()), self.now, shared)
        update_hazards(self.conn, list(self.dirty.values()), self.now, shared)
        insert_transitions(self.conn, self.transitions, self.now, shared, self.principal)
        insert_events(self.conn, self.event_rows, shared)
        insert_notices(self.conn, self.notice_rows, shared)
        self.counters.flush()
        written = len(self.notice_rows)
        self.new, self.dirty = {}, {}
        self.transitions, self.notice_rows, self.numbering, self.event_rows = [], [], [], []
        return written
