"""What a notice says, decided when it is issued: its document number, subject, recipients and a snapshot
of the particulars (so the document sent is the one decided, whatever happens to the hazard later)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from hazardloop.models.core.hazard import Hazard, NoticeIntent
from hazardloop.models.core.lifecycle import CLOCK_RUNNING
from hazardloop.models.core.notice_kinds import NOTICE_KINDS
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.policy import Unit
from hazardloop.models.core.rules import Rules

# the kinds' titles, read from their registry (the name kept for the modules that import it from here)
KIND_TITLES = NOTICE_KINDS.titles


def document_number(office_short: str, prefix: str, year: int, seq: int) -> str:
    return f"{office_short}平安{prefix}〔{year}〕{seq}号"


def number_scope(intent: NoticeIntent) -> str:
    """Documents are numbered per issuing office and year, across kinds."""
    return "DOC:" + intent.issuer_code


def hazard_particulars(rules: Rules, h: Hazard, at: datetime) -> dict[str, Any]:
    """The whole snapshot of a hazard a notice describes, as its document shows it at ``at``."""
    return complete_context({"hazard": hazard_facts(rules, h, at)}, fixed_particulars(h))["hazard"]


def fixed_particulars(h: Hazard) -> dict[str, Any]:
    """The particulars the hazard row itself keeps for good (``HAZARD_FIXED_PARTICULARS``)."""
    return {
        "id": h.id,
        "ref": h.ref,
        "title": h.title,
        "description": h.description,
        "field": h.field,
        "severity": h.severity,
        "village": h.village,
        "address": h.address,
    }


def hazard_facts(rules: Rules, h: Hazard, at: datetime) -> dict[str, Any]:
    """The snapshot as the outbox stores it: what may change after the notice is decided (state, deadlines,
    level, the names the organisation and the policy give). ``complete_context`` adds the fixed particulars."""
    tree = rules.tree
    unit = tree.units.get(h.unit_code) if h.unit_code else None
    county = tree.units.get(h.county_code) if h.county_code else None
    return {
        "field_name": rules.policy.fields.get(h.field, h.field),
        "county": county.name if county else "",
        "township": tree.units[h.township_code].name,
        "unit_name": unit.name if unit else "",
        "state": h.state,
        "detected_at": rules.local_iso(h.detected_at),
        "due_date": rules.local_day(h.due_at).isoformat() if h.due_at else None,
        "deadline_provisional": h.deadline_provisional,
        "level": h.level,
        "rework_count": h.rework_count,
        # the unit's lateness only while it owes the work: the clock stops while waiting for verification
        "overdue_days": rules.overdue_days(h, at) if h.state in CLOCK_RUNNING else 0,
        "verify_due_date": rules.local_day(h.verify_due_at).isoformat() if h.verify_due_at else None,
    }


# The particulars a notice's hazard snapshot shares with the hazard's own row: fixed at detection and never
# updated afterwards (the store's updates leave those columns alone). The outbox stores the snapshot without them
# (``compact_context``) and a notice read back gets them from its hazard's row (``complete_context``): about a
# third of a notice's bytes, and the longest texts (title, description). What can change — state, deadlines,
# level, the names the organisation and the policy give — stays in the snapshot, so the document sent is the one
# decided whatever happens later.
HAZARD_FIXED_PARTICULARS = ("id", "ref", "title", "description", "field", "severity", "village", "address")
_FIXED = frozenset(HAZARD_FIXED_PARTICULARS)
# ``hazard_particulars``' keys in order: a completed snapshot is the same dict, key for key and in order
_PARTICULARS_ORDER = (
    "id",
    "ref",
    "title",
    "description",
    "field",
    "field_name",
    "severity",
    "county",
    "township",
    "village",
    "address",
    "unit_name",
    "state",
    "detected_at",
    "due_date",
    "deadline_provisional",
    "level",
    "rework_count",
    "overdue_days",
    "verify_due_date",
)


def compact_context(context: dict[str, Any]) -> dict[str, Any]:
    """The context as the outbox stores it: the hazard snapshot without what its hazard row keeps for good."""
    hazard = context.get("hazard")
    if not isinstance(hazard, dict) or "id" not in hazard:
        return context
    return {**context, "hazard": {k: v for k, v in hazard.items() if k not in _FIXED}}


def is_compact(context: Any) -> bool:
    """A stored context whose hazard snapshot needs its hazard row's particulars (rows written before the
    outbox stored compact snapshots hold the whole snapshot, and are read as they are)."""
    return isinstance(context, dict) and isinstance(context.get("hazard"), dict) and "id" not in context["hazard"]


def complete_context(context: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """The stored compact ``context`` with its hazard's fixed particulars (``HAZARD_FIXED_PARTICULARS``, read
    from the hazard row) put back: the same dict ``draft_notice`` made."""
    merged = {**context["hazard"], **{k: fixed[k] for k in HAZARD_FIXED_PARTICULARS}}  # the row's values win
    ordered = {k: merged.pop(k) for k in _PARTICULARS_ORDER if k in merged}
    return {**context, "hazard": {**ordered, **merged}}


class Numbering(NamedTuple):
    """What a draft notice needs to take its document number: the office's sequence and the number's parts."""

    scope: str
    year: int
    office_short: str
    prefix: str
    title: str  # the subject after the number: the hazard, or the township


def notice_row(
    rules: Rules,
    intent: NoticeIntent,
    h: Hazard | None,
    seq: int,
    now: datetime,
    extra_context: dict[str, Any] | None = None,
    *,
    particulars: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The outbox row for ``intent``; ``seq`` is the office's next document number this year. ``particulars``:
    the hazard's snapshot (``hazard_particulars``) when the caller already made it for this instant."""
    row, numbering = draft_notice(rules, intent, h, now, extra_context, particulars=particulars)
    return number_notice(row, numbering, seq)


