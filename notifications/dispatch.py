"""Delivering the outbox: claim pending notices in batches, render them, send them, mark them.

A notice is claimed with a lease (``claimed_until``) in its own short transaction — on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` — so several dispatchers never take the same row, and a dispatcher that dies
mid-batch only delays its rows until the lease runs out. Leases run on the real clock, not on the ``now``
the rules act as of: they are about live processes, and a dispatcher acting as of another instant (``--now``,
a catch-up run) must not see a live claim as expired. Each dispatcher has its own id (host, process, random
part). Sending happens outside any transaction; the outcome is written afterwards, for the rows still
claimed by this dispatcher only, as soon as the server has answered (each notice in its own short
transaction), so a dispatcher killed mid-batch sends again at most the message that was in flight. Notices
go out one by one over one connection; while the server digests one, the next is rendered (see
``_deliver_each``).

A mail server that cannot be reached (or a mail folder that cannot be made) stops the run: every notice of the
claimed batch not yet recorded has the attempt recorded (attempts + 1, the reason, the next try by the backoff)
and its claim released, and ``MailServerUnavailable`` says so in one sentence. A notice the server accepted for
some recipients and refused for others records who has it (``delivered_to``); its retries go only to the rest.

Retries live in the outbox itself, not in Prefect: the attempt count and next-try instant survive restarts
and work the same from the command line and the scheduler. Transient failures (4xx, dropped connections,
timeouts) are retried with growing delays; after ``MAX_ATTEMPTS`` the notice is ``dead``. Permanent failures
(5xx, refused or malformed addresses, a unit without an address, a template that cannot be rendered, an
attachment that cannot be made: anything that goes wrong building one notice) mark it ``failed`` with the
reason at once, and never hold up the other notices. The operator (``notices.operator`` in the policy) gets a
mail for every notice failed or given up on; ``requeue_notices`` sends one again. A retried send carries the same
Message-ID, so receivers can drop a copy; the file backend overwrites the same ``.eml`` file.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, and_, bindparam, or_, select, true, update

from hazardloop.models.core.errors import HazardloopError
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.bulk import bulk_insert
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.outbox import complete_contexts
from hazardloop.models.store.tables import NoticeArchiveRow, NoticeRow
from hazardloop.notifications.mail_errors import MailError, PermanentMailError, TransientMailError
from hazardloop.notifications.mailers import MailBackend
from hazardloop.notifications.messages import build_message, message_envelope, message_id_for
from hazardloop.notifications.rendering import NoticeRenderer, RenderedNotice

log = logging.getLogger("hazardloop.dispatch")
_N = NoticeRow.__table__
_A = NoticeArchiveRow.__table__
_ARCHIVE_COLUMNS = [c.name for c in _A.columns]
MAX_ATTEMPTS = 6
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4))
LEASE = timedelta(minutes=10)
RECORD_GROUP = 100  # outcomes written together where a resend is harmless (see `dispatch`)
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


class MailServerUnavailable(HazardloopError):
    """The mail backend could not be opened: nothing can be sent until the server (or folder) is back (exit 1)."""

    exit_code = 1


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
        return complete_contexts(conn, list(conn.execute(select(_N).where(_N.c.id.in_(ids)).order_by(_N.c.id))))


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
        delivered_to=bindparam("delivered_to"),
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
            report.claimed += len(rows)
            if not opened:
                try:
                    backend.open()
                except MailError as exc:
                    raise _server_down(engine, rules, worker, rows, exc, now, report) from exc
                opened = True
            # A backend whose resend reaches nobody twice (a file rewritten in place) lets outcomes be written in
            # groups; for mail, each is written before the next send.
            group = RECORD_GROUP if getattr(backend, "resend_is_harmless", False) else 1
            recorder = _Recorder(engine, worker, report, group)
            attachments = _report_attachments(engine, rules, rows, now)
            groups, singles = digest_groups(rows, rules)
            try:
                _deliver_each(singles, rules, backend, renderer, sender, now, report, attachments, recorder.record)
                for digest in groups:
                    _deliver_digest(digest, rules, backend, renderer, sender, now, report, recorder.record)
                recorder.flush()
            except _ServerLost as lost:
                recorder.flush()
                unrecorded = [r for r in rows if r.id not in recorder.recorded]
                raise _server_down(engine, rules, worker, unrecorded, lost.error, now, report) from lost.error
            finally:
                recorder.tell_of_lost_claims()
            _alert_operator(rules, backend, renderer, sender, recorder.alerts, now)
            if progress:
                progress(len(rows))
    finally:
        if opened:
            backend.close()
    return report


# which DispatchReport counter each recorded status was counted in
_COUNTED_AS = {"sent": "sent", "pending": "retrying", "failed": "failed", "dead": "dead"}


class _ServerLost(Exception):
    """The backend could not be reopened in the middle of a batch: the rest of the batch cannot go either."""

    def __init__(self, error: MailError) -> None:
        super().__init__(str(error))
        self.error = error


class _Recorder:
    """Writes each outcome as soon as it is known, in its own short transaction (or, with ``group``, every
    ``group`` outcomes: for a backend where a resend reaches nobody twice), for the rows this dispatcher still
    holds. A claim is lost only when a batch outlives its lease and another dispatcher takes the rows over;
    that one records them, so nothing is recorded (or archived) twice."""

    def __init__(self, engine: Engine, worker: str, report: DispatchReport, group: int = 1) -> None:
        self.engine, self.worker, self.report, self.group = engine, worker, report, group
        self.recorded: set[int] = set()
        self.alerts: list[tuple[Any, dict[str, Any]]] = []  # (row, outcome) of notices failed or given up on
        self.lost = 0
        self._waiting: list[tuple[Any, dict[str, Any]]] = []

    def record(self, done: list[tuple[Any, dict[str, Any]]]) -> None:
        """Take the outcomes of one send (a digest's notices share one); written at once, or with the group."""
        self._waiting += done
        if len(self._waiting) >= self.group:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes taken so far, all of them or none."""
        done, self._waiting = self._waiting, []
        if not done:
            return
        with unit_of_work(self.engine) as conn:
            ours = self._write(conn, done)
        held = [(row, outcome) for row, outcome in done if row.id in ours]
        for row, outcome in done:
            self.recorded.add(row.id)
            if row.id not in ours:  # the dispatcher that took it over counts and records it, not this one
                self.lost += 1
                counter = _COUNTED_AS.get(outcome["status"])
                if counter:
                    setattr(self.report, counter, getattr(self.report, counter) - 1)
        self.alerts += [(row, outcome) for row, outcome in held if outcome["status"] in ("failed", "dead")]

    def _write(self, conn: Any, done: list[tuple[Any, dict[str, Any]]]) -> set[int]:
        """Mark the rows still claimed by this dispatcher and archive what they sent; returns their ids."""
        archives = {row.id: outcome.pop("archive", None) for row, outcome in done}
        if len(done) == 1:
            # one row: the claim in the WHERE clause is the check (an update finding no row of ours writes nothing)
            row, outcome = done[0]
            ours = {row.id} if conn.execute(_MARK, {**outcome, "b_worker": self.worker}).rowcount == 1 else set()
        else:
            held = select(_N.c.id).where(_N.c.id.in_(list(archives)), _N.c.claimed_by == self.worker)
            if conn.dialect.name == "postgresql":
                held = held.with_for_update()
            ours = {r[0] for r in conn.execute(held)}
            marks = [{**outcome, "b_worker": self.worker} for row, outcome in done if row.id in ours]
            if marks:
                conn.execute(_MARK, marks)
        archive = [a for row_id, a in archives.items() if a and row_id in ours]
        if archive:
            bulk_insert(conn, _A, archive, _ARCHIVE_COLUMNS)
        return ours

    def tell_of_lost_claims(self) -> None:
        if not self.lost:
            return
        message = (
            f"{self.lost} notice(s) were still being sent when this dispatcher's {LEASE.total_seconds() / 60:g}-minute "
            "hold on them ran out; another dispatcher has taken them over and records what happens to them. "
            "Their recipients may receive them twice, with the same Message-ID."
        )
        log.warning(message)
        self.report.errors.append(message)


def _base_outcome(row: Any) -> dict[str, Any]:
    """What every outcome of an attempt at ``row`` writes unless it says otherwise."""
    return {
        "sha256": row.sha256,
        "b_id": row.id,
        "attempts": row.attempts + 1,
        "next_try_at": None,
        "last_error": None,
        "sent_at": None,
        "subject": row.subject,
        "delivered_to": dict(row.delivered_to or {}) or None,
    }


def _server_down(
    engine: Engine, rules: Rules, worker: str, rows: list[Any], exc: MailError, now: datetime, report: DispatchReport
) -> MailServerUnavailable:
    """The backend cannot be opened: record the attempt of every row still claimed and release it, so that it goes
    as soon as the server is back and its backoff allows, instead of waiting out the lease. The server is the
    reason, not the notice: even a refused login leaves the notices pending (``dead`` only once out of attempts)."""
    reason = TransientMailError(str(exc))
    outcomes = [_unsent(_base_outcome(row), report, row, reason, now, quiet=True) for row in rows]
    if outcomes:
        with unit_of_work(engine) as conn:
            conn.execute(_MARK, [{**o, "b_worker": worker} for o in outcomes])
    what = str(exc).rstrip(". ")
    sent = f"{report.sent} notice(s) were sent before that" if report.sent else "nothing was sent"
    if not outcomes:
        return MailServerUnavailable(f"{what}; {sent}.")
    retry_at = min((o["next_try_at"] for o in outcomes if o["next_try_at"] is not None), default=None)
    given_up = sum(o["status"] == "dead" for o in outcomes)
    again = f"will be tried again from {rules.local_iso(retry_at)}"
    dead = f"given up after {MAX_ATTEMPTS} attempts (`hazardloop notices requeue` sends them again)"
    if not given_up:
        left = f"the {len(outcomes)} notice(s) left {again}"
    elif given_up == len(outcomes):
        left = f"the {len(outcomes)} notice(s) left were {dead}"
    else:
        left = f"of the {len(outcomes)} notice(s) left, {len(outcomes) - given_up} {again} and {given_up} were {dead}"
    return MailServerUnavailable(f"{what}; {sent}, and {left}.")


_DIGEST_KINDS = ("reminder", "supervision")


def digest_groups(rows: list[Any], rules: Rules) -> tuple[list[list[Any]], list[Any]]:
    """With ``notices.digest`` on, a unit's reminders and supervisions of one day (at least ``digest_min`` in
    this batch, same addresses) go out as one mail; everything else individually (also a notice some of whose
    recipients have it already: its retry goes to the others only)."""
    policy = rules.policy.notices
    if not policy.digest:
        return [], rows
    buckets: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        if row.kind in _DIGEST_KINDS and row.to_addrs and not row.delivered_to:
            day = row.created_at.astimezone(rules.policy.tz).date()
            key = (row.recipient_code, tuple(row.to_addrs), tuple(row.cc_addrs or ()), day)
            buckets.setdefault(key, []).append(row)
    groups = [g for g in buckets.values() if len(g) >= policy.digest_min]
    grouped = {r.id for g in groups for r in g}
    return groups, [r for r in rows if r.id not in grouped]


Record = Callable[[list[tuple[Any, dict[str, Any]]]], None]


def _deliver_digest(
    group: list[Any],
    rules: Rules,
    backend: MailBackend,
    renderer: NoticeRenderer,
    sender: str,
    now: datetime,
    report: DispatchReport,
    record: Record | None = None,
) -> list[dict[str, Any]]:
    """One mail for the group; each notice in it is marked by the outcome of that one send."""
    from hazardloop.models.core.notice_docs import KIND_TITLES

    first = group[0]
    base = [_base_outcome(r) for r in group]
    try:
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
    except MailError as exc:
        outcomes = [_failed(o, report, row, str(exc)) for o, row in zip(base, group, strict=True)]
        return _recorded(group, outcomes, record)
    except Exception as exc:  # one bad digest is failed with its reason; it must not stop the others
        reason = _unbuildable(exc)
        outcomes = [_failed(o, report, row, reason) for o, row in zip(base, group, strict=True)]
        return _recorded(group, outcomes, record)
    try:
        backend.send(message)
    except MailError as exc:
        if exc.connecting:
            raise _ServerLost(exc) from exc
        # every notice in the mail shares its fate, and is counted as each single notice would be; those who took
        # the digest have them all (their retries then go one by one, to the others only)
        accepted = dict.fromkeys(exc.delivered, now.isoformat()) or None
        outcomes = [
            _unsent({**o, "delivered_to": accepted}, report, row, exc, now) for o, row in zip(base, group, strict=True)
        ]
        return _recorded(group, outcomes, record)
    digest = fingerprint(rendered)
    everyone = dict.fromkeys(message_envelope(message)[1], now.isoformat())
    outcomes = []
    for outcome, row in zip(base, group, strict=True):
        report.sent += 1
        outcomes.append(
            {
                **outcome,
                "status": "sent",
                "sent_at": now,
                "sha256": digest,
                "delivered_to": everyone,
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
    return _recorded(group, outcomes, record)


def _recorded(rows: list[Any], outcomes: list[dict[str, Any]], record: Record | None) -> list[dict[str, Any]]:
    if record is not None:
        record(list(zip(rows, outcomes, strict=True)))
    return outcomes


def _unbuildable(exc: BaseException) -> str:
    return f"the notice could not be built: {type(exc).__name__}: {exc}"


def _report_attachments(engine: Engine, rules: Rules, rows: list[Any], now: datetime) -> dict[int, Any]:
    """The monthly report carries its scope's ledger (台账) as an Excel attachment, made at sending time. A ledger
    that cannot be made is that report's failure (kept as the exception), not the batch's."""
    monthly = [r for r in rows if r.kind == "report" and (r.context or {}).get("period_kind") == "monthly"]
    if not monthly:
        return {}
    from hazardloop.notifications.ledger import report_attachment

    made: dict[int, Any] = {}
    for row in monthly:
        try:
            with unit_of_work(engine, write=False) as conn:  # its own: a failed one leaves the others' reads alone
                made[row.id] = report_attachment(conn, rules, row.context, now)
        except Exception as exc:
            made[row.id] = exc
    return made


@dataclass
class _Prepared:
    """A notice made ready to send: its message, or the reason it cannot be sent; and its outcome so far."""

    row: Any
    outcome: dict[str, Any]
    message: EmailMessage | None = None
    rendered: RenderedNotice | None = None
    refusal: str = ""
    recipients: list[str] | None = None  # the envelope when some recipients have the notice already


def _deliver_each(
    rows: list[Any],
    rules: Rules,
    backend: MailBackend,
    renderer: NoticeRenderer,
    sender: str,
    now: datetime,
    report: DispatchReport,
    attachments: dict[int, Any],
    record: Record | None = None,
) -> list[dict[str, Any]]:
    """Send each notice on its own, in order, and ``record`` each outcome as soon as it is known (before the next
    send, so a crash repeats at most the message in flight). Where the backend can run work while the server
    digests a message (`SMTPBackend.run_while_waiting`), the next notice is rendered and built in that time
    instead of after it: the two sides work at once instead of taking turns. Each send still stands alone: its
    outcome is its own server reply, and the report lists what happened in the order of the rows."""
    # an optional capability of a backend that waits on a server; files and memory have nothing to wait for
    run_while_waiting = getattr(backend, "run_while_waiting", None)
    prepared: list[_Prepared] = []

    def prepare(index: int) -> None:
        if len(prepared) == index:  # once, whether during the previous send or here
            row = rows[index]
            prepared.append(_prepare(row, rules, renderer, sender, attachments.get(row.id), now))

    outcomes = []
    for index in range(len(rows)):
        prepare(index)
        current = prepared[index]
        if run_while_waiting is not None and current.message is not None and index + 1 < len(rows):
            run_while_waiting(functools.partial(prepare, index + 1))
        outcomes.append(_send(current, backend, now, report))
        if record is not None:
            record([(current.row, outcomes[-1])])
    return outcomes


def _prepare(
    row: Any,
    rules: Rules,
    renderer: NoticeRenderer,
    sender: str,
    attachment: tuple[str, bytes, str] | Exception | None,
    now: datetime | None = None,
) -> _Prepared:
    outcome = _base_outcome(row)
    if not row.to_addrs:
        unit = rules.tree.units.get(row.recipient_code)
        reason = (
            f"{unit.name if unit else row.recipient_code} has no e-mail address in org.yaml; "
            f"add one, run `hazardloop init`, then `hazardloop notices requeue {row.id}`"
        )
        return _Prepared(row, outcome, refusal=reason)
    if isinstance(attachment, Exception):
        return _Prepared(row, outcome, refusal=f"the ledger attachment could not be made: {_unbuildable(attachment)}")
    try:
        context = document_context(row.context, rules)
        rendered = renderer.render(row.kind, context)
        images: dict[str, bytes] = {}
        if row.kind == "report":
            from hazardloop.notifications.charts import render_charts

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
        recipients = None
        if row.delivered_to:  # a retry after a partial refusal: only those still missing it
            have = {addr.lower() for addr in row.delivered_to}
            recipients = [a for a in message_envelope(message)[1] if a.lower() not in have]
    except MailError as exc:
        return _Prepared(row, outcome, refusal=str(exc))
    except Exception as exc:  # a template, context or attachment that fails will not get better by retrying
        return _Prepared(row, outcome, refusal=_unbuildable(exc))
    outcome["subject"] = rendered.subject[:300]
    outcome["sha256"] = fingerprint(rendered)
    return _Prepared(row, outcome, message, rendered, recipients=recipients)


def _send(prepared: _Prepared, backend: MailBackend, now: datetime, report: DispatchReport) -> dict[str, Any]:
    row, outcome, rendered = prepared.row, prepared.outcome, prepared.rendered
    if prepared.message is None or rendered is None:
        return _failed(outcome, report, row, prepared.refusal)
    envelope = prepared.recipients
    if envelope is None:
        envelope = message_envelope(prepared.message)[1]
    if envelope:  # nobody left only when every recipient had it already (a requeued notice)
        try:
            if prepared.recipients is None:
                backend.send(prepared.message)
            else:
                backend.send(prepared.message, recipients=prepared.recipients)
        except MailError as exc:
            if exc.connecting:
                raise _ServerLost(exc) from exc
            accepted = dict.fromkeys(exc.delivered, now.isoformat())
            return _unsent(
                {**outcome, "delivered_to": {**(outcome["delivered_to"] or {}), **accepted} or None},
                report,
                row,
                exc,
                now,
            )
    report.sent += 1
    delivered = {**(outcome["delivered_to"] or {}), **dict.fromkeys(envelope, now.isoformat())}
    archive = {
        "notice_id": row.id,
        "sha256": outcome["sha256"],
        "message_id": message_id_for(row.key),  # what build_message wrote, without parsing the header back
        "subject": rendered.subject[:300],
        "text": rendered.text,
        "html": rendered.html,
        "archived_at": now,
    }
    return {**outcome, "status": "sent", "sent_at": now, "delivered_to": delivered, "archive": archive}


def _alert_operator(
    rules: Rules,
    backend: MailBackend,
    renderer: NoticeRenderer,
    sender: str,
    given_up: list[tuple[Any, dict[str, Any]]],
    now: datetime,
) -> None:
    """A mail to the operator for each notice failed or given up on: in Chinese, with a Date and a Message-ID,
    text and HTML, saying how to send it again. Best effort: the notice is marked already."""
    operator = rules.policy.notices.operator
    if not given_up or not operator:
        return
    from hazardloop.models.core.notice_docs import KIND_TITLES

    tz = rules.policy.tz
    for row, outcome in given_up:
        issuer = rules.tree.units.get(row.issuer_code)
        recipient = rules.tree.units.get(row.recipient_code)
        context = {
            "notice_id": row.id,
            "number": row.number,
            "kind_title": KIND_TITLES.get(row.kind, row.kind),
            "issuer": issuer.name if issuer else row.issuer_code,
            "recipient": recipient.name if recipient else row.recipient_code,
            "addresses": [*(row.to_addrs or []), *(row.cc_addrs or [])] or ["（无邮件地址）"],
            "status": outcome["status"],
            "attempts": outcome["attempts"],
            "reason": outcome["last_error"] or "",
            "delivered": list(outcome.get("delivered_to") or {}),
            "hazard_id": row.hazard_id,
            "date": now.astimezone(tz),
        }
        try:
            message = build_message(
                renderer.render("operator_alert", context),
                sender=sender,
                to=[operator],
                cc=[],
                message_id=f"operator-alert-{row.id}-{outcome['attempts']}-{outcome['status']}",
                date=now,
            )
            backend.send(message)
        except Exception as exc:  # the alert must never undo or hide what was recorded
            log.error("could not alert the operator about notice %s: %s", row.id, exc)


def fingerprint(rendered: RenderedNotice) -> str:
    """The SHA-256 kept with the archived document, over exactly what went out: subject, text and HTML."""
    return hashlib.sha256("\n".join((rendered.subject, rendered.text, rendered.html)).encode()).hexdigest()


def _unsent(
    outcome: dict[str, Any], report: DispatchReport, row: Any, exc: MailError, now: datetime, *, quiet: bool = False
) -> dict[str, Any]:
    """A send that did not go through (for some recipients or all): failed for good (5xx, bad address), dead once
    out of attempts, otherwise pending until its next try with backoff. The reason says who has it already, so
    that nobody reads a refusal as a delivery or the other way round."""
    reason = str(exc)
    delivered = list(outcome.get("delivered_to") or {})
    if exc.refused and delivered:
        reason = f"{exc} Delivered to {', '.join(delivered)} already."
    if isinstance(exc, PermanentMailError):
        return _failed(outcome, report, row, reason)
    if outcome["attempts"] >= MAX_ATTEMPTS:
        report.dead += 1
        given_up = f"gave up after {outcome['attempts']} attempts: {reason}"
        if not quiet:
            report.errors.append(f"notice {row.id} ({row.number}): {given_up}")
        return {**outcome, "status": "dead", "last_error": given_up}
    report.retrying += 1
    delay = BACKOFF[min(outcome["attempts"] - 1, len(BACKOFF) - 1)]
    return {**outcome, "status": "pending", "next_try_at": now + delay, "last_error": reason}


def _failed(outcome: dict[str, Any], report: DispatchReport, row: Any, reason: str) -> dict[str, Any]:
    report.failed += 1
    report.errors.append(f"notice {row.id} ({row.number}): {reason}")
    log.warning("notice %s (%s) failed: %s", row.id, row.number, reason)
    return {**outcome, "status": "failed", "last_error": reason}
