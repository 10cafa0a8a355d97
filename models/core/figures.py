"""The figures of a report period (研判), cut from the counters the store reads: rates, breakdowns, rankings,
comparisons, the trend and the oldest open hazards. Pure: ``models.store.analysis`` reads the counters (one
snapshot per period) and hands them here. The definitions of every figure are in that module's docstring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.lifecycle import CLOCK_RUNNING
from hazardloop.models.core.periods import Period
from hazardloop.models.core.rules import Rules

MIN_RANK_BASE = 5
TOP = 5
OLDEST = 10

ROUTING = ("routed", "hazard.assigned")
ESCALATING = ("elevated", "hazard.escalated")
# Actions that set the hazard's state (the sweep's reminded/supervised/elevated and extensions keep it).
STATE_SETTING = (
    "hazard.detected",
    "routed",
    "hazard.assigned",
    "hazard.acknowledged",
    "hazard.reassigned",
    "rectification.submitted",
    "verification.passed",
    "verification.failed",
    "hazard.invalidated",
)
LEVELS = ("township", "county", "city")
ESCALATION_RANK = {"none": 0, "township": 1, "county": 2, "city": 3}

# Counters summed per (township, county, field) cell; every rate is derived from them.
HAZARD_COUNTS = (
    "new",
    "cleared",
    "invalidated",
    "open",
    "open_major",
    "unrouted",
    "pending_verification",
    "overdue",
    "overdue_major",
    "verification_overdue",
    "on_time",
    "open_level_township",
    "open_level_county",
    "open_level_city",
)
EVENT_COUNTS = (
    "returned",
    "extensions_requested",
    "extensions_decided",
    "extensions_granted",
    "reassignments",
    "reminders",
    "supervisions",
    "escalated_township",
    "escalated_county",
    "escalated_city",
    "escalated_manual",
)
COUNTS = HAZARD_COUNTS + EVENT_COUNTS

Cell = tuple[str, str | None, str]  # (township code, county code, field)


# --- from counters to figures ------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def derive(counts: dict[str, int]) -> dict[str, Any]:
    """The counters of a scope (or a breakdown row) with the rates derived from them."""
    c = dict(counts)
    c["clearance_rate"] = _ratio(c["cleared"], c["cleared"] + c["open"])
    c["on_time_rate"] = _ratio(c["on_time"], c["cleared"])
    c["verifications"] = c["returned"] + c["cleared"]
    c["rework_rate"] = _ratio(c["returned"], c["verifications"])
    c["extensions_refused"] = c["extensions_decided"] - c["extensions_granted"]
    esc = {lvl: c[f"escalated_{lvl}"] for lvl in LEVELS}
    c["escalations"] = {**esc, "total": sum(esc.values()), "manual": c["escalated_manual"]}
    c["open_by_level"] = {
        "none": c["open"] - sum(c[f"open_level_{lvl}"] for lvl in LEVELS),
        **{lvl: c[f"open_level_{lvl}"] for lvl in LEVELS},
    }
    return c


def _sum(cells: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(COUNTS, 0)
    for cell in cells:
        for key in COUNTS:
            total[key] += cell[key]
    return total


@dataclass
class Scope:
    code: str
    name: str
    level: str  # city | county | township

    def holds(self, township: str, county: str | None) -> bool:
        if self.level == "city":
            return True
        if self.level == "county":
            return county == self.code
        return township == self.code

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "level": self.level}


def resolve_scope(rules: Rules, key: str | None) -> Scope:
    tree = rules.tree
    if not key:
        return Scope(tree.city.code, tree.city.name, "city")
    unit = tree.find(key, "--scope", levels=("city", "county", "township", "area"))
    if unit is None or unit.level not in ("city", "county", "township", "area"):
        what = "is not a unit in org.yaml" if unit is None else "is not the city, a county or a township"
        raise InvalidInput([Problem(f"'{key}' {what}", field="--scope")])
    return Scope(unit.code, unit.name, "township" if unit.level == "area" else unit.level)


@dataclass
class Snapshot:
    """Everything computed once for a period, from which every scope's figures are cut."""

    period: Period
    cells: dict[Cell, dict[str, int]]
    listings: list[Any]
    oldest: list[Any]
    previous: dict[Cell, dict[str, int]] | None
    previous_partial: bool
    last_year: dict[Cell, dict[str, int]] | None
    last_year_partial: bool
    trend_periods: list[Period]
    trend: dict[tuple[str | None, str, int], int]
    since: datetime | None


def period_available(period: Period, since: datetime | None, tz: ZoneInfo) -> bool:
    """Whether the audit trail (starting at ``since``) reaches into ``period``: else it has no figures."""
    return since is not None and since < period.end(tz)


