"""The audit hash chain, pure: the canonical bytes of an audit row, how rows are linked, the day's root, and the
walk that names every row that no longer fits its chain. No I/O; the store reads and writes the columns.

Shape. Every row belongs to one chain: a hazard's transitions form the chain named by its id, a township's own
transitions (listing, delisting) the chain ``township:CODE``, the notices archived for one recipient unit the
chain ``notices:CODE``. A row carries its position in its chain (``chain_seq``, from 1) and
``row_hash = SHA-256(previous row's hash in hex ‖ "\\n" ‖ canonical bytes)``, the first row's previous hash being
64 zeros. A day's root is the SHA-256 of the sorted lines ``kind TAB chain TAB seq TAB row_hash LF`` of every row
recorded that day (in the policy's time zone): it commits to each of those rows and, through their hashes, to
everything before them in their chains.

Canonical bytes: the JSON array ``[kind, chain, seq, <the covered columns in the order of TRANSITION_FIELDS or
NOTICE_FIELDS>]``, no whitespace, UTF-8 with non-ASCII characters as themselves, objects (``details``) with sorted
keys — ``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` gives the same bytes —,
instants as UTC ISO 8601 text with microseconds (``2025-03-01T08:00:00.000000+00:00``), NULL as ``null``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson

GENESIS = "0" * 64
TRANSITION = "transition"
NOTICE = "notice"

# the audit row's columns its hash covers, besides its chain and position
TRANSITION_FIELDS = (
    "hazard_id",
    "township_code",
    "event_id",
    "action",
    "from_state",
    "to_state",
    "level",
    "actor",
    "principal_account",
    "principal_credential",
    "principal_via",
    "principal_client",
    "reason",
    "cause_key",
    "details",
    "at",
    "recorded_at",
)
NOTICE_FIELDS = ("notice_id", "message_id", "subject", "sha256", "message_sha256", "archived_at")
_INSTANTS = frozenset({"at", "recorded_at", "archived_at"})
_JSON = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS  # sorted keys inside ``details``
_SORTED = orjson.OPT_SORT_KEYS  # the same bytes when every key is a plain string (without the option, others raise)


def instant_text(value: datetime | None) -> str | None:
    """The one spelling of an instant in canonical bytes: UTC, microseconds, ``+00:00``."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("an audit instant must carry its offset")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def transition_chain(hazard_id: str | None, township_code: str | None) -> str:
    if hazard_id is not None:
        return hazard_id
    return f"township:{township_code}" if township_code is not None else "engine"


def notice_chain(recipient_code: str) -> str:
    return f"notices:{recipient_code}"


def canonical(kind: str, chain: str, seq: int, row: dict[str, Any], fields: Sequence[str]) -> bytes:
    """The bytes a row's hash covers (see the module's docstring)."""
    values = [instant_text(row.get(name)) if name in _INSTANTS else row.get(name) for name in fields]
    return orjson.dumps([kind, chain, seq, *values], option=_JSON)


def link(previous: str, content: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + b"\n" + content).hexdigest()


