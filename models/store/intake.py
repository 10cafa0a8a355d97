"""Applying events: the one code path behind ``apply``, ``import``, the intake and lifecycle flows and the
manual commands.

A file is worked through in chunks of a few thousand lines: parse every line with one ``TypeAdapter``, load
the chunk's hazards with one ``IN (...)`` query, apply the pure rules in memory, then write hazards,
transitions, events and notices with ``executemany``. All-or-nothing (the default) keeps every chunk in one
transaction and rolls it back if any line is bad, after checking the whole file so every bad line is named.
Partial mode commits chunk by chunk and lists the lines it rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from hazardloop.models.core.duplicates import same_event
from hazardloop.models.core.errors import ConflictError, HazardloopError, InvalidInput, Problem, Refused, Rejections
from hazardloop.models.core.event_json import duplicate_key, keys_given, lone_surrogate
from hazardloop.models.core.events import (
    EVENT_ADAPTER,
    Event,
    HazardDetected,
    HazardEvent,
    TownshipDelisted,
    TownshipListed,
)
from hazardloop.models.core.hazard import Hazard, hazard_id_for
from hazardloop.models.core.rules import Rules
from hazardloop.models.store import listing
from hazardloop.models.store.collector import collector_paused
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.effects import EffectWriter
from hazardloop.models.store.queries import ambiguous_reference
from hazardloop.models.store.repository import (
    NO_PRINCIPAL,
    known_events,
    load_hazards,
    stored_events,
)

CHUNK_LINES = 5000
_RETRIES = 5


@dataclass
class ApplyReport:
    lines: int = 0
    applied: int = 0
    duplicates: int = 0
    created: list[str] = field(default_factory=list)
    notices: int = 0
    rejected: list[Problem] = field(default_factory=list)
    duplicate_notes: list[str] = field(default_factory=list)
    last_hazard: str | None = None


@dataclass(slots=True)
class _Parsed:
    line: int
    event: Event
    digest: str
    payload: str


def prefer_indexes(conn: Connection) -> None:
    """Every look-up of a batch goes by key (ids, references, event ids). Inside one long all-or-nothing
    transaction PostgreSQL's statistics still describe the tables as they were before it began — empty, on a
    new database — and it would scan the whole table for each chunk, which grows quadratically. Tell it to
    use the indexes for this transaction only."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")


def parse_lines(
    lines: Iterable[tuple[int, str]],
    source: str,
    now: datetime,
    problems: list[Problem],
    acting: str | None = None,
) -> list[_Parsed]:
    """``acting``: the proven actor of every event (the HTTP API's account). An event that names nobody acts as
    it; one that names someone else is refused (an actor in a request body is never believed)."""
    parsed: list[_Parsed] = []
    for lineno, raw in lines:
        if not raw.strip():
            continue
        original = raw  # as sent: a key given twice is told from this, before the account's actor is put in
        if acting is not None:
            raw = _as_actor(raw, acting, source, lineno, problems)
            if raw is None:
                continue
        try:
            event = _validate_json(raw)
        except ValidationError as exc:
            from hazardloop.models.core.validation import problems_from

            surrogate = lone_surrogate(raw) if exc.errors()[0]["type"] == "json_invalid" else None
            if surrogate:
                problems.append(Problem(surrogate[1], source=source, line=lineno, field=surrogate[0]))
            else:
                problems.extend(problems_from(exc, source=source, line=lineno))
            continue
        repeated = duplicate_key(original, keys_given(event) if original is raw else None)
        if repeated:
            problems.append(
                Problem(
                    f"the key '{repeated[1]}' is given twice in one object; give each field once, "
                    "so that it is clear which value is meant",
                    source=source,
                    line=lineno,
                    field=repeated[0],
                )
            )
            continue
        if event.at > now:
            problems.append(
                Problem(
                    f"the event is dated {event.at.isoformat()}, after the moment the command "
                    f"acts at ({now.isoformat()})",
                    source=source,
                    line=lineno,
                    field="at",
                )
            )
            continue
        canonical = _dump_json(event)  # the digest is of the canonical form, not of the line's spelling
        parsed.append(_Parsed(lineno, event, hashlib.sha1(canonical).hexdigest(), canonical.decode()))
    return parsed