_HEADLINE = (
    "new",
    "cleared",
    "invalidated",
    "open",
    "overdue",
    "overdue_major",
    "clearance_rate",
    "on_time_rate",
    "rework_rate",
)


def _compare(current: dict[str, Any], base: dict[str, Any] | None, period: Period, partial: bool) -> Any:
    if base is None:
        return None
    change: dict[str, Any] = {}
    for key in _HEADLINE:
        now_v, then_v = current[key], base[key]
        if now_v is None or then_v is None:
            change[key] = None
        elif key.endswith("_rate"):
            change[key] = round(now_v - then_v, 4)  # percentage points, as a fraction
        else:
            change[key] = now_v - then_v
    pct = {
        k: round((current[k] - base[k]) / base[k], 4) if base[k] else None for k in _HEADLINE if not k.endswith("_rate")
    }
    return {
        "period": period.as_dict(),
        "partial": partial,
        "totals": {k: base[k] for k in _HEADLINE},
        "change": change,
        "change_pct": pct,
    }


def _row(code: str, name: str, counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": name, **extra, **derive(counts)}


def _mark_sample(row: dict[str, Any], min_base: int) -> None:
    """A breakdown row's clearance rate means little from fewer than ``min_base`` hazards (cleared + open): the
    report says 样本不足 instead of a figure such as 0.0 % (the rate stays in the JSON)."""
    row["sample_too_small"] = 0 < row["cleared"] + row["open"] < min_base


def _rank_key(row: dict[str, Any]) -> tuple[float, int, str]:
    return (-(row["clearance_rate"] or 0.0), row["overdue"], row["code"])


def _ranked(rows: list[dict[str, Any]], min_base: int) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r["cleared"] + r["open"] >= min_base), key=_rank_key)


def _brief(row: dict[str, Any], rank: int | None = None) -> dict[str, Any]:
    keys = ("code", "name", "county", "cleared", "open", "overdue", "overdue_major", "clearance_rate")
    out = {k: row.get(k) for k in keys}
    if rank is not None:
        out["rank"] = rank
    return out


