"""The audit record's proofs: seal the days and anchor their roots outside the database; verify the chains, the
sealed days and (optionally) a copy of the anchors against the rows as they stand.

``verify_audit`` is what ``hazardloop verify-audit`` and the weekly scheduled check call; ``seal_and_anchor`` is
what the daily analysis calls before it mails the day's root.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.audit_chain import AuditRecord, Finding, content_check, day_root, walk_chain
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.store.audit import (
    SealedDay,
    all_heads,
    archive_records,
    day_start,
    roots_of,
    seal_days,
    sealed_roots,
    stored_roots,
    transition_records,
)
from hazardloop.models.store.db import unit_of_work
from hazardloop.services.jobs import job_record

EXIT_NOT_INTACT = 5
ANCHOR_FILE_NAME = "audit-anchors.jsonl"


@dataclass
class AuditReport:
    transitions: int = 0
    notices: int = 0
    chains: int = 0
    days: int = 0
    anchors: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "transitions": self.transitions,
            "notices": self.notices,
            "chains": self.chains,
            "days": self.days,
            "anchors": self.anchors,
            "findings": [f.as_dict() for f in self.findings],
        }


def anchor_path(app: App) -> Path:
    """The anchor file: next to the notices' mail folder unless configured."""
    configured = app.settings.audit_anchor_file
    return configured if configured is not None else app.settings.mail_dir.parent / ANCHOR_FILE_NAME


def seal_and_anchor(app: App, now: datetime) -> list[SealedDay]:
    """Seal every complete day not sealed yet and append each new root to the anchor file (one JSON line a day).
    A root sealed earlier but missing from the file (the file was moved, a write failed) is appended too."""
    with unit_of_work(app.engine) as conn:
        seal_days(conn, app.policy.tz, now)
    path = anchor_path(app)
    written = {line["day"] for line in _anchor_lines(path)} if path.exists() else set()
    with unit_of_work(app.engine, write=False) as conn:
        missing = [day for day in stored_roots(conn) if day not in written]
        new = sealed_roots(conn, sorted(missing))
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            for day in new:
                out.write(json.dumps(day.as_dict(), ensure_ascii=False, sort_keys=True) + "\n")
    return new


def verify_audit(app: App, *, since: date | None = None, anchor: Path | None = None) -> AuditReport:
    """Walk every chain (from ``since``, a local date, when given), check each sealed day's root against the rows
    of that day, and each day of an anchor file against both. Reads only."""
    anchors = _anchor_lines(anchor) if anchor is not None else []
    tz = app.policy.tz
    start = day_start(since, tz) if since else None
    report = AuditReport()
    with unit_of_work(app.engine, write=False) as conn:
        records = transition_records(conn, start) + archive_records(conn, start)
        heads = all_heads(conn)
        stored = stored_roots(conn, since)
    current = roots_of(records, tz)
    report.transitions = sum(1 for r in records if r.kind == "transition")
    report.notices = len(records) - report.transitions
    chains: dict[tuple[str, str], list[AuditRecord]] = defaultdict(list)
    for r in records:
        chains[(r.kind, r.chain)].append(r)
        if r.kind == "notice":
            wrong = content_check(r)
            if wrong is not None:
                report.findings.append(wrong)
    report.chains = len(chains)
    for (kind, chain), rows in sorted(chains.items()):
        report.findings += walk_chain(kind, chain, rows, heads.get(chain), partial=since is not None)
    if since is None:  # a chain whose every row is gone: only its head is left
        seen = {chain for _, chain in chains}
        for chain, head in sorted(heads.items()):
            if chain not in seen:
                kind = "notice" if chain.startswith("notices:") else "transition"
                report.findings += walk_chain(kind, chain, [], head)
    report.days = len(stored)
    report.findings += _root_findings(stored, current, "the database's sealed root")
    if anchor is not None:
        given = {
            line["day"]: (line["root"], line.get("transitions", 0), line.get("notices", 0))
            for line in anchors
            if since is None or line["day"] >= since.isoformat()
        }
        report.anchors = len(given)
        report.findings += _root_findings(given, current, f"the anchor in {anchor}")
        for day, (root, _, _) in sorted(given.items()):
            if day in stored and stored[day][0] != root:
                report.findings.append(
                    Finding(
                        "root",
                        f"day:{day}",
                        None,
                        None,
                        f"day {day}: the database's sealed root differs from the anchor in {anchor}: "
                        "the sealed roots were rewritten",
                    )
                )
    return report


