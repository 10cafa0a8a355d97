"""Delivering the outbox: claim pending notices in batches, render them, send them, mark them.

A notice is claimed with a lease (``claimed_until``) in its own short transaction — on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` — so several dispatchers never take the same row, and a dispatcher that dies
mid-batch only delays its rows until the lease runs out. Leases run on the real clock, not on the ``now``
the rules act as of: they are about live processes, and a dispatcher acting as of another instant (``--now``,
a catch-up run) must not see a live claim as expired. Each dispatcher has its own id (host, process, random
part). Sending happens outside any transaction; the outcome is written afterwards, for the rows still
claimed by this dispatcher only. Notices go out one by one over one connection; while the server digests one,
the next is rendered (see ``_deliver_each``).

Retries live in the outbox itself, not in Prefect: the attempt count and next-try instant survive restarts
and work the same from the command line and the scheduler. Transient failures (4xx, dropped connections,
timeouts) are retried with growing delays; after ``MAX_ATTEMPTS`` the notice is ``dead``. Permanent failures
(5xx, refused or malformed addresses, a unit without an address, a template that cannot be rendered) mark it
``failed`` with the reason at once. A retried send carries the same Message-ID, so receivers can drop a
copy; the file backend overwrites the same ``.eml`` file.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, and_, bindparam, or_, select, true, update

from models.bulk import bulk_insert
from models.db import unit_of_work
from models.rules import Rules
from models.store import NoticeArchiveRow, NoticeRow
from notifications.mail_errors import MailError, PermanentMailError
from notifications.mailers import MailBackend
from notifications.messages import build_message, message_id_for
from notifications.rendering import NoticeRenderer, RenderedNotice

log = logging.getLogger("hazardloop.dispatch")
_N = NoticeRow.__table__
_A = NoticeArchiveRow.__table__
_ARCHIVE_COLUMNS = [c.name for c in _A.columns]
MAX_ATTEMPTS = 6
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4))
LEASE = timedelta(minutes=10)
_DATE_KEYS = (
    "date",
    "deadline",
    "listed_on",
    "due_date",
    "new_due_date",
    "period_start",
    "period_end",
    "verify_by",
    "decide_by",
    "duty_due_date",
    "verify_due_date",
)
_DATETIME_KEYS = ("cleared_at", "detected_at")
_DEADLINE_LABELS = {"rectification": "整改期限", "verification": "核查期限", "extension": "审批期限"}


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def document_context(context: dict[str, Any], rules: Rules) -> dict[str, Any]:
    """The stored JSON snapshot → what the templates expect (dates as dates, instants in local time)."""
    tz = rules.policy.tz

    def convert(values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for key in _DATE_KEYS:
            if isinstance(out.get(key), str):
                out[key] = date.fromisoformat(out[key])
        for key in _DATETIME_KEYS:
            if isinstance(out.get(key), str):
                out[key] = datetime.fromisoformat(out[key]).astimezone(tz)
        return out

    result = convert(context)
    if isinstance(result.get("hazard"), dict):
        result["hazard"] = convert(result["hazard"])
    return result


def _wall_now() -> datetime:
    # Leases are about real processes being alive, so they use the real clock; no rule reads this.
    return datetime.now(UTC)


def _claim(engine: Engine, now: datetime, worker: str, batch_size: int, keys: Sequence[str] | None) -> list[Any]:
    wall = _wall_now()
    due = and_(
        _N.c.status == "pending",
        or_(_N.c.next_try_at.is_(None), _N.c.next_try_at <= now),
        or_(_N.c.claimed_until.is_(None), _N.c.claimed_until < wall),
        _N.c.key.in_(keys) if keys is not None else true(),
    )
    with unit_of_work(engine) as conn:
        stmt = select(_N.c.id).where(due).order_by(_N.c.id).limit(batch_size)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = [r[0] for r in conn.execute(stmt)]
        if not ids:
            return []
        conn.execute(update(_N).where(_N.c.id.in_(ids)).values(claimed_by=worker, claimed_until=wall + LEASE))
        return list(conn.execute(select(_N).where(_N.c.id.in_(ids)).order_by(_N.c.id)))


_MARK = (
    update(_N)
    .where(and_(_N.c.id == bindparam("b_id"), _N.c.claimed_by == bindparam("b_worker")))
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        next_try_at=bindparam("next_try_at"),
        last_error=bindparam("last_error"),
        sent_at=bindparam("sent_at"),
        subject=bindparam("subject"),
        claimed_by=None,
        claimed_until=None,
    )
)


def dispatch(
    engine: Engine,
    rules: Rules,
    backend: MailBackend,
    renderer: NoticeRenderer,
    now: datetime,
    *,
    worker: str | None = None,
    batch_size: int = 200,
    limit: int | None = None,
    progress: Any = None,
    keys: Sequence[str] | None = None,
) -> DispatchReport:
    """Send what is pending as of ``now`` (only the notices with these idempotency ``keys``, when given: a
    command that queued them and mails them at once); returns what happened."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    report = DispatchReport()
    sender = rules.policy.notices.sender
    opened = False
    try:
        while limit is None or report.claimed < limit:
            size = batch_size if limit is None else min(batch_size, limit - report.claimed)
            rows = _claim(engine, now, worker, size, keys)
            if not rows:
                break
            if not opened:
                backend.open()
                opened = True
            report.claimed += len(rows)
            attachments = _report_attachments(engine, rules, rows, now)
            groups, singles = digest_groups(rows, rules)
            outcomes = _deliver_each(singles, rules, backend, renderer, sender, now, report, attachments)
            for group in groups:
                outcomes += _deliver_digest(group, rules, backend, renderer, sender, now, report)
            with unit_of_work(engine) as conn:
                outcomes = _still_ours(conn, worker, outcomes, report)
                archive = [o.pop("archive") for o in outcomes if o.get("archive")]
                if outcomes:
                    conn.execute(_MARK, [{**o, "b_worker": worker} for o in outcomes])
                bulk_insert(conn, _A, archive, _ARCHIVE_COLUMNS)
            _alert_operator(rules, backend, sender, [o for o in outcomes if o["status"] == "dead"], rows)
            if progress:
                progress(len(rows))
    finally:
        if opened:
            backend.close()
    return report


