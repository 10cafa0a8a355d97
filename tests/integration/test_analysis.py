"""The periodic analysis (研判): every figure checked against an independent count in plain Python over the
raw hazards and transitions rows, on a generated data set of a few thousand hazards with known histories
(applied week by week through the intake service, with the escalation sweep run after every week);
as-of exactness; periods; charts. One PostgreSQL run of the figure check."""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.models.core.errors import InvalidInput
from hazardloop.models.core.figures import report_scopes
from hazardloop.models.core.periods import Period, resolve_period
from hazardloop.models.store.analysis import build_figures
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.sweep import sweep
from hazardloop.models.store.tables import HazardRow, TransitionRow
from tests.support.analysis_data import CHECKED_PERIODS, TZ, Loaded, load, scopes_of
from tests.support.factories import detected, event
from tests.support.fixtures import CONFIG_DIR


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    path = tmp_path_factory.mktemp("analysis") / "gen.db"
    started = time.perf_counter()
    loaded = load(f"sqlite:///{path}", 3000, seed=7)
    print(f"\ngenerated {loaded.events} events ({loaded.rejected} rejected) in {time.perf_counter() - started:.1f}s")
    yield loaded
    loaded.app.close()


# --- the independent count -----------------------------------------------------------------------------

_STATE_ACTIONS = {
    "hazard.detected": "detected",
    "routed": "assigned",
    "hazard.assigned": "assigned",
    "hazard.reassigned": "assigned",
    "hazard.acknowledged": "rectifying",
    "rectification.submitted": "pending_verification",
    "verification.failed": "rectifying",
    "verification.passed": "cleared",
    "hazard.invalidated": "invalid",
}
_RANK = {"township": 1, "county": 2, "city": 3}


@dataclass
class Raw:
    hazards: list[Any]
    history: dict[str, list[Any]]
    listings: list[Any]
    since: datetime
    counted: dict[tuple[datetime, datetime], dict[str, Counter[str]]] = field(default_factory=dict)


def raw_rows(app: App) -> Raw:
    h, t = HazardRow.__table__, TransitionRow.__table__
    with unit_of_work(app.engine, write=False) as conn:
        hazards = list(conn.execute(select(h.c.id, h.c.title, h.c.township_code, h.c.county_code, h.c.field,
                                           h.c.severity, h.c.detected_at)))  # fmt: skip
        transitions = list(conn.execute(select(t)))
    history: dict[str, list[Any]] = defaultdict(list)
    listings = []
    for r in transitions:
        if r.hazard_id:
            history[r.hazard_id].append(r)
        elif r.action in ("township.listed", "township.delisted"):
            listings.append(r)
    for rows in history.values():
        rows.sort(key=lambda r: (r.at, r.id))
    listings.sort(key=lambda r: (r.at, r.id))
    return Raw(hazards, history, listings, min(r.at for r in transitions))


@dataclass
class AsOf:
    state: str
    due: datetime | None
    level: int
    unit: str | None
    cleared_at: datetime | None
    invalid_at: datetime | None


def replay(rows: list[Any], end: datetime) -> AsOf:
    s = AsOf("detected", None, 0, None, None, None)
    for r in rows:
        if r.at >= end:
            break
        d = r.details or {}
        if r.action in _STATE_ACTIONS:
            s.state = _STATE_ACTIONS[r.action]
        if r.action in ("routed", "hazard.assigned") or (r.action == "extension.decided" and d.get("approved")):
            s.due = datetime.fromisoformat(d["due_at"])  # the deadline set last is the one in force
        if r.action in ("routed", "hazard.assigned", "hazard.reassigned"):
            s.unit = d["unit"]
        if r.action in ("elevated", "hazard.escalated"):
            s.level = max(s.level, _RANK[r.level])
        if r.action == "verification.passed":
            s.cleared_at = r.at
        if r.action == "hazard.invalidated":
            s.invalid_at = r.at
    return s


def count(raw: Raw, start: datetime, end: datetime) -> dict[str, Counter[str]]:
    """hazard id -> the counters it contributes to the period (by plain replay)."""
    if (start, end) not in raw.counted:
        raw.counted[(start, end)] = _count(raw, start, end)
    return raw.counted[(start, end)]