def stamp(
    kind: str,
    rows: Iterable[dict[str, Any]],
    chain_of: Any,
    heads: dict[str, tuple[int, str]],
    fields: Sequence[str],
    spell: Callable[[datetime | None], str | None] = instant_text,
) -> set[str]:
    """Give each row (in the order written) its place and hash in its chain, from ``heads`` (chain -> (last
    position, last hash), as stored), which it advances; returns the chains it advanced. The same bytes as
    ``canonical``, made faster: a batch shares its instants (``now``, an event's ``at``), spelt once per object.
    ``spell``: ``instant_text``, or a caller's equivalent that shares the work with its own conversions."""
    moved: set[str] = set()
    spelt: dict[int, str | None] = {}  # id(instant) -> its text; the rows keep the instants alive meanwhile
    positions = [i + 3 for i, name in enumerate(fields) if name in _INSTANTS]
    covered = itemgetter(*fields)
    dumps, sha256 = orjson.dumps, hashlib.sha256
    for row in rows:
        chain = chain_of(row)
        seq, previous = heads.get(chain, (0, GENESIS))
        seq += 1
        try:
            values: list[Any] = [kind, chain, seq, *covered(row)]
        except KeyError:  # a row without some optional column: null, as ``canonical`` reads it
            values = [kind, chain, seq, *(row.get(name) for name in fields)]
        for i in positions:
            instant = values[i]
            text = spelt.get(id(instant))
            if text is None:
                text = spelt[id(instant)] = spell(instant)
            values[i] = text
        try:
            # plain string keys (nearly always) take orjson's faster path; any other key the slower one, same bytes
            content = dumps(values, option=_SORTED)
        except TypeError:
            content = dumps(values, option=_JSON)
        row_hash = sha256(previous.encode() + b"\n" + content).hexdigest()
        row["chain_seq"] = seq
        row["row_hash"] = row_hash
        heads[chain] = (seq, row_hash)
        moved.add(chain)
    return moved


def day_root(entries: Iterable[tuple[str, str, int, str]]) -> str:
    """The root over (kind, chain, seq, row_hash) of every row recorded on one day, in any order."""
    lines = sorted(f"{kind}\t{chain}\t{seq}\t{row_hash}\n" for kind, chain, seq, row_hash in entries)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


# --- verification ------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)  # not frozen: a year's records are made at once, and frozen fields cost per set
class AuditRecord:
    """One stored row as read back: what the walk needs, nothing else."""

    kind: str
    row_id: int
    chain: str
    seq: int | None
    row_hash: str | None
    values: tuple[Any, ...]  # the covered columns as stored, in canonical form (instants as their text)
    recorded: str | None = None  # when it was recorded (canonical UTC text): its day
    checks: dict[str, bool] = field(default_factory=dict)  # an archived notice's bodies against their digests


@dataclass(frozen=True)
class Finding:
    """One thing wrong, in words: which chain, which row, what."""

    what: str  # changed | removed | inserted | reordered | root
    chain: str
    row_id: int | None
    seq: int | None
    detail: str

    def sentence(self) -> str:
        return self.detail

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "chain": self.chain, "row": self.row_id, "position": self.seq, "detail": self.detail}


def _label(kind: str, chain: str) -> str:
    if kind == NOTICE:
        return f"the notice archive of {chain.removeprefix('notices:')}"
    if chain.startswith("township:"):
        return f"township {chain.removeprefix('township:')}"
    return f"hazard {chain}"


def _row(kind: str, row_id: int | None) -> str:
    return f"archived notice {row_id}" if kind == NOTICE else f"audit row {row_id}"


def record_hash(record: AuditRecord, previous: str, seq: int | None = None) -> str:
    at = record.seq if seq is None else seq
    content = orjson.dumps([record.kind, record.chain, at or 0, *record.values], option=_JSON)
    return hashlib.sha256(previous.encode() + b"\n" + content).hexdigest()


def canonical_values(row: dict[str, Any], fields: Sequence[str]) -> tuple[Any, ...]:
    """A row's covered values in canonical form (what ``AuditRecord.values`` holds)."""
    return tuple(instant_text(row.get(name)) if name in _INSTANTS else row.get(name) for name in fields)


def _intact(kind: str, records: list[AuditRecord], head: tuple[int, str] | None, partial: bool) -> bool:
    """The common case, checked in one pass: positions 1..n (or consecutive from the first, ``partial``), each row
    linked to the one before, ids rising with positions (audit rows), the last one the recorded head."""
    if not records or (head is None and not partial):
        return False
    ordered = sorted(records, key=lambda r: r.seq or 0)
    previous = None if partial else GENESIS
    expected = (ordered[0].seq or 0) if partial else 1
    last_id = -1
    dumps, sha256, options = orjson.dumps, hashlib.sha256, _JSON
    for r in ordered:
        if r.seq != expected or r.row_hash is None:
            return False
        if kind == TRANSITION:
            if r.row_id < last_id:
                return False
            last_id = r.row_id
        if previous is not None:
            content = dumps([r.kind, r.chain, r.seq, *r.values], option=options)
            if sha256(previous.encode() + b"\n" + content).hexdigest() != r.row_hash:
                return False
        previous, expected = r.row_hash, expected + 1
    if head is None:
        return True
    return head == (ordered[-1].seq, ordered[-1].row_hash) or (partial and head[0] > (ordered[-1].seq or 0))