# which DispatchReport counter each recorded status was counted in
_COUNTED_AS = {"sent": "sent", "pending": "retrying", "failed": "failed", "dead": "dead"}


def _still_ours(conn: Any, worker: str, outcomes: list[dict[str, Any]], report: DispatchReport) -> list[dict[str, Any]]:
    """The outcomes of the rows this dispatcher still holds. A claim is lost only when a batch outlives its lease
    and another dispatcher takes the rows over; that one records them, so nothing is recorded twice."""
    if not outcomes:
        return outcomes
    held = select(_N.c.id).where(_N.c.id.in_([o["b_id"] for o in outcomes]), _N.c.claimed_by == worker)
    if conn.dialect.name == "postgresql":
        held = held.with_for_update()
    ours = {row[0] for row in conn.execute(held)}
    if len(ours) < len(outcomes):
        lost = len(outcomes) - len(ours)
        for outcome in outcomes:  # the dispatcher that took them over counts and records them, not this one
            if outcome["b_id"] not in ours:
                counter = _COUNTED_AS.get(outcome["status"])
                if counter:
                    setattr(report, counter, getattr(report, counter) - 1)
        message = (
            f"{lost} notice(s) were still being sent when this dispatcher's {LEASE.total_seconds() / 60:g}-minute "
            "hold on them ran out; another dispatcher has taken them over and records what happens to them. "
            "Their recipients may receive them twice, with the same Message-ID."
        )
        log.warning(message)
        report.errors.append(message)
    return [o for o in outcomes if o["b_id"] in ours]


_DIGEST_KINDS = ("reminder", "supervision")


def digest_groups(rows: list[Any], rules: Rules) -> tuple[list[list[Any]], list[Any]]:
    """With ``notices.digest`` on, a unit's reminders and supervisions of one day (at least ``digest_min`` in
    this batch, same addresses) go out as one mail; everything else individually."""
    policy = rules.policy.notices
    if not policy.digest:
        return [], rows
    buckets: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        if row.kind in _DIGEST_KINDS and row.to_addrs:
            day = row.created_at.astimezone(rules.policy.tz).date()
            key = (row.recipient_code, tuple(row.to_addrs), tuple(row.cc_addrs or ()), day)
            buckets.setdefault(key, []).append(row)
    groups = [g for g in buckets.values() if len(g) >= policy.digest_min]
    grouped = {r.id for g in groups for r in g}
    return groups, [r for r in rows if r.id not in grouped]