def _count(raw: Raw, start: datetime, end: datetime) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for hz in raw.hazards:
        if hz.detected_at >= end:
            continue
        rows = raw.history[hz.id]
        s = replay(rows, end)
        c: Counter[str] = Counter()
        c["new"] = int(hz.detected_at >= start)
        cleared = s.cleared_at is not None and s.cleared_at >= start
        c["cleared"] = int(cleared)
        c["invalidated"] = int(s.invalid_at is not None and s.invalid_at >= start)
        is_open = s.state not in ("cleared", "invalid")
        c["open"] = int(is_open)
        c["open_major"] = int(is_open and hz.severity == "major")
        c["unrouted"] = int(is_open and s.state == "detected")
        c["pending_verification"] = int(is_open and s.state == "pending_verification")
        overdue = is_open and s.state in ("assigned", "rectifying") and s.due is not None and s.due < end
        c["overdue"] = int(overdue)
        c["overdue_major"] = int(overdue and hz.severity == "major")
        c["on_time"] = int(cleared and s.due is not None and s.cleared_at <= s.due)  # type: ignore[operator]
        # the verifier's lateness: waiting at the end, past the verification deadline of the latest submission
        submissions = [r for r in rows if r.action == "rectification.submitted" and r.at < end]
        verify_due = (submissions[-1].details or {}).get("verify_due_at") if submissions else None
        c["verification_overdue"] = int(
            is_open
            and s.state == "pending_verification"
            and verify_due is not None
            and datetime.fromisoformat(verify_due) < end
        )
        for lvl, rank in _RANK.items():
            c[f"open_level_{lvl}"] = int(is_open and s.level == rank)
        for r in rows:
            if not start <= r.at < end:
                continue
            a = r.action
            c["returned"] += a == "verification.failed"
            c["extensions_requested"] += a == "extension.requested"
            c["extensions_decided"] += a == "extension.decided"
            c["extensions_granted"] += a == "extension.decided" and bool((r.details or {}).get("approved"))
            c["reassignments"] += a == "hazard.reassigned"
            c["reminders"] += a == "reminded"
            c["supervisions"] += a == "supervised"
            if a in ("elevated", "hazard.escalated"):
                c[f"escalated_{r.level}"] += 1
            c["escalated_manual"] += a == "hazard.escalated"
        out[hz.id] = c
    return out


def rates(c: Counter[str]) -> dict[str, Any]:
    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "clearance_rate": ratio(c["cleared"], c["cleared"] + c["open"]),
        "on_time_rate": ratio(c["on_time"], c["cleared"]),
        "rework_rate": ratio(c["returned"], c["returned"] + c["cleared"]),
        "extensions_refused": c["extensions_decided"] - c["extensions_granted"],
    }


COUNTED = (
    "new", "cleared", "invalidated", "open", "open_major", "unrouted", "pending_verification", "overdue",
    "overdue_major", "on_time", "returned", "extensions_requested", "extensions_granted", "reassignments",
    "reminders", "supervisions", "verification_overdue",
)  # fmt: skip


def assert_counts(row: dict[str, Any], c: Counter[str], where: str) -> None:
    for key in COUNTED:
        assert row[key] == c[key], f"{where}: {key} is {row[key]}, counted {c[key]}"
    for key, value in rates(c).items():
        assert row[key] == value, f"{where}: {key} is {row[key]}, counted {value}"
    for lvl in _RANK:
        assert row["escalations"][lvl] == c[f"escalated_{lvl}"], f"{where}: escalations to {lvl}"
        assert row["open_by_level"][lvl] == c[f"open_level_{lvl}"], f"{where}: open at {lvl} level"
    assert row["escalations"]["manual"] == c["escalated_manual"], where


def in_scope(scope: dict[str, str], hz: Any) -> bool:
    if scope["level"] == "city":
        return True
    if scope["level"] == "county":
        return hz.county_code == scope["code"]
    return hz.township_code == scope["code"]