def draft_notice(
    rules: Rules,
    intent: NoticeIntent,
    h: Hazard | None,
    now: datetime,
    extra_context: dict[str, Any] | None = None,
    *,
    particulars: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Numbering]:
    """The outbox row for ``intent`` without its document number, decided while the hazard is as the step left
    it; ``number_notice`` numbers it when the batch is written (the office's sequence is locked only then)."""
    tree, policy = rules.tree, rules.policy
    issuer, recipient, cc_units, cc_codes, to_addrs, cc_addrs = _addressing(
        tree, intent.issuer_code, intent.recipient_code, intent.cc_codes
    )
    local_day = rules.local_day(intent.at)
    what = f"{h.id} {h.title}" if h else tree.get(intent.township_code or recipient.code).name
    numbering = Numbering(
        number_scope(intent), local_day.year, issuer.short_name, policy.notices.prefix(intent.kind), what
    )
    context: dict[str, Any] = {
        "kind": intent.kind,
        "number": None,
        "issuer": {"name": issuer.name, "code": issuer.code},
        "recipient": {"name": recipient.name, "code": recipient.code},
        "cc_units": [u.name for u in cc_units],
        "date": local_day.isoformat(),
        "feedback_days": policy.notices.feedback_days or None,
        "hazard": (particulars or hazard_particulars(rules, h, intent.at)) if h else None,
        **_json_safe(intent.extra),
        **_kind_context(rules, intent, h),
        **(extra_context or {}),
    }
    row = {
        "key": intent.key,
        "kind": intent.kind,
        "hazard_id": intent.hazard_id,
        "township_code": intent.township_code,
        "issuer_code": issuer.code,
        "recipient_code": recipient.code,
        # the memoised tuples themselves: written as JSON arrays, converted once per batch (``models.bulk``)
        "cc_codes": cc_codes,
        "to_addrs": to_addrs,
        "cc_addrs": cc_addrs,
        "number": None,
        "subject": None,
        "context": context,
        "status": "pending",
        "attempts": 0,
        "next_try_at": None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
        "claimed_by": None,
        "claimed_until": None,
        "sha256": None,
    }
    return row, numbering


def number_notice(row: dict[str, Any], numbering: Numbering, seq: int) -> dict[str, Any]:
    """Give a draft its document number (``seq``: the office's next number in the year) and the subject."""
    number = document_number(numbering.office_short, numbering.prefix, numbering.year, seq)
    row["number"] = row["context"]["number"] = number
    # titles are user input: no line breaks may reach a mail header
    row["subject"] = " ".join(f"【{NOTICE_KINDS[row['kind']].title}】{number} {numbering.title}".split())[:300]
    return row


@lru_cache(maxsize=4096)
def _addressing(
    tree: OrgTree, issuer_code: str, recipient_code: str, cc_codes: tuple[str, ...]
) -> tuple[Unit, Unit, tuple[Unit, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Issuer, recipient, copy-to units and their codes, the To and Cc addresses. A batch repeats a few hundred
    combinations; keyed by the tree object, so a reloaded organisation (a new tree) is looked up afresh."""
    issuer, recipient = tree.get(issuer_code), tree.get(recipient_code)
    # each unit once, and neither the recipient nor the issuing office itself ("抄送：越城区，越城区" read as a slip)
    wanted = dict.fromkeys(c for c in cc_codes if c in tree.units and c not in (recipient.code, issuer.code))
    cc_units = tuple(tree.get(c) for c in wanted)
    to_addrs = tuple(recipient.emails)
    cc_addrs = tuple(dict.fromkeys(a for u in cc_units for a in u.emails if a not in to_addrs))
    return issuer, recipient, cc_units, tuple(u.code for u in cc_units), to_addrs, cc_addrs


def _kind_context(rules: Rules, intent: NoticeIntent, h: Hazard | None) -> dict[str, Any]:
    """The kind-specific particulars the templates need beyond what the rule put in ``extra``."""
    if h is None:
        return {}
    if intent.kind == "extension_decision":
        return {"new_due_date": _due_date(rules, h) if intent.extra.get("approved") else None}
    if intent.kind == "return":
        return {"due_date": _due_date(rules, h)}
    if intent.kind == "clearance":
        verifier = rules.tree.units.get(str(intent.extra.get("verifier", "")))
        return {
            "cleared_at": rules.local_iso(h.cleared_at or intent.at),
            "verifier_name": verifier.name if verifier else "",
        }
    if intent.kind == "elevation":
        manual = bool(intent.extra.get("manual"))
        return {"actor_name": rules.tree.get(intent.issuer_code).name if manual else None}
    return {}


def _due_date(rules: Rules, h: Hazard) -> str | None:
    return rules.local_day(h.due_at).isoformat() if h.due_at else None


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        # the usual values (text, numbers, None) first: asking them for ``isoformat`` costs a failed look-up each
        out[key] = value if value.__class__ in _PLAIN else value.isoformat() if hasattr(value, "isoformat") else value
    return out


_PLAIN = frozenset({str, int, bool, float, type(None)})