def _deliver_digest(
    group: list[Any],
    rules: Rules,
    backend: MailBackend,
    renderer: NoticeRenderer,
    sender: str,
    now: datetime,
    report: DispatchReport,
) -> list[dict[str, Any]]:
    """One mail for the group; each notice in it is marked by the outcome of that one send."""
    from models.notice_docs import KIND_TITLES

    first = group[0]
    items = []
    for row in group:
        stored = row.context or {}
        hazard = stored.get("hazard") or {}
        duty = stored.get("duty") or "rectification"  # a verifier's or deciding unit's own deadline, or the unit's
        due = stored.get("duty_due_date") if duty != "rectification" else hazard.get("due_date")
        items.append(
            {
                "kind_title": KIND_TITLES[row.kind],
                "number": row.number,
                "hazard_id": row.hazard_id,
                "title": hazard.get("title", ""),
                "deadline_label": _DEADLINE_LABELS.get(duty, "整改期限"),
                "due_date": date.fromisoformat(due) if isinstance(due, str) else None,
                "overdue_days": stored.get("duty_overdue_days", 0)
                if duty != "rectification"
                else hazard.get("overdue_days", 0),
                "issuer": stored.get("issuer", {}).get("name", ""),
            }
        )
    unit = rules.tree.units.get(first.recipient_code)
    context = {
        "recipient": {"name": unit.name if unit else first.recipient_code, "code": first.recipient_code},
        "date": first.created_at.astimezone(rules.policy.tz).date(),
        "items": items,
        # the 落款: the office(s) whose notices the digest gathers
        "issuers": list(dict.fromkeys(item["issuer"] for item in items if item["issuer"])),
    }
    outcomes: list[dict[str, Any]] = []
    base = [
        {
            "sha256": None,
            "b_id": r.id,
            "attempts": r.attempts + 1,
            "next_try_at": None,
            "last_error": None,
            "sent_at": None,
            "subject": r.subject,
        }
        for r in group
    ]
    try:
        rendered = renderer.render("digest", context)
        key = f"digest-{first.recipient_code}-{context['date']}-{first.id}"
        message = build_message(
            rendered,
            sender=sender,
            to=first.to_addrs,
            cc=first.cc_addrs or [],
            message_id=key,
            date=first.created_at,
        )
        backend.send(message)
    except MailError as exc:
        # every notice in the mail shares its fate, and is counted as each single notice would be
        return [_unsent(outcome, report, row, exc, now) for outcome, row in zip(base, group, strict=True)]
    digest = fingerprint(rendered)
    for outcome, row in zip(base, group, strict=True):
        report.sent += 1
        outcomes.append(
            {
                **outcome,
                "status": "sent",
                "sent_at": now,
                "sha256": digest,
                "archive": {
                    "notice_id": row.id,
                    "sha256": digest,
                    "message_id": message_id_for(key),
                    "subject": rendered.subject[:300],
                    "text": rendered.text,
                    "html": rendered.html,
                    "archived_at": now,
                },
            }
        )
    return outcomes


def _report_attachments(engine: Engine, rules: Rules, rows: list[Any], now: datetime) -> dict[int, Any]:
    """The monthly report carries its scope's ledger (台账) as an Excel attachment, made at sending time."""
    monthly = [r for r in rows if r.kind == "report" and (r.context or {}).get("period_kind") == "monthly"]
    if not monthly:
        return {}
    from notifications.ledger import report_attachment

    with unit_of_work(engine, write=False) as conn:
        return {r.id: report_attachment(conn, rules, r.context, now) for r in monthly}


@dataclass
class _Prepared:
    """A notice made ready to send: its message, or the reason it cannot be sent; and its outcome so far."""

    row: Any
    outcome: dict[str, Any]
    message: EmailMessage | None = None
    rendered: RenderedNotice | None = None
    refusal: str = ""


def _deliver_each(
    rows: list[Any],
    rules: Rules,
    backend: MailBackend,
    renderer: NoticeRenderer,
    sender: str,
    now: datetime,
    report: DispatchReport,
    attachments: dict[int, Any],
) -> list[dict[str, Any]]:
    """Send each notice on its own, in order. Where the backend can run work while the server digests a message
    (`SMTPBackend.run_while_waiting`), the next notice is rendered and built in that time instead of after it:
    the two sides work at once instead of taking turns. Each send still stands alone: its outcome is its own
    server reply, and the report lists what happened in the order of the rows."""
    # an optional capability of a backend that waits on a server; files and memory have nothing to wait for
    run_while_waiting = getattr(backend, "run_while_waiting", None)
    prepared: list[_Prepared] = []

    def prepare(index: int) -> None:
        if len(prepared) == index:  # once, whether during the previous send or here
            row = rows[index]
            prepared.append(_prepare(row, rules, renderer, sender, attachments.get(row.id)))

    outcomes = []
    for index in range(len(rows)):
        prepare(index)
        current = prepared[index]
        if run_while_waiting is not None and current.message is not None and index + 1 < len(rows):
            run_while_waiting(functools.partial(prepare, index + 1))
        outcomes.append(_send(current, backend, now, report))
    return outcomes