def walk_chain(
    kind: str, chain: str, records: list[AuditRecord], head: tuple[int, str] | None, *, partial: bool = False
) -> list[Finding]:
    """Every row of one chain that does not fit it. ``records``: the chain's rows, any order. ``head``: the
    chain's last position and hash as recorded by the writers (None when no head is stored). ``partial``: the
    rows are only those from some position on (``--since``): the first one's predecessor is taken as read."""
    if _intact(kind, records, head, partial):
        return []
    label = _label(kind, chain)
    findings: list[Finding] = []
    unplaced = [r for r in records if r.seq is None or r.row_hash is None]
    for r in unplaced:
        findings.append(
            Finding(
                "inserted",
                chain,
                r.row_id,
                None,
                f"{label}: {_row(kind, r.row_id)} carries no chain hash: it was added outside the engine",
            )
        )
    placed = sorted(
        (r for r in records if r.seq is not None and r.row_hash is not None), key=lambda r: (r.seq, r.row_id)
    )
    previous: str | None = None if partial else GENESIS
    expected = placed[0].seq if partial and placed else 1
    last: AuditRecord | None = None
    index = 0
    while index < len(placed):
        seq = placed[index].seq
        assert seq is not None
        end = index
        while end < len(placed) and placed[end].seq == seq:
            end += 1
        same, index = placed[index:end], end
        if seq > expected:
            between = f"after {_row(kind, last.row_id)}" if last else "at the start of the chain"
            gone = f"position {expected} is" if seq == expected + 1 else f"positions {expected} to {seq - 1} are"
            findings.append(Finding("removed", chain, None, expected, f"{label}: {gone} missing {between}: removed"))
            previous = None  # the removed row's hash is gone with it: the next row's link cannot be checked
        genuine = [r for r in same if previous is None or record_hash(r, previous) == r.row_hash]
        if previous is None and len(genuine) > 1:
            genuine = genuine[:1]
        for r in same:
            if r in genuine:
                continue
            findings.append(_misfit(kind, chain, label, r, placed, duplicate=bool(genuine)))
        kept = genuine[0] if genuine else same[0]
        previous, last, expected = kept.row_hash, kept, seq + 1
    if kind == TRANSITION:
        findings += _out_of_table_order(chain, label, placed, findings)
    if head is not None:
        head_seq, head_hash = head
        if last is None or (last.seq or 0) < head_seq:
            start = (last.seq or 0) + 1 if last else 1
            gone = f"position {head_seq} is" if start == head_seq else f"positions {start} to {head_seq} are"
            findings.append(
                Finding("removed", chain, None, start, f"{label}: the chain's last {gone} missing: removed")
            )
        elif last.seq == head_seq and last.row_hash != head_hash:
            findings.append(
                Finding(
                    "changed",
                    chain,
                    last.row_id,
                    last.seq,
                    f"{label}: {_row(kind, last.row_id)} (position {last.seq}) is not the row the chain ended with",
                )
            )
        elif (last.seq or 0) > head_seq:
            extra = [r for r in placed if (r.seq or 0) > head_seq]
            for r in extra:
                findings.append(
                    Finding(
                        "inserted",
                        chain,
                        r.row_id,
                        r.seq,
                        f"{label}: {_row(kind, r.row_id)} (position {r.seq}) lies beyond the chain's recorded end "
                        f"(position {head_seq}): inserted afterwards",
                    )
                )
    elif placed and not partial:
        findings.append(
            Finding("inserted", chain, placed[0].row_id, placed[0].seq, f"{label}: the chain has no recorded end")
        )
    return findings