def check_scope(app: App, raw: Raw, period: Period, figures: dict[str, Any]) -> None:
    start, end = period.start(TZ), period.end(TZ)
    per_hazard = count(raw, start, end)
    scope = figures["scope"]
    mine = [hz for hz in raw.hazards if hz.id in per_hazard and in_scope(scope, hz)]
    where = f"{period.label} {scope['code']}"

    total: Counter[str] = Counter()
    by_field: dict[str, Counter[str]] = defaultdict(Counter)
    by_town: dict[str, Counter[str]] = defaultdict(Counter)
    by_county: dict[str, Counter[str]] = defaultdict(Counter)
    for hz in mine:
        c = per_hazard[hz.id]
        total.update(c)
        by_field[hz.field].update(c)
        by_town[hz.township_code].update(c)
        by_county[hz.county_code].update(c)
    assert_counts(figures["totals"], total, where)
    assert sum(total.values()) > 0 or scope["level"] == "township"
    for row in figures["by_field"]:
        assert_counts(row, by_field[row["code"]], f"{where} field {row['code']}")
    assert {r["code"] for r in figures["by_field"]} >= set(by_field)
    for row in figures["by_township"]:
        assert_counts(row, by_town[row["code"]], f"{where} township {row['code']}")
    assert {r["code"] for r in figures["by_township"]} >= set(by_town)
    if scope["level"] == "city":
        for row in figures["by_county"]:
            assert_counts(row, by_county[row["code"]], f"{where} county {row['code']}")

    # rankings: townships with at least min_base hazards in the rate's base, by rate, then fewer overdue
    base = figures["rankings"]["min_base"]
    eligible = [r for r in figures["by_township"] if by_town[r["code"]]["cleared"] + by_town[r["code"]]["open"] >= base]
    expected = sorted(eligible, key=lambda r: (-(rates(by_town[r["code"]])["clearance_rate"] or 0),
                                               by_town[r["code"]]["overdue"], r["code"]))  # fmt: skip
    n_worst = min(5, len(expected) // 2)  # best and worst never overlap
    n_best = min(5, len(expected) - n_worst)
    # a township that cleared nothing is never among the best
    best = [r["code"] for r in expected[:n_best] if rates(by_town[r["code"]])["clearance_rate"]]
    assert [r["code"] for r in figures["rankings"]["clearance_best"]] == best
    worst = [r["code"] for r in expected[::-1][:n_worst]]
    assert [r["code"] for r in figures["rankings"]["clearance_worst"]] == worst
    most = sorted((t for t in by_town if by_town[t]["overdue"]), key=lambda t: (-by_town[t]["overdue"], t))[:5]
    assert [r["code"] for r in figures["rankings"]["overdue_most"]] == most

    # listings in the period and at its end
    last: dict[str, str] = {}
    listed = delisted = 0
    for r in raw.listings:
        if r.at >= end or not in_scope(scope, _Town(r.township_code, app)):
            continue
        last[r.township_code] = r.action
        if r.at >= start:
            listed += r.action == "township.listed"
            delisted += r.action == "township.delisted"
    assert figures["totals"]["townships_listed"] == listed, where
    assert figures["totals"]["townships_delisted"] == delisted, where
    assert figures["totals"]["townships_under_listing"] == sum(a == "township.listed" for a in last.values())

    # the ten oldest open hazards at the end, with their state then
    open_ones = sorted((hz for hz in mine if per_hazard[hz.id]["open"]), key=lambda hz: (hz.detected_at, hz.id))[:10]
    assert [h["id"] for h in figures["oldest_open"]] == [hz.id for hz in open_ones], where
    for item, hz in zip(figures["oldest_open"], open_ones, strict=True):
        s = replay(raw.history[hz.id], end)
        assert item["state"] == s.state
        assert item["unit"] == s.unit
        assert item["due_on"] == (s.due.astimezone(TZ).date().isoformat() if s.due else None)
        assert item["overdue"] == bool(per_hazard[hz.id]["overdue"])
        assert item["level"] == {0: "none", 1: "township", 2: "county", 3: "city"}[s.level]

    # comparisons: the same counts over the previous period and a year before
    for key, other in (("previous", period.previous()), ("last_year", period.year_before())):
        comp = figures["comparisons"][key]
        if raw.since >= other.end(TZ):
            assert comp is None, f"{where}: no data reach back to {other.label}"
            continue
        counts = count(raw, other.start(TZ), other.end(TZ))
        base_total: Counter[str] = Counter()
        for hz in raw.hazards:
            if hz.id in counts and in_scope(scope, hz):
                base_total.update(counts[hz.id])
        assert comp["period"]["label"] == other.label
        assert comp["partial"] == (raw.since > other.start(TZ))
        for k in ("new", "cleared", "invalidated", "open", "overdue", "overdue_major"):
            assert comp["totals"][k] == base_total[k], f"{where}: {key} {k}"
            assert comp["change"][k] == total[k] - base_total[k]
        assert comp["totals"]["clearance_rate"] == rates(base_total)["clearance_rate"]

    # the trend: new, cleared and open at the end of each of the last periods
    trend = figures["trend"]
    assert trend["periods"][-1] == period.label
    for i, label in enumerate(trend["periods"]):
        p = Period.parse(period.kind, label)
        counts = count(raw, p.start(TZ), p.end(TZ))
        agg: Counter[str] = Counter()
        for hz in raw.hazards:
            if hz.id in counts and in_scope(scope, hz):
                agg.update(counts[hz.id])
        assert (trend["new"][i], trend["cleared"][i], trend["open"][i]) == (agg["new"], agg["cleared"], agg["open"])


@dataclass
class _Town:
    township_code: str
    county_code: str | None

    def __init__(self, code: str, app: App) -> None:
        county = app.tree.county_of(code)
        self.township_code, self.county_code = code, county.code if county else None


# --- the tests -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(data: Loaded) -> Raw:
    return raw_rows(data.app)


@pytest.mark.parametrize(("kind", "label"), CHECKED_PERIODS)
def test_every_figure_equals_an_independent_count(data: Loaded, raw: Raw, kind: str, label: str) -> None:
    app = data.app
    period = Period.parse(kind, label)
    started = time.perf_counter()
    with unit_of_work(app.engine, write=False) as conn:
        figures = build_figures(conn, app.rules, period, scopes_of(app))
    elapsed = time.perf_counter() - started
    print(f"\n{kind} {label}: {len(figures)} scopes built in {elapsed:.3f}s")
    assert len(raw.hazards) == 3000
    for fig in figures.values():
        check_scope(app, raw, period, fig)
    city = figures["SX"]["totals"]
    # the data set exercises every figure
    if kind in ("monthly", "quarterly"):
        for key in ("new", "cleared", "invalidated", "open", "overdue", "on_time", "returned",
                    "extensions_requested", "extensions_granted", "reminders", "supervisions"):  # fmt: skip
            assert city[key] > 0, key
        assert city["escalations"]["total"] > 0 and city["escalations"]["manual"] > 0
        assert figures["SX"]["rankings"]["ranked"] >= 10


def test_the_balance_of_open_hazards_holds_period_to_period(data: Loaded) -> None:
    app = data.app
    with unit_of_work(app.engine, write=False) as conn:
        sep = build_figures(conn, app.rules, Period.parse("monthly", "2025-09"), report_scopes(app.rules))
        aug = build_figures(conn, app.rules, Period.parse("monthly", "2025-08"), report_scopes(app.rules))
    for code, fig in sep.items():
        t = fig["totals"]
        assert t["open"] == aug[code]["totals"]["open"] + t["new"] - t["cleared"] - t["invalidated"], code
    assert sum(f["totals"]["new"] for c, f in sep.items() if c != "SX") == sep["SX"]["totals"]["new"]


def test_a_report_built_later_equals_the_one_built_when_the_period_ended(data: Loaded) -> None:
    app = data.app
    assert data.early, "the reports were built at the cut-off"
    with unit_of_work(app.engine, write=False) as conn:
        for (kind, label), early in data.early.items():
            later = build_figures(conn, app.rules, Period.parse(kind, label), scopes_of(app))
            for code in early:
                assert later[code] == early[code], f"{kind} {label} {code} changed after the period"
    # and the data did change after the cut-off: the figures above were not trivially frozen
    with unit_of_work(app.engine, write=False) as conn:
        october = build_figures(conn, app.rules, Period.parse("monthly", "2025-10"), report_scopes(app.rules))
    assert october["SX"]["totals"]["cleared"] > 0


def test_county_reports_rank_their_county_among_its_peers(data: Loaded) -> None:
    app = data.app
    with unit_of_work(app.engine, write=False) as conn:
        figures = build_figures(conn, app.rules, Period.parse("monthly", "2025-09"), report_scopes(app.rules))
    city_counties = {r["code"]: r for r in figures["SX"]["by_county"]}
    for code, fig in figures.items():
        if code == "SX":
            assert fig["county_rank"] is None
            continue
        rank = fig["county_rank"]
        peers = rank["peers"]
        assert [p["rank"] for p in peers] == list(range(1, len(peers) + 1))
        rates_ = [p["clearance_rate"] for p in peers]
        assert rates_ == sorted(rates_, reverse=True)
        assert fig["totals"]["clearance_rate"] == city_counties[code]["clearance_rate"]
        if rank["rank"] is not None:
            assert peers[rank["rank"] - 1]["code"] == code
        assert all(r["county"] == fig["scope"]["name"] for r in fig["by_township"])


def test_a_verification_failed_after_the_deadline_does_not_rewrite_a_closed_period(tmp_path: Path) -> None:
    """The hazard waited for verification across its deadline and was returned after the period: the sweep's
    supervision and elevation that follow are dated when the sweep acts, so they belong to the later period."""
    app = bootstrap(db=f"sqlite:///{tmp_path / 'late.db'}", config_dir=CONFIG_DIR)
    upgrade(app.engine)
    sync_units(app.engine, app.org)

    def apply(events: list[dict[str, Any]], now: str) -> None:
        at = datetime.fromisoformat(now)
        lines = [(i + 1, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(events)]
        apply_lines(app.engine, app.rules, lines, source="t", now=at)
        sweep(app.engine, app.rules, at)

    unit = "SX-YC-XF"
    apply(
        [
            detected("LATE-1", "2025-09-01T09:00:00+08:00"),
            event("hazard.acknowledged", "LATE-1", "2025-09-01T10:00:00+08:00", unit),
            event("rectification.submitted", "LATE-1", "2025-09-05T10:00:00+08:00", unit, note="x", evidence=[]),
        ],
        "2025-10-01T08:00:00+08:00",
    )
    september = Period.parse("monthly", "2025-09")
    with unit_of_work(app.engine, write=False) as conn:
        before = build_figures(conn, app.rules, september, report_scopes(app.rules))["SX"]
    apply([event("verification.failed", "LATE-1", "2025-10-02T10:00:00+08:00", "SX-YC-FS", reason="不合格")],
          "2025-10-02T12:00:00+08:00")  # fmt: skip
    with unit_of_work(app.engine, write=False) as conn:
        after = build_figures(conn, app.rules, september, report_scopes(app.rules))["SX"]
    app.close()
    assert after == before


# --- periods -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "label", "first", "last", "title"),
    [
        ("daily", "2025-09-14", date(2025, 9, 14), date(2025, 9, 14), "2025年9月14日"),
        ("weekly", "2025-W38", date(2025, 9, 15), date(2025, 9, 21), "2025年第38周"),
        ("monthly", "2025-09", date(2025, 9, 1), date(2025, 9, 30), "2025年9月"),
        ("quarterly", "2025-Q3", date(2025, 7, 1), date(2025, 9, 30), "2025年第三季度"),
        ("weekly", "2026-W01", date(2025, 12, 29), date(2026, 1, 4), "2026年第1周"),
        ("monthly", "2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024年2月"),
    ],
)
def test_periods_parse_and_print(kind: str, label: str, first: date, last: date, title: str) -> None:
    p = Period.parse(kind, label)
    assert (p.first, p.last, p.label, p.title) == (first, last, label, title)
    assert p.end(TZ) - p.start(TZ) == timedelta(days=(last - first).days + 1)
    assert p.previous().last == first - timedelta(days=1)


def test_the_default_period_is_the_last_complete_one_in_the_policy_time_zone() -> None:
    # 2025-10-01 01:00 in Shanghai is still 2025-09-30 in UTC: the periods follow the policy's zone.
    now = datetime(2025, 9, 30, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert resolve_period("daily", now, TZ).label == "2025-09-30"
    assert resolve_period("weekly", now, TZ).label == "2025-W39"
    assert resolve_period("monthly", now, TZ).label == "2025-09"
    assert resolve_period("quarterly", now, TZ).label == "2025-Q3"


def test_same_period_last_year_handles_leap_days_and_week_53() -> None:
    assert Period.parse("daily", "2024-02-29").year_before().label == "2023-02-28"
    assert Period.parse("weekly", "2021-W01").year_before().label == "2020-W01"
    assert Period.parse("weekly", "2021-W53".replace("2021", "2020")).year_before().label == "2019-W52"
    assert Period.parse("quarterly", "2025-Q1").year_before().label == "2024-Q1"


@pytest.mark.parametrize(
    ("kind", "label"),
    [("yearly", None), ("monthly", "2025-13"), ("weekly", "2025-09"), ("quarterly", "2025-Q5"), ("daily", "x")],
)
def test_a_bad_period_is_invalid_input(kind: str, label: str | None) -> None:
    with pytest.raises(InvalidInput):
        resolve_period(kind, datetime(2025, 10, 13, tzinfo=TZ), TZ, label)


def test_a_period_that_has_not_ended_is_refused() -> None:
    with pytest.raises(InvalidInput, match="has not ended"):
        resolve_period("monthly", datetime(2025, 10, 13, tzinfo=TZ), TZ, "2025-10")


# --- charts --------------------------------------------------------------------------------------------


def test_charts_are_real_pngs_with_chinese_labels(data: Loaded, tmp_path: Path) -> None:
    from hazardloop.notifications.charts import CHART_TITLES, cjk_font, render_charts

    app = data.app
    with unit_of_work(app.engine, write=False) as conn:
        figures = build_figures(conn, app.rules, Period.parse("monthly", "2025-09"), report_scopes(app.rules))
    assert "CJK" in cjk_font()
    for code in ("SX", "SX-YC"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.perf_counter()
            pngs = render_charts({**figures[code], "charts": list(CHART_TITLES)})
            print(f"\ncharts for {code} drawn in {time.perf_counter() - started:.2f}s")
        missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
        assert not missing, missing
        assert set(pngs) == set(CHART_TITLES)
        for name, png in pngs.items():
            assert png[:8] == b"\x89PNG\r\n\x1a\n", name
            assert len(png) > 15_000, f"{name} is only {len(png)} bytes"
            (tmp_path / f"{code}-{name}.png").write_bytes(png)


def test_charts_of_an_empty_period_still_draw() -> None:
    from hazardloop.notifications.charts import render_charts

    empty = {
        "scope": {"name": "绍兴市"},
        "period": {"title": "2025年9月"},
        "trend": {"labels": ["2025-09"], "new": [0], "cleared": [0], "open": [0]},
        "by_township": [],
        "rankings": {"min_base": 5},
        "charts": ["trend", "overdue_by_township", "clearance_ranking"],
    }
    for png in render_charts(empty).values():
        assert png.startswith(b"\x89PNG")


# --- PostgreSQL ----------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_every_figure_equals_an_independent_count_on_postgresql(pg_url: str) -> None:
    loaded = load(pg_url, 1000, seed=11, early=False)
    try:
        app = loaded.app
        raw = raw_rows(app)
        for kind, label in (("monthly", "2025-09"), ("weekly", "2025-W38")):
            period = Period.parse(kind, label)
            started = time.perf_counter()
            with unit_of_work(app.engine, write=False) as conn:
                figures = build_figures(conn, app.rules, period, scopes_of(app))
            print(f"\npostgresql {kind} {label}: built in {time.perf_counter() - started:.3f}s")
            for fig in figures.values():
                check_scope(app, raw, period, fig)
            assert figures["SX"]["totals"]["overdue"] > 0
    finally:
        loaded.app.close()
