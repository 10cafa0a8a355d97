"""Notices within a principal's jurisdiction: list them, read one as the document it is, send one again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action, Principal, role_refusal_words
from hazardloop.models.core.errors import InvalidInput, Problem, Refused
from hazardloop.models.core.policy import NOTICE_KINDS
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.outbox import REQUEUEABLE, complete_contexts, requeue, requeue_notices
from hazardloop.models.store.queries import (
    NOTICE_ID_MAX,
    archived_document,
    check_limit,
    find_notice,
    list_notices,
    notice_view,
)

NOTICE_STATUSES = ("pending", "sent", "failed", "dead")
MAX_PAGE = 500


def check_filters(status: str | None, kind: str | None, names: tuple[str, str] = ("--status", "--kind")) -> None:
    for option, given, known in ((names[0], status, NOTICE_STATUSES), (names[1], kind, NOTICE_KINDS)):
        bad = [v for v in (given or "").split(",") if given and v not in known]
        if bad:
            raise InvalidInput([Problem(f"unknown value(s) {bad}; use {', '.join(known)}", field=option)])


@dataclass
class NoticePage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_page(
    app: App,
    principal: Principal,
    *,
    status: str | None = None,
    kind: str | None = None,
    hazard: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    names: tuple[str, str, str] = ("--status", "--kind", "--hazard"),
    newest_first: bool = False,
) -> NoticePage:
    check_filters(status, kind, names[:2])
    after = None
    if cursor:
        # ASCII digits of a notice's id ("²" is a digit to Python, but no number; a larger number is no id)
        if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > NOTICE_ID_MAX:
            raise InvalidInput([Problem("the cursor is not one this server gave out", field="cursor")])
        after = int(cursor)
    check_limit(limit, "--limit" if names[0].startswith("--") else "limit")  # 0 or less is a mistake, not "all"
    size = limit  # the API caps it at MAX_PAGE; the command line may ask for more
    with unit_of_work(app.engine, write=False) as conn:
        rows = list_notices(
            conn,
            app.rules,
            status=status,
            kind=kind,
            hazard=hazard,
            limit=size + 1 if size else None,
            within=principal.jurisdiction,
            after=after,
            hazard_field=names[2],
            newest_first=newest_first,
        )
    more = size is not None and len(rows) > size
    rows = rows[:size] if size else rows
    return NoticePage(rows, str(rows[-1]["id"]) if more and rows else None)


def document(app: App, principal: Principal, notice_id: int) -> dict[str, Any]:
    """The notice with its document: as sent (the archived text), or rendered now from its stored context."""
    with unit_of_work(app.engine, write=False) as conn:
        (row,) = complete_contexts(conn, [find_notice(conn, notice_id, within=principal.jurisdiction)])
        archived = archived_document(conn, notice_id)
    view = notice_view(row, app.rules)
    if archived is not None:
        doc = {"subject": archived.subject, "text": archived.text, "html": archived.html, "as_sent": True}
    else:
        from hazardloop.notifications.dispatch import document_context

        rendered = app.renderer.render(row.kind, document_context(row.context, app.rules))
        doc = {"subject": rendered.subject, "text": rendered.text, "html": rendered.html, "as_sent": False}
    return {**view, "document": doc}


def send_again(app: App, principal: Principal, notice_id: int) -> dict[str, Any]:
    """A failed or dead notice back to pending (the next dispatch sends it); others are refused."""
    with unit_of_work(app.engine) as conn:
        row = find_notice(conn, notice_id, within=principal.jurisdiction)
        if not principal.may(Action.REQUEUE):
            raise Refused(role_refusal_words(principal, Action.REQUEUE), field="actor")
        if not requeue(conn, notice_id, app.clock.now()):
            raise Refused(
                f"notice {notice_id} is {row.status}; only a notice that is {' or '.join(REQUEUEABLE)} can be "
                "sent again",
                field="status",
            )
        row = find_notice(conn, notice_id)
        return notice_view(row, app.rules)


@dataclass
class Requeued:
    """The notices sent again (or that would be, with ``dry_run``): pending, due at once, attempts counted anew."""

    ids: list[int]
    dry_run: bool


def requeue_many(
    app: App,
    principal: Principal,
    *,
    ids: Sequence[int] | None = None,
    kind: str | None = None,
    status: str | None = None,
    dry_run: bool = False,
) -> Requeued:
    """Failed or dead notices (these ``ids``, or those of ``kind`` and ``status``) back to pending, so the next
    dispatch sends them; recipients that had one already do not get it again. ``dry_run`` changes nothing."""
    if not principal.may(Action.REQUEUE):
        raise Refused(role_refusal_words(principal, Action.REQUEUE), field="actor")
    with unit_of_work(app.engine, write=not dry_run) as conn:
        picked = requeue_notices(conn, ids=ids, kind=kind, status=status, now=app.clock.now(), dry_run=dry_run)
    return Requeued(list(picked), dry_run)
