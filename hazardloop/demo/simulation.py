"""The demo: a simulated year of a city's hazard work, played day by day through the real code paths.

Detections (grid patrols, the 12345 hotline, sensors, 25 special-campaign batches) and people's actions
(acknowledging, asking for extensions, rectifying, verifying — with some rework, some reassignments, some
reports found invalid) are generated as contract events and applied in daily batches with ``--now`` moved
forward, never by sleeping. Each morning the escalation sweep and the notice dispatch run as the scheduler
would run them; the analysis runs on its schedule. A few townships are chronically slower than the rest,
so the ladder and township listing have work to do.

Mail: the notices of the last 31 simulated days go through the real dispatch (rendered, built and written
as ``.eml`` files to the mail folder). Earlier notices are marked sent to the demo's sink without being
rendered — a year of individual notices is more than a person can browse and would take most of the demo's
time to render — so the folder stays a size a person can read. The charts of that window's reports are drawn
ahead, in worker processes, while the rest of the simulated day is played (``charts_ahead``).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.demo import content
from hazardloop.demo.charts_ahead import ChartsAhead
from hazardloop.demo.readings import ReadingFeed, raised
from hazardloop.models.core.calendar import WorkingCalendar
from hazardloop.models.core.policy import Unit
from hazardloop.models.store.db import without_disk_sync
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.outbox import SqlOutbox
from hazardloop.models.store.sweep import sweep
from hazardloop.notifications.dispatch import dispatch
from hazardloop.notifications.mailers import FileBackend


def deliver_to_sink(engine: Any, now: datetime) -> int:
    """Mark every pending notice sent, unrendered: the simulated months' mail goes nowhere."""
    from sqlalchemy import update

    from hazardloop.models.store.db import unit_of_work
    from hazardloop.models.store.tables import NoticeRow

    table = NoticeRow.__table__
    with unit_of_work(engine) as conn:
        result = conn.execute(
            update(table)
            .where(table.c.status == "pending")
            .values(status="sent", sent_at=now, attempts=table.c.attempts + 1, last_error="demo: delivered to the sink")
        )
        return result.rowcount or 0


@dataclass
class DemoSettings:
    year: int = 2025
    days: int = 365
    seed: int = 2025
    hazards_per_year: int = 36_500
    mail_days: int = 31
    report_dir: Path = Path("reports")
    # The demo's database and mail folder are made afresh for it (it refuses a database with hazards) and are
    # worth nothing after a crash of the machine: writes need not wait for the disk (SQLite's fsync at each
    # checkpoint; one fsync per mail file, 15,500 files at some milliseconds each on a busy disk). Transactions
    # stay whole either way, so what the demo shows is what the engine does.
    durable: bool = False


@dataclass
class DemoResult:
    days: int
    events: int = 0
    rejected: int = 0
    sweeps: int = 0
    readings: int = 0
    mailed: int = 0
    counted: int = 0
    reports: list[str] = field(default_factory=list)
    report_files: list[Path] = field(default_factory=list)
    slow_townships: list[str] = field(default_factory=list)