def _root_findings(
    sealed: dict[str, tuple[str, int, int]], current: dict[str, tuple[str, int, int]], whose: str
) -> list[Finding]:
    findings = []
    for day, (root, transitions, notices) in sorted(sealed.items()):
        now_root, now_transitions, now_notices = current.get(day, (day_root([]), 0, 0))
        if now_root == root:
            continue
        counts = ""
        if (now_transitions, now_notices) != (transitions, notices):
            counts = (
                f" (sealed with {transitions} audit row(s) and {notices} archived notice(s); "
                f"now {now_transitions} and {now_notices})"
            )
        findings.append(
            Finding(
                "root",
                f"day:{day}",
                None,
                None,
                f"day {day}: the rows recorded that day no longer give {whose}{counts}: "
                "some were changed, removed or added afterwards",
            )
        )
    return findings


def _anchor_lines(path: Path) -> list[dict[str, Any]]:
    """The days of an anchor file; a line that is not a day's anchor is invalid input naming its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Problem("file not found", source=str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput([Problem(f"cannot be read ({exc})", source=str(path))]) from None
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            date.fromisoformat(line["day"])
            if not isinstance(line["root"], str) or len(line["root"]) != 64:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(
                [
                    Problem(
                        'is not a day\'s anchor: expected {"day": "YYYY-MM-DD", "root": "<64 hex digits>", …}',
                        source=str(path),
                        line=number,
                    )
                ]
            ) from None
        lines.append(line)
    return lines


ALERT_FINDINGS = 50  # findings listed in the operator's mail; the command lists them all


def scheduled_verification(app: App, now: datetime) -> dict[str, Any]:
    """The weekly job: seal and anchor the complete days, verify everything against the database's roots and the
    anchor file, and mail the operator (``notices.operator`` in the policy) when anything is not intact."""
    seal_and_anchor(app, now)
    path = anchor_path(app)
    report = verify_audit(app, anchor=path if path.exists() else None)
    summary = {k: v for k, v in report.as_dict().items() if k != "findings"}
    summary["findings"] = [f.sentence() for f in report.findings[:ALERT_FINDINGS]]
    if not report.intact:
        summary["operator_alerted"] = alert_operator(app, report, now, path if path.exists() else None)
    return summary


def run_scheduled_verification(app: App, principal: Principal) -> dict[str, Any]:
    """The weekly check as of the app's clock, recorded as the ``verify_audit`` job (the scheduler's job and the
    ``verify-audit`` flow both call this)."""
    with job_record(app, principal, "verify_audit") as run:
        run.summary.update(scheduled_verification(app, run.as_of))
    return {"as_of": run.as_of.isoformat(), **run.summary}


def alert_operator(app: App, report: AuditReport, now: datetime, anchor: Path | None) -> bool:
    """A mail to the operator naming what does not fit; False when no operator is configured or it could not go
    (the job's record says so either way)."""
    from hazardloop.notifications.messages import build_message

    operator = app.policy.notices.operator
    if not operator:
        return False
    shown = report.findings[:ALERT_FINDINGS]
    context = {
        "date": now.astimezone(app.policy.tz),
        "findings": [f.sentence() for f in shown],
        "more": len(report.findings) - len(shown),
        "transitions": report.transitions,
        "notices": report.notices,
        "days": report.days,
        "anchor": str(anchor) if anchor else "",
    }
    message = build_message(
        app.renderer.render("audit_alert", context),
        sender=app.policy.notices.sender,
        to=[operator],
        cc=[],
        message_id=f"audit-alert-{now.astimezone(app.policy.tz).date().isoformat()}",
        date=now,
    )
    backend = app.mail_backend()
    try:
        with backend:
            backend.send(message)
    except Exception as exc:  # the failed check is recorded by the job whatever happens to the mail
        import logging

        logging.getLogger("hazardloop.audit").error("could not alert the operator about the audit: %s", exc)
        return False
    return True