class FigureBuilder:
    """Cuts one scope's figures out of a period snapshot."""

    def __init__(self, rules: Rules, snap: Snapshot, min_base: int = MIN_RANK_BASE) -> None:
        self.rules, self.snap, self.min_base = rules, snap, min_base
        self.tree = rules.tree
        self.tz = rules.policy.tz
        self.county_of: dict[str, str | None] = {}
        for township, county, _field in snap.cells:
            self.county_of[township] = county
        for unit in self.tree.townships():
            county = self.tree.county_of(unit.code)
            self.county_of.setdefault(unit.code, county.code if county else None)

    def _name(self, code: str | None) -> str:
        if code is None:
            return "市直"
        unit = self.tree.units.get(code)
        return self.tree.label(unit) if unit else code  # 东县 城关镇 where two townships share the name

    def _scope_cells(self, cells: dict[Cell, dict[str, int]], scope: Scope) -> list[tuple[Cell, dict[str, int]]]:
        return [(k, v) for k, v in cells.items() if scope.holds(k[0], k[1])]

    def _townships(self, scope: Scope) -> list[str]:
        codes = [u.code for u in self.tree.townships() if scope.holds(u.code, self.county_of.get(u.code))]
        extra = sorted({k[0] for k in self.snap.cells if scope.holds(k[0], k[1])} - set(codes))
        return codes + extra

    def _listings(self, scope: Scope) -> dict[str, Any]:
        tz, start = self.tz, self.snap.period.start(self.tz)
        listed: list[dict[str, Any]] = []
        delisted: list[dict[str, Any]] = []
        last: dict[str, Any] = {}
        for r in self.snap.listings:
            if not scope.holds(r.township_code, self.county_of.get(r.township_code)):
                continue
            last[r.township_code] = r
            if r.at >= start:
                item = {
                    "code": r.township_code,
                    "name": self._name(r.township_code),
                    "county": self._name(self.county_of.get(r.township_code)),
                    "on": r.at.astimezone(tz).date().isoformat(),
                    "level": r.level,
                    "reason": r.reason or "",
                }
                (listed if r.action == "township.listed" else delisted).append(item)
        under = [
            {"code": c, "name": self._name(c), "county": self._name(self.county_of.get(c)), "level": r.level}
            for c, r in last.items()
            if r.action == "township.listed"
        ]
        return {"listed": listed, "delisted": delisted, "under_listing": under}

    def oldest_open(self, scopes: Iterable[Scope]) -> dict[str, list[Any]]:
        """Scope code -> its ``OLDEST`` earliest-detected hazards open at the period's end (candidate rows of the
        snapshot); the store replays their states at the end for ``build``."""
        chosen: dict[str, list[Any]] = {}
        for scope in scopes:
            rows = [r for r in self.snap.oldest if scope.holds(r.township_code, r.county_code)]
            rows.sort(key=lambda r: (r.detected_at, r.id))
            chosen[scope.code] = rows[:OLDEST]
        return chosen

    def _oldest(
        self, chosen: Mapping[str, list[Any]], states: Mapping[str, dict[str, Any]]
    ) -> dict[str, list[dict[str, Any]]]:
        end = self.snap.period.end(self.tz)
        fields = self.rules.policy.fields
        end_day = self.snap.period.last + timedelta(days=1)
        out: dict[str, list[dict[str, Any]]] = {}
        for code, rows in chosen.items():
            items = []
            for r in rows:
                s = states[r.id]
                due = s["due_at"]
                running = s["state"] in {str(x) for x in CLOCK_RUNNING}
                overdue = bool(running and due is not None and due < end)
                detected_day = r.detected_at.astimezone(self.tz).date()
                items.append(
                    {
                        "id": r.id,
                        "title": r.title,
                        "field": r.field,
                        "field_name": fields.get(r.field, r.field),
                        "severity": r.severity,
                        "township": self._name(r.township_code),
                        "county": self._name(r.county_code),
                        "detected_on": detected_day.isoformat(),
                        "days_open": (end_day - detected_day).days,
                        "state": s["state"] or "detected",
                        "unit": s["unit"],
                        "unit_name": self._name(s["unit"]) if s["unit"] else "",
                        "due_on": due.astimezone(self.tz).date().isoformat() if due else None,
                        "overdue": overdue,
                        "overdue_days": self.rules.overdue_days_since(due, end) if overdue else 0,
                        "level": s["level"],
                    }
                )
            out[code] = items
        return out

    def _trend(self, scope: Scope, open_end: int) -> dict[str, Any]:
        periods = self.snap.trend_periods
        n = len(periods)
        new, cleared, invalid = [0] * n, [0] * n, [0] * n
        target = {"hazard.detected": new, "verification.passed": cleared, "hazard.invalidated": invalid}
        for (township, action, bucket), count in self.snap.trend.items():
            if township is not None and scope.holds(township, self.county_of.get(township)):
                target[action][bucket] += count
        opens = [0] * n
        running = open_end
        for i in reversed(range(n)):
            opens[i] = running
            running -= new[i] - cleared[i] - invalid[i]
        return {
            "labels": [p.short_title for p in periods],
            "periods": [p.label for p in periods],
            "new": new,
            "cleared": cleared,
            "invalidated": invalid,
            "open": opens,
        }

    def build(
        self, scopes: list[Scope], chosen: Mapping[str, list[Any]], states: Mapping[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Scope code -> figures; ``chosen`` as ``oldest_open(scopes)`` gave it, ``states`` their states at the
        period's end (``replay_states``)."""
        oldest = self._oldest(chosen, states)
        counties = self._county_rows(self.snap.cells)
        ranked_counties = _ranked(counties, self.min_base)
        return {s.code: self._figures(s, oldest[s.code], counties, ranked_counties) for s in scopes}

    def _county_rows(self, cells: dict[Cell, dict[str, int]]) -> list[dict[str, Any]]:
        codes = [u.code for u in self.tree.counties()]
        codes += sorted({k[1] for k in cells if k[1] is not None and k[1] not in codes})
        grouped: dict[str | None, list[dict[str, int]]] = {}
        for key, value in cells.items():
            grouped.setdefault(key[1], []).append(value)
        rows = [_row(c, self._name(c), _sum(grouped.get(c, []))) for c in codes]
        if None in grouped:
            rows.append(_row("", "市直", _sum(grouped[None])))
        for row in rows:
            _mark_sample(row, self.min_base)
        return rows

    def _figures(
        self,
        scope: Scope,
        oldest: list[dict[str, Any]],
        counties: list[dict[str, Any]],
        ranked_counties: list[dict[str, Any]],
    ) -> dict[str, Any]:
        snap, policy = self.snap, self.rules.policy
        mine = self._scope_cells(snap.cells, scope)
        totals = derive(_sum(v for _, v in mine))
        listings = self._listings(scope)
        totals["townships_listed"] = len(listings["listed"])
        totals["townships_delisted"] = len(listings["delisted"])
        totals["townships_under_listing"] = len(listings["under_listing"])

        by_field_cells: dict[str, list[dict[str, int]]] = {}
        by_town_cells: dict[str, list[dict[str, int]]] = {}
        for (township, _county, field), value in mine:
            by_field_cells.setdefault(field, []).append(value)
            by_town_cells.setdefault(township, []).append(value)
        field_codes = list(policy.fields) + sorted(set(by_field_cells) - set(policy.fields))
        by_field = [_row(f, policy.fields.get(f, f), _sum(by_field_cells.get(f, []))) for f in field_codes]
        under = {u["code"] for u in listings["under_listing"]}
        by_township = [
            _row(
                t,
                self._name(t),
                _sum(by_town_cells.get(t, [])),
                county=self._name(self.county_of.get(t)),
                under_listing=t in under,
            )
            for t in self._townships(scope)
        ]
        for row in (*by_field, *by_township):
            _mark_sample(row, self.min_base)
        ranked = _ranked(by_township, self.min_base)
        rank_of = {r["code"]: i + 1 for i, r in enumerate(ranked)}
        for row in by_township:
            row["rank"] = rank_of.get(row["code"])
        # best and worst never overlap: with fewer than 2 x TOP ranked, the lower half is the "worst"
        n_worst = min(TOP, len(ranked) // 2)
        n_best = min(TOP, len(ranked) - n_worst)
        worst = list(reversed(ranked[len(ranked) - n_worst :]))
        most_overdue = sorted((r for r in by_township if r["overdue"] > 0), key=lambda r: (-r["overdue"], r["code"]))
        rankings = {
            "min_base": self.min_base,
            "ranked": len(ranked),
            # a township that cleared nothing is never "among the best", however few were ranked
            "clearance_best": [_brief(r, rank_of[r["code"]]) for r in ranked[:n_best] if r["clearance_rate"]],
            "clearance_worst": [_brief(r, rank_of[r["code"]]) for r in worst],
            "overdue_most": [_brief(r) for r in most_overdue[:TOP]],
        }
        county_rank = None
        if scope.level == "county":
            position = next((i + 1 for i, r in enumerate(ranked_counties) if r["code"] == scope.code), None)
            county_rank = {
                "rank": position,
                "of": len(ranked_counties),
                "peers": [_brief(r, i + 1) for i, r in enumerate(ranked_counties)],
            }
        comparisons = {
            "previous": _compare(
                totals,
                derive(_sum(v for _, v in self._scope_cells(snap.previous, scope)))
                if snap.previous is not None
                else None,
                snap.period.previous(),
                snap.previous_partial,
            ),
            "last_year": _compare(
                totals,
                derive(_sum(v for _, v in self._scope_cells(snap.last_year, scope)))
                if snap.last_year is not None
                else None,
                snap.period.year_before(),
                snap.last_year_partial,
            ),
        }
        return {
            "scope": scope.as_dict(),
            "period": snap.period.as_dict(),
            "data_since": snap.since.astimezone(self.tz).date().isoformat() if snap.since else None,
            "totals": totals,
            "by_field": by_field,
            "by_county": counties if scope.level == "city" else [],
            "by_township": by_township,
            "rankings": rankings,
            "county_rank": county_rank,
            "listings": listings,
            "oldest_open": oldest,
            "comparisons": comparisons,
            "trend": self._trend(scope, totals["open"]),
        }


def report_scopes(rules: Rules) -> list[Scope]:
    """The scopes a sent report goes to: the city and every county."""
    tree = rules.tree
    return [Scope(tree.city.code, tree.city.name, "city")] + [Scope(u.code, u.name, "county") for u in tree.counties()]


def replay_states(ids: Iterable[str], transitions: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """State, unit, deadline and supervision level of a few hazards at some instant, replayed from their
    transitions before it (rows with hazard_id, action, to_state, level and details, in order per hazard)."""
    out: dict[str, dict[str, Any]] = {i: {"state": None, "unit": None, "due_at": None, "level": "none"} for i in ids}
    for r in transitions:
        h = out[r.hazard_id]
        details = r.details or {}
        if r.action in STATE_SETTING:
            h["state"] = r.to_state
        if r.action in (*ROUTING, "hazard.reassigned") and details.get("unit"):
            h["unit"] = details["unit"]
        if (r.action in ROUTING or (r.action == "extension.decided" and details.get("approved"))) and details.get(
            "due_at"
        ):
            due = datetime.fromisoformat(details["due_at"])
            h["due_at"] = max(h["due_at"], due) if h["due_at"] else due
        if r.action in ESCALATING and ESCALATION_RANK.get(r.level or "none", 0) > ESCALATION_RANK[h["level"]]:
            h["level"] = r.level
    return out