class Planner:
    """Plans each hazard's whole life at detection, as dated events in per-day buckets."""

    def __init__(self, app: App, settings: DemoSettings) -> None:
        self.app, self.s = app, settings
        self.rng = random.Random(settings.seed)
        self.cal: WorkingCalendar = app.rules.calendar
        self.tz = app.policy.tz
        self.tree = app.tree
        self.buckets: dict[date, list[tuple[datetime, int, dict[str, Any]]]] = defaultdict(list)
        self.seq = 0
        self.townships = [u for u in self.tree.townships()]
        weights = [self.rng.lognormvariate(0, 0.5) for _ in self.townships]
        self.township_weights = weights
        slow_count = max(2, len(self.townships) // 5)
        self.slow = set(u.code for u in self.rng.sample(self.townships, slow_count))
        self.listed: set[str] = set()  # listed townships pull themselves together while listed
        self.villages: dict[str, list[Unit]] = defaultdict(list)
        for unit in self.tree.units.values():
            if unit.level == "village" and unit.parent:
                self.villages[unit.parent].append(unit)
        fields = [f for f in content.FIELD_WEIGHTS if f in app.policy.fields]
        self.fields, self.field_weights = fields, [content.FIELD_WEIGHTS[f] for f in fields]
        self.campaigns = [c for c in content.campaign_plan(self.rng, settings.year) if c.field in app.policy.fields]
        # with indicators configured, monitoring-point hazards come from the points' readings, not from people
        sources = [s for s in content.SOURCES if s != "monitoring" or not app.indicators.points]
        self.sources, self.source_weights = sources, [content.SOURCE_WEIGHTS.get(s, 1.0) for s in sources]
        self.counter = 0
        # Detections a working day, so that the year (with campaigns) totals about hazards_per_year.
        campaign_total = sum(c.intensity * c.weeks * 5 for c in self.campaigns)
        working = sum(1 for i in range(365) if self.cal.is_working_day(date(settings.year, 1, 1) + timedelta(i)))
        self.base_rate = max(1.0, (settings.hazards_per_year - campaign_total) / (working + 0.3 * (365 - working)))

    # --- time helpers -----------------------------------------------------------------------------------
    def at(self, day: date, hour: float) -> datetime:
        minutes = int(hour * 60)
        return datetime.combine(day, time(min(minutes // 60, 23), minutes % 60), tzinfo=self.tz)

    def workday(self, day: date, n: int) -> date:
        return self.cal.add_working_days(day, n) if n > 0 else day

    def add(self, when: datetime, event: dict[str, Any]) -> None:
        self.seq += 1
        event["at"] = when.isoformat()
        event["event_id"] = f"demo-{self.seq}"
        self.buckets[when.date()].append((when, self.seq, event))

    # --- one day of detections ----------------------------------------------------------------------------
    def detections_for(self, day: date) -> None:
        rng = self.rng
        rate = self.base_rate * (1.0 if self.cal.is_working_day(day) else 0.3)
        count = _poisson(rng, rate)
        for _ in range(count):
            self._detect(day, rng.choices(self.fields, self.field_weights)[0], None)
        for campaign in self.campaigns:
            if campaign.covers(day) and self.cal.is_working_day(day):
                for _ in range(_poisson(rng, campaign.intensity)):
                    self._detect(day, campaign.field, campaign)

    def _detect(self, day: date, field_code: str, campaign: Any) -> None:
        rng = self.rng
        township = rng.choices(self.townships, self.township_weights)[0]
        villages = self.villages.get(township.code)
        village = rng.choice(villages) if villages and rng.random() < 0.5 else None
        title, description = content.hazard_text(rng, field_code, (village or township).name)
        self.counter += 1
        ref = f"SX-{self.s.year}-{self.counter:06d}"
        source = "campaign" if campaign else rng.choices(self.sources, self.source_weights)[0]
        severity = "major" if rng.random() < 0.04 else "general"
        detected_at = self.at(day, rng.uniform(8, 18))
        hazard: dict[str, Any] = {
            "ref": ref,
            "title": title,
            "description": description,
            "field": field_code,
            "severity": severity,
            "township": township.name,
            "source": content.SOURCES[source],
        }
        if village:
            hazard["village"] = village.name
        if campaign:
            hazard["campaign"] = campaign.name
        reporter = (village or township).code + "/" + content.person_name(rng)
        self.add(detected_at, {"type": "hazard.detected", "actor": reporter, "hazard": hazard})
        self._plan_life(ref, township, field_code, severity, detected_at)

    def _plan_life(
        self,
        ref: str,
        township: Unit,
        field_code: str,
        severity: str,
        detected_at: datetime,
        unit: Unit | None = None,  # who the hazard was assigned to, when not by routing (an indicator's unit)
    ) -> None:
        rng, tree = self.rng, self.tree
        slow = township.code in self.slow and township.code not in self.listed
        day = detected_at.date()
        unit = unit or tree.route(field_code, township.code)
        county = tree.county_of(township.code)
        verifier = township if unit.code != township.code else (county or tree.city)
        if rng.random() < 0.02:
            when = self.at(self.workday(day, rng.randint(1, 3)), rng.uniform(9, 17))
            self.add(
                when,
                {
                    "type": "hazard.invalidated",
                    "actor": township.code,
                    "hazard": ref,
                    "reason": content.invalid_reason(rng),
                },
            )
            return
        cursor = day
        if rng.random() < 0.015:
            new_unit = township if unit.code != township.code else None
            if new_unit is not None:
                cursor = self.workday(day, 1)
                self.add(
                    self.at(cursor, 9.5),
                    {
                        "type": "hazard.reassigned",
                        "actor": township.code,
                        "hazard": ref,
                        "unit": new_unit.code,
                        "reason": content.reassign_reason(rng),
                    },
                )
                unit = new_unit
                verifier = county or tree.city
        deadline_days = self.app.policy.deadline_days(field_code, severity)
        ack_day = self.workday(cursor, rng.choice((0, 0, 1, 1, 2, 3) if slow else (0, 0, 0, 1, 1)))
        acked = max(self.at(ack_day, rng.uniform(10, 17.5)), detected_at + timedelta(minutes=rng.randint(10, 40)))
        self.add(acked, {"type": "hazard.acknowledged", "actor": unit.code, "hazard": ref})
        late = rng.random() < (0.45 if slow else 0.06)
        if late:
            submit_offset = deadline_days + rng.randint(1, 14 if slow else 6)
        else:
            submit_offset = rng.randint(max(1, deadline_days // 4), max(1, deadline_days - 1))
        floor = ack_day
        if rng.random() < (0.08 if slow else 0.04):
            ask = self.workday(ack_day, 1)
            self.add(
                self.at(ask, 10),
                {
                    "type": "extension.requested",
                    "actor": unit.code,
                    "hazard": ref,
                    "days": rng.choice((3, 5, 7, 10)),
                    "reason": content.extension_reason(rng, field_code),
                },
            )
            approved = rng.random() < 0.8
            self.add(
                self.at(self.workday(ask, 1), 11),
                {
                    "type": "extension.decided",
                    "actor": verifier.code,
                    "hazard": ref,
                    "approved": approved,
                    "reason": "同意延期，请按新期限整改到位" if approved else "理由不充分，不予延期",
                },
            )
            floor = self.workday(ack_day, 3)
        submit_day = max(self.workday(day, submit_offset), floor)
        submitted = max(self.at(submit_day, rng.uniform(9, 17)), acked + timedelta(minutes=30))
        self._rectify(ref, unit, verifier, field_code, submitted, rng.random() < (0.2 if slow else 0.08))

    def _rectify(self, ref: str, unit: Unit, verifier: Unit, field_code: str, submitted: datetime, fail: bool) -> None:
        rng = self.rng
        self.add(
            submitted,
            {
                "type": "rectification.submitted",
                "actor": unit.code,
                "hazard": ref,
                "note": content.rectification_note(rng, field_code),
                "evidence": content.evidence_refs(rng, ref),
            },
        )
        check = self.at(self.workday(submitted.date(), rng.choice((1, 1, 2))), rng.uniform(9, 17))
        actor = f"{verifier.code}/{content.person_name(rng)}"
        if fail:
            self.add(
                check,
                {
                    "type": "verification.failed",
                    "actor": actor,
                    "hazard": ref,
                    "reason": content.return_reason(rng, field_code),
                },
            )
            again = self.at(self.workday(check.date(), rng.randint(2, 4)), rng.uniform(9, 17))
            self._rectify(ref, unit, verifier, field_code, again, False)
            return
        self.add(
            check,
            {"type": "verification.passed", "actor": actor, "hazard": ref, "note": content.verification_note(rng)},
        )

    def take(self, day: date) -> list[tuple[int, str]]:
        items = sorted(self.buckets.pop(day, []), key=lambda t: (t[0], t[1]))
        return [(i + 1, json.dumps(e, ensure_ascii=False)) for i, (_, _, e) in enumerate(items)]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation keeps it quick for busy days
        return max(0, round(rng.gauss(lam, lam**0.5)))
    threshold, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < threshold:
            return k
        k += 1


def simulate(
    app: App,
    settings: DemoSettings,
    *,
    mail_dir: Path,
    progress: Callable[[date], None] | None = None,
    write_reports: bool = True,
) -> DemoResult:
    """Play ``settings.days`` days from January 1st through the engine."""
    planner = Planner(app, settings)
    result = DemoResult(days=settings.days, slow_townships=sorted(planner.slow))
    if not settings.durable:
        without_disk_sync(app.engine)
    files = FileBackend(mail_dir, durable=settings.durable)
    feed = ReadingFeed(app, settings.seed) if app.indicators.points else None
    ahead = ChartsAhead(app.engine)
    try:
        _play(app, settings, planner, result, files, feed, ahead, progress=progress, write_reports=write_reports)
    finally:
        ahead.close()
    return result


def _play(
    app: App,
    settings: DemoSettings,
    planner: Planner,
    result: DemoResult,
    files: FileBackend,
    feed: ReadingFeed | None,
    ahead: ChartsAhead,
    *,
    progress: Callable[[date], None] | None,
    write_reports: bool,
) -> None:
    first = date(settings.year, 1, 1)
    last = first + timedelta(days=settings.days - 1)
    for offset in range(settings.days):
        day = first + timedelta(days=offset)
        morning = planner.at(day, 8)
        sweep(app.engine, app.rules, morning, batch_size=app.settings.sweep_batch_size)
        result.sweeps += 1
        if (last - day).days < settings.mail_days:
            ahead.collect()
            result.mailed += dispatch(
                SqlOutbox(app.engine), app.rules, files, app.renderer, morning, delivery=app.delivery, clock=app.clock
            ).sent
        else:
            result.counted += deliver_to_sink(app.engine, morning)
        if write_reports:
            _scheduled_reports(app, day, morning, in_window=(last - day).days < settings.mail_days, result=result)
            if (last - day).days <= settings.mail_days:  # mailed the next morning, or after the last day
                ahead.start()
        planner.listed = _listed(app)
        if day.weekday() == 0:
            _confirm_delistings(app, planner, morning, result)
        planner.detections_for(day)
        if feed is not None:  # the monitoring points' readings of the day; a breach's hazard is worked on too
            read = feed.feed(day)
            result.readings += read.readings
            for h in raised(app, read.hazards):
                township, unit = app.tree.get(h.township_code), app.tree.get(h.unit_code)
                detected_at = h.detected_at.astimezone(app.policy.tz)
                planner._plan_life(h.ref, township, h.field, h.severity, detected_at, unit)
        lines = planner.take(day)
        if lines:
            end = datetime.combine(day, time(23, 59, 59), tzinfo=app.policy.tz)
            applied = apply_lines(app.engine, app.rules, lines, source=f"demo {day.isoformat()}", now=end, partial=True)
            result.events += applied.applied
            result.rejected += len(applied.rejected)
        if progress:
            progress(day)
    # The morning after: the last sweep, the closing month's and quarter's analysis, and their mail.
    after = planner.at(last + timedelta(days=1), 8)
    sweep(app.engine, app.rules, after, batch_size=app.settings.sweep_batch_size)
    result.sweeps += 1
    if write_reports:
        result.report_files = write_closing_reports(app, settings, after, result, ahead)
    ahead.collect()
    result.mailed += dispatch(
        SqlOutbox(app.engine), app.rules, files, app.renderer, after, delivery=app.delivery, clock=app.clock
    ).sent


def _listed(app: App) -> set[str]:
    from sqlalchemy import select

    from hazardloop.models.store.db import unit_of_work
    from hazardloop.models.store.tables import ListingRow

    table = ListingRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        return {r[0] for r in conn.execute(select(table.c.township_code).where(table.c.delisted_at.is_(None)))}


def _confirm_delistings(app: App, planner: Planner, morning: datetime, result: DemoResult) -> None:
    """Monday mornings the city office confirms the delisting the sweep proposed (摘牌 needs a supervisor)."""
    from sqlalchemy import select

    from hazardloop.models.store.db import unit_of_work
    from hazardloop.models.store.tables import ListingRow

    table = ListingRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        proposed = [
            r[0]
            for r in conn.execute(
                select(table.c.township_code).where(
                    table.c.delisted_at.is_(None), table.c.delist_proposed_at.is_not(None)
                )
            )
        ]
    lines = []
    for code in proposed:
        planner.seq += 1
        event = {
            "type": "township.delisted",
            "event_id": f"demo-{planner.seq}",
            "at": morning.isoformat(),
            "actor": f"{app.tree.city.code}/市平安办",
            "township": code,
            "reason": "挂牌问题已整改到位，各项指标恢复正常，经市平安办复核同意摘牌",
        }
        lines.append((len(lines) + 1, json.dumps(event, ensure_ascii=False)))
    if lines:
        applied = apply_lines(app.engine, app.rules, lines, source="demo delisting", now=morning, partial=True)
        result.events += applied.applied
        result.rejected += len(applied.rejected)


def _scheduled_reports(app: App, day: date, morning: datetime, *, in_window: bool, result: DemoResult) -> None:
    """The analysis on its schedule: monthly and quarterly for the city and every county; weekly for the city;
    daily for the city in the mail window only (a year of daily reports would take most of the demo's time)."""
    from hazardloop.flows.reports import run_report
    from hazardloop.models.core.figures import report_scopes, resolve_scope

    city = [resolve_scope(app.rules, app.tree.city.code)]
    due: list[tuple[str, Any]] = []
    if in_window:
        due.append(("daily", city))
    if day.weekday() == 0:
        due.append(("weekly", city))
    if day.day == 1:
        due.append(("monthly", report_scopes(app.rules)))
        if day.month in (1, 4, 7, 10):
            due.append(("quarterly", report_scopes(app.rules)))
    first = date(day.year, 1, 1) if day.month > 1 or day.day > 1 else None
    for kind, scopes in due:
        if first is None:  # nothing happened before the first simulated day
            continue
        run = run_report(app.engine, app.rules, kind, morning, scopes=scopes, indicators=app.indicators)
        result.reports.append(f"{kind} {run.period.label}")


def write_closing_reports(
    app: App, settings: DemoSettings, after: datetime, result: DemoResult, ahead: ChartsAhead | None = None
) -> list[Path]:
    """After the last simulated day: queue and write the last complete month and quarter (city and counties),
    with charts, to the report folder for people to open."""
    from hazardloop.flows.reports import render_report_files, report_key, run_report, stored_context

    runs = []
    for kind in ("monthly", "quarterly"):
        run = run_report(app.engine, app.rules, kind, after, indicators=app.indicators)
        if run.period.first < date(settings.year, 1, 1):
            continue
        result.reports.append(f"{kind} {run.period.label}")
        runs.append((kind, run))
    if ahead is not None:  # every scope's charts, drawn while the city's are awaited for its files
        ahead.start()
        ahead.collect()
    written: list[Path] = []
    for kind, run in runs:
        context = stored_context(app.engine, report_key(run.period, app.tree.city.code))
        if context:
            folder = settings.report_dir / f"{kind}-{run.period.label}"
            written += render_report_files(app.renderer, context, folder)
    return written