def _prepare(
    row: Any, rules: Rules, renderer: NoticeRenderer, sender: str, attachment: tuple[str, bytes, str] | None
) -> _Prepared:
    outcome: dict[str, Any] = {
        "sha256": None,
        "b_id": row.id,
        "attempts": row.attempts + 1,
        "next_try_at": None,
        "last_error": None,
        "sent_at": None,
        "subject": row.subject,
    }
    if not row.to_addrs:
        unit = rules.tree.units.get(row.recipient_code)
        reason = (
            f"{unit.name if unit else row.recipient_code} has no e-mail address in org.yaml; "
            "add one and run `hazardloop notices --status failed` to see what is waiting"
        )
        return _Prepared(row, outcome, refusal=reason)
    try:
        context = document_context(row.context, rules)
        rendered = renderer.render(row.kind, context)
        images: dict[str, bytes] = {}
        if row.kind == "report":
            from notifications.charts import render_charts

            images = render_charts(context)
        message = build_message(
            rendered,
            sender=sender,
            to=row.to_addrs,
            cc=row.cc_addrs or [],
            message_id=row.key,
            date=row.created_at,
            inline_images=images or None,
            attachments=[attachment] if attachment else (),
        )
    except MailError as exc:
        return _Prepared(row, outcome, refusal=str(exc))
    except Exception as exc:  # a template or context that cannot be rendered will not get better by retrying
        return _Prepared(row, outcome, refusal=f"the notice could not be rendered: {type(exc).__name__}: {exc}")
    outcome["subject"] = rendered.subject[:300]
    outcome["sha256"] = fingerprint(rendered)
    return _Prepared(row, outcome, message, rendered)


def _send(prepared: _Prepared, backend: MailBackend, now: datetime, report: DispatchReport) -> dict[str, Any]:
    row, outcome, rendered = prepared.row, prepared.outcome, prepared.rendered
    if prepared.message is None or rendered is None:
        return _failed(outcome, report, row, prepared.refusal)
    try:
        backend.send(prepared.message)
    except MailError as exc:
        return _unsent(outcome, report, row, exc, now)
    report.sent += 1
    archive = {
        "notice_id": row.id,
        "sha256": outcome["sha256"],
        "message_id": message_id_for(row.key),  # what build_message wrote, without parsing the header back
        "subject": rendered.subject[:300],
        "text": rendered.text,
        "html": rendered.html,
        "archived_at": now,
    }
    return {**outcome, "status": "sent", "sent_at": now, "archive": archive}


def _alert_operator(
    rules: Rules, backend: MailBackend, sender: str, dead: list[dict[str, Any]], rows: list[Any]
) -> None:
    """One plain mail to the operator for each notice given up on (best effort: the notice is marked already)."""
    operator = rules.policy.notices.operator
    if not dead or not operator:
        return
    from email.message import EmailMessage

    by_id = {r.id: r for r in rows}
    for outcome in dead:
        row = by_id[outcome["b_id"]]
        message = EmailMessage()
        message["From"], message["To"] = sender, operator
        message["Subject"] = f"[hazardloop] notice {row.number} could not be delivered"
        message.set_content(
            f"Notice {row.id} ({row.kind}, {row.number}) to {', '.join(row.to_addrs)} was given up after "
            f"{outcome['attempts']} attempts.\nLast error: {outcome['last_error']}\n"
            "Fix the address or the mail server, then requeue it: hazardloop notices --status dead"
        )
        try:
            backend.send(message)
        except MailError as exc:
            log.error("could not alert the operator about notice %s: %s", row.id, exc)


def fingerprint(rendered: RenderedNotice) -> str:
    """The SHA-256 kept with the archived document, over exactly what went out: subject, text and HTML."""
    return hashlib.sha256("\n".join((rendered.subject, rendered.text, rendered.html)).encode()).hexdigest()


def _unsent(outcome: dict[str, Any], report: DispatchReport, row: Any, exc: MailError, now: datetime) -> dict[str, Any]:
    """A send that did not go through: failed for good (5xx, bad address), dead once out of attempts, otherwise
    pending until its next try with backoff."""
    if isinstance(exc, PermanentMailError):
        return _failed(outcome, report, row, str(exc))
    if outcome["attempts"] >= MAX_ATTEMPTS:
        report.dead += 1
        report.errors.append(f"notice {row.id} ({row.number}): gave up after {outcome['attempts']} attempts: {exc}")
        return {**outcome, "status": "dead", "last_error": f"gave up after {outcome['attempts']} attempts: {exc}"}
    report.retrying += 1
    delay = BACKOFF[min(outcome["attempts"] - 1, len(BACKOFF) - 1)]
    return {**outcome, "status": "pending", "next_try_at": now + delay, "last_error": str(exc)}


def _failed(outcome: dict[str, Any], report: DispatchReport, row: Any, reason: str) -> dict[str, Any]:
    report.failed += 1
    report.errors.append(f"notice {row.id} ({row.number}): {reason}")
    log.warning("notice %s (%s) failed: %s", row.id, row.number, reason)
    return {**outcome, "status": "failed", "last_error": reason}