def _misfit(
    kind: str,
    chain: str,
    label: str,
    r: AuditRecord,
    placed: list[AuditRecord],
    *,
    duplicate: bool,
) -> Finding:
    """Why ``r`` does not follow its predecessor: it belongs elsewhere in the chain (reordered), it duplicates a
    position taken by a genuine row (inserted), or its content is not what was recorded (changed)."""
    where = f"{_row(kind, r.row_id)} (position {r.seq})"
    belongs = _true_position(r, placed)
    if belongs is not None:
        return Finding(
            "reordered", chain, r.row_id, r.seq, f"{label}: {where} belongs at position {belongs}: reordered"
        )
    if duplicate:
        return Finding(
            "inserted", chain, r.row_id, r.seq, f"{label}: {where} claims a position another row holds: inserted"
        )
    changed = _changed_fields(r)  # what can be told without the original: an archived body against its digest
    detail = f" ({changed})" if changed else ""
    return Finding(
        "changed", chain, r.row_id, r.seq, f"{label}: {where} no longer matches what was recorded{detail}: changed"
    )


def _out_of_table_order(chain: str, label: str, placed: list[AuditRecord], found: list[Finding]) -> list[Finding]:
    """Audit rows of one chain are inserted one after the other (a writer holds the chain's head while it
    inserts), so their ids rise with their positions; a row whose id does not was moved in the table."""
    named = {f.row_id for f in found}
    out = []
    for before, after in itertools.pairwise(placed):
        if before.row_id in named or after.row_id in named:
            continue  # a row found out of place already: its neighbours' order says nothing more
        if before.row_id > after.row_id and after.seq != before.seq:
            for r, other in ((before, after), (after, before)):
                if r.row_id in named:
                    continue
                named.add(r.row_id)
                out.append(
                    Finding(
                        "reordered",
                        chain,
                        r.row_id,
                        r.seq,
                        f"{label}: audit row {r.row_id} (position {r.seq}) and audit row {other.row_id} "
                        f"(position {other.seq}) stand in the table in the opposite order: reordered",
                    )
                )
    return out


_NEAR = 3  # how far from its place a moved row is looked for (chains of notices run to thousands of rows)


def _true_position(r: AuditRecord, placed: list[AuditRecord]) -> int | None:
    """The position ``r`` was recorded at, when it is another one than it claims now: its hash links it to a
    nearby row of the chain (or to the chain's start) at that position."""
    index = next((i for i, p in enumerate(placed) if p is r), 0)
    near = placed[max(0, index - _NEAR) : index + _NEAR + 1]
    seqs = {s for p in near for s in ((p.seq or 0) + 1, p.seq or 0)} | {1}
    for before in [None, *near]:
        if before is r:
            continue
        previous = GENESIS if before is None else before.row_hash or ""
        for at in sorted(seqs):
            if at != r.seq and record_hash(r, previous, at) == r.row_hash:
                return at
    return None


def _changed_fields(r: AuditRecord) -> str:
    """What can be told without the original: an archived notice whose text or message no longer hash to the
    digests it carries."""
    checks = r.checks
    wrong = [name for name, ok in checks.items() if not ok]
    return ", ".join(f"{name} differs from its recorded digest" for name in wrong)


def content_check(record: AuditRecord) -> Finding | None:
    """An archived notice whose stored text or message bytes no longer hash to the digests its chain covers."""
    checks = record.checks
    wrong = [name for name, ok in checks.items() if not ok]
    if not wrong:
        return None
    return Finding(
        "changed",
        record.chain,
        record.row_id,
        record.seq,
        f"{_label(record.kind, record.chain)}: {_row(record.kind, record.row_id)} (position {record.seq}): "
        + ", ".join(f"its {name} no longer matches the digest recorded with it" for name in wrong)
        + ": changed",
    )