# The adapter's own validator and serializer, called without the adapter's keyword defaults (which cost a
# microsecond or two per line to pass): the same calls with the same defaults.
_validate_json = EVENT_ADAPTER.validator.validate_json
_dump_json = EVENT_ADAPTER.serializer.to_json


def _as_actor(raw: str, acting: str, source: str, lineno: int, problems: list[Problem]) -> str | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw  # the parser names what is wrong with it, as for any line
    if not isinstance(data, dict):
        return raw
    named = data.get("actor")
    if named is not None and named != acting:
        problems.append(
            Problem(
                f"events sent with an account act as that account ({acting}); this one names another actor "
                f"({str(named)[:200]}). Leave 'actor' out",
                source=source,
                line=lineno,
                field="actor",
            )
        )
        return None
    data["actor"] = acting
    return orjson.dumps(data).decode()


# A check of each event against the hazard it names (None for detections and township events), run once the
# hazard is loaded and locked: the HTTP API's jurisdiction and role table. Raises ``InvalidInput`` (not found)
# or ``Refused`` (not allowed).
Guard = Callable[[Event, Hazard | None], None]


class _Batch:
    """Applies one chunk of parsed events on one connection."""

    def __init__(
        self,
        conn: Connection,
        rules: Rules,
        now: datetime,
        source: str,
        report: ApplyReport,
        principal: dict[str, Any] | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.conn, self.rules, self.now, self.source, self.report = conn, rules, now, source, report
        self.principal = principal or NO_PRINCIPAL
        self.guard = guard
        # event_id -> (digest, event, its hazard's id) for this chunk; events of earlier chunks are in the events
        # table by now (written in this transaction, or committed in partial mode), and the inbox read finds them:
        # nothing file-long is kept
        self.seen: dict[str, tuple[str, Event, str | None]] = {}
        self.writer = EffectWriter(conn, rules, now, principal)
        self.by_id: dict[str, Hazard] = {}
        # a detection repeats a hazard only if it repeats the reference within the same source
        self.by_source_ref: dict[tuple[str, str], Hazard] = {}
        # later events name a hazard by its id or by its bare reference, which several sources may share
        self.by_ref: dict[str, list[Hazard]] = {}
        self.respelt: dict[str, tuple[str, str | None]] = {}  # stored payloads of events whose digest differs

    def run(self, chunk: Sequence[_Parsed]) -> list[Problem]:
        problems: list[Problem] = []
        keys = {getattr(p.event, "hazard", None) for p in chunk if not isinstance(p.event, HazardDetected)}
        keys |= {p.event.hazard.ref for p in chunk if isinstance(p.event, HazardDetected)}
        keys.discard(None)
        for h in load_hazards(self.conn, keys, lock=True):  # type: ignore[arg-type]
            self._remember(h)
        # Read the inbox only once the hazards are locked: a writer we waited for has committed by now, so the
        # same event delivered twice at once is seen as a duplicate, not judged against the new state.
        stored = known_events(self.conn, [p.event.event_id for p in chunk])
        # events delivered again spelt differently are compared by meaning: their stored payloads in one read
        respelt = [
            p.event.event_id for p in chunk if p.event.event_id in stored and stored[p.event.event_id][0] != p.digest
        ]
        self.respelt = stored_events(self.conn, respelt) if respelt else {}
        for item in chunk:
            try:
                self._one(item, stored)
            except (InvalidInput, Refused) as exc:
                for p in _problems(exc):
                    problems.append(
                        Problem(
                            p.message,
                            source=self.source,
                            line=item.line,
                            field=p.field,
                            refused=isinstance(exc, Refused),
                        )
                    )
        self.report.notices += self.writer.flush()
        return problems

    def _remember(self, h: Hazard) -> None:
        self.by_id[h.id] = h
        self.by_source_ref[h.source or "", h.ref] = h
        self.by_ref.setdefault(h.ref, []).append(h)

    def _named(self, key: str) -> Hazard | None:
        """The hazard an event names by id or source reference; a reference several sources share names none of
        them, and the event is invalid (the operator can name the hazard by its id, which always works)."""
        h = self.by_id.get(key)
        if h is not None:
            return h
        found = self.by_ref.get(key, [])
        if len(found) > 1:
            raise InvalidInput([ambiguous_reference(key, found, self.rules, field="hazard")])
        return found[0] if found else None

    def _named_quietly(self, key: str) -> Hazard | None:
        try:
            return self._named(key)
        except InvalidInput:
            return None

    def _duplicate(self, item: _Parsed, stored: dict[str, tuple[str, str]]) -> bool:
        eid = item.event.event_id
        in_chunk = self.seen.get(eid)
        earlier = in_chunk[0] if in_chunk else (stored[eid][0] if eid in stored else None)
        if earlier is None:
            return False
        if earlier != item.digest and not self._same_meaning(item.event, in_chunk):
            raise InvalidInput(
                [
                    Problem(
                        f"event_id '{eid}' was already used for a different event; "
                        "an event_id may identify one event only",
                        field="event_id",
                    )
                ]
            )
        self.report.duplicates += 1
        return True

    def _same_meaning(self, again: Event, in_chunk: tuple[str, Event, str | None] | None) -> bool:
        """The digests differ: is it still the same event, spelt another way? (Rare: read what is needed now.)"""
        if in_chunk is not None:
            first, first_hazard = in_chunk[1], in_chunk[2]
        else:
            payload, first_hazard = self.respelt[again.event_id]
            first = EVENT_ADAPTER.validate_json(payload)
        named = getattr(again, "hazard", None)
        found = self._named_quietly(named) if isinstance(named, str) else None
        again_hazard = found.id if found is not None else None
        return same_event(self.rules.tree, first, first_hazard, again, again_hazard)

    def _one(self, item: _Parsed, stored: dict[str, tuple[str, str]]) -> None:
        event = item.event
        if self._duplicate(item, stored):
            return
        outcome, hazard_id, township = "applied", None, None
        if self.guard is not None and not isinstance(event, HazardEvent):
            self.guard(event, None)
        if isinstance(event, HazardDetected):
            existing = self.by_source_ref.get((event.hazard.source or "", event.hazard.ref))
            if existing is not None:
                outcome, hazard_id = f"duplicate of {existing.id} (same source and reference)", existing.id
                self.report.duplicates += 1
                self.report.duplicate_notes.append(
                    f"line {item.line}: {_source_ref(event.hazard.source, event.hazard.ref)} is already {existing.id}"
                )
            else:
                h = self._detect(event)
                hazard_id = h.id
        elif isinstance(event, TownshipListed | TownshipDelisted):
            township = listing.apply_event(self.conn, self.rules, event, self.now, self.writer)
        else:
            h = self._named(event.hazard)
            if h is None:
                raise InvalidInput(
                    [Problem(f"no hazard has the id or source reference '{event.hazard}'", field="hazard")]
                )
            if self.guard is not None:
                self.guard(event, h)
            effects = self.rules.apply(h, event)
            self.writer.touch(h)
            self.writer.record(effects, self.by_id)
            hazard_id = h.id
        self.seen[event.event_id] = (item.digest, event, hazard_id)
        self.writer.event_rows.append(
            {
                "event_id": event.event_id,
                "type": event.type,
                "at": event.at,
                "actor": event.actor,
                "hazard_id": hazard_id,
                "township_code": township,
                "digest": item.digest,
                "outcome": outcome,
                "applied_at": self.now,
                "payload": item.payload,
                **self.principal,
            }
        )
        self.report.applied += outcome == "applied"
        if hazard_id:
            self.report.last_hazard = hazard_id

    def _detect(self, event: HazardDetected) -> Hazard:
        year = self.rules.local_day(event.at).year
        provisional_id = hazard_id_for(year, self.writer.counters.peek("HZ", year))
        h, effects = self.rules.detect(event, provisional_id)
        self.writer.counters.next("HZ", year)  # consumed only once the detection is accepted
        self._remember(h)
        self.writer.new[h.id] = h
        self.writer.record(effects, self.by_id)
        self.report.created.append(h.id)
        return h


def _source_ref(source: str | None, ref: str) -> str:
    return f"{source}:{ref}" if source else ref


def _problems(exc: HazardloopError) -> list[Problem]:
    if isinstance(exc, InvalidInput):
        return exc.problems
    return [Problem(str(exc), field=exc.field if isinstance(exc, Refused) else None)]


def retryable(exc: Exception) -> bool:
    if isinstance(exc, ConflictError | IntegrityError):
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(getattr(exc.orig, "sqlstate", None), "__str__", lambda: "")()
        return code in ("40001", "40P01")  # serialization failure, deadlock
    return False


def apply_lines(
    engine: Engine,
    rules: Rules,
    lines: Sequence[tuple[int, str]],
    *,
    source: str,
    now: datetime,
    partial: bool = False,
    chunk_lines: int = CHUNK_LINES,
    progress: Callable[[int], None] | None = None,
    principal: dict[str, Any] | None = None,
    acting: str | None = None,
    guard: Guard | None = None,
) -> ApplyReport:
    """Apply event lines ``(line number, text)``. All-or-nothing raises ``Rejections`` naming every bad
    line and writes nothing; ``partial`` commits the good lines and returns the bad ones in the report.
    ``principal`` (the audit columns), ``acting`` and ``guard`` are the HTTP API's: see ``parse_lines``, ``Guard``."""
    who = _Who(principal, acting, guard)
    for attempt in range(_RETRIES):
        try:
            return _apply_once(engine, rules, lines, source, now, partial, chunk_lines, progress, who)
        except Exception as exc:
            if attempt + 1 < _RETRIES and retryable(exc):
                continue
            if isinstance(exc, IntegrityError | ConflictError):
                raise ConflictError(
                    "the database changed under this file while it was being applied "
                    f"({type(exc).__name__}); nothing was written — run the command again"
                ) from exc
            raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Who:
    principal: dict[str, Any] | None = None
    acting: str | None = None
    guard: Guard | None = None


def _apply_once(
    engine: Engine,
    rules: Rules,
    lines: Sequence[tuple[int, str]],
    source: str,
    now: datetime,
    partial: bool,
    chunk_lines: int,
    progress: Callable[[int], None] | None,
    who: _Who,
) -> ApplyReport:
    report = ApplyReport(lines=len(lines))
    problems: list[Problem] = []
    if partial:
        for start in range(0, len(lines), chunk_lines):
            part = lines[start : start + chunk_lines]
            with collector_paused():
                # parsed before the transaction: no lock held meanwhile
                parsed = parse_lines(part, source, now, problems, who.acting)
                with unit_of_work(engine) as conn:
                    prefer_indexes(conn)
                    problems.extend(_Batch(conn, rules, now, source, report, who.principal, who.guard).run(parsed))
            if progress:
                progress(len(part))
        report.rejected = sorted(problems, key=lambda p: p.line or 0)
        return report
    with unit_of_work(engine) as conn:
        prefer_indexes(conn)
        for start in range(0, len(lines), chunk_lines):
            part = lines[start : start + chunk_lines]
            with collector_paused():
                parsed = parse_lines(part, source, now, problems, who.acting)
                problems.extend(_Batch(conn, rules, now, source, report, who.principal, who.guard).run(parsed))
            if progress:
                progress(len(part))
        if problems:
            raise Rejections(sorted(problems, key=lambda p: p.line or 0))  # rolls the whole file back
    return report


def apply_event(
    engine: Engine,
    rules: Rules,
    event: Event,
    *,
    now: datetime,
    source: str = "command",
    principal: dict[str, Any] | None = None,
    guard: Guard | None = None,
) -> ApplyReport:
    """One event in its own transaction (the manual commands, the HTTP API's actions)."""
    payload = _dump_json(event).decode()
    return apply_lines(engine, rules, [(1, payload)], source=source, now=now, principal=principal, guard=guard)
