"""Township listing for elevated supervision (提级挂牌督办): the decisions, as pure functions of a township's
figures, the policy's thresholds and the listings in force. The store (``models.store.listing``) reads the
figures and the listings, takes the locks and writes what these functions decide.

Figures per township, as of ``now``:
- overdue: open hazards whose deadline has passed while the unit owes the work (assigned or rectifying);
- overdue_major: the same, for major hazards;
- clearance rate: of the hazards whose deadline fell in the last ``window_days`` days, the share cleared
  by now (only judged when at least ``min_hazards_for_rate`` fell due).
A township breaks the policy when overdue > max_overdue, overdue_major > max_overdue_major or the clearance
rate < min_clearance_rate. A listed township is proposed for delisting when its figures are back within
bounds and every hazard named in its listing is closed; delisting itself needs a supervisor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hazardloop.models.core.calendar import end_of_day
from hazardloop.models.core.errors import Refused
from hazardloop.models.core.hazard import Effects, NoticeIntent, Transition
from hazardloop.models.core.orgtree import Actor, OrgTree
from hazardloop.models.core.policy import LEVEL_CN, LEVEL_RANK, Unit
from hazardloop.models.core.rules import Rules


@dataclass(frozen=True)
class Figures:
    township_code: str
    open: int
    overdue: int
    overdue_major: int
    due_in_window: int
    cleared_of_due: int

    @property
    def clearance_rate(self) -> float | None:
        return self.cleared_of_due / self.due_in_window if self.due_in_window else None

    def as_dict(self, window_days: int) -> dict[str, Any]:
        rate = self.clearance_rate
        return {
            "open": self.open,
            "overdue": self.overdue,
            "overdue_major": self.overdue_major,
            "due_in_window": self.due_in_window,
            "clearance_rate": round(rate, 4) if rate is not None else None,
            "window_days": window_days,
        }


def breaches(rules: Rules, f: Figures) -> list[str]:
    """The policy thresholds a township's figures break, each as a plain Chinese problem statement."""
    lim = rules.policy.listing
    found: list[str] = []
    if f.overdue > lim.max_overdue:
        found.append(f"逾期未整改隐患{f.overdue}件，超过{lim.max_overdue}件的限值")
    if f.overdue_major > lim.max_overdue_major:
        found.append(f"重大隐患逾期未整改{f.overdue_major}件，超过{lim.max_overdue_major}件的限值")
    rate = f.clearance_rate
    if rate is not None and f.due_in_window >= lim.min_hazards_for_rate and rate < lim.min_clearance_rate:
        found.append(f"近{lim.window_days}日到期隐患整改销号率{rate:.1%}，低于{lim.min_clearance_rate:.0%}的要求")
    return found


@dataclass(frozen=True)
class ToList:
    """A township the sweep lists: its figures break the policy and no listing is in force."""

    township_code: str
    problems: list[str]
    figures: Figures


def townships_to_list(rules: Rules, figures: Mapping[str, Figures], listed: Mapping[str, Any]) -> list[ToList]:
    """The townships the sweep lists (at city level), in code order: those the organisation knows whose figures
    break the policy and that are not under a listing already."""
    chosen = []
    for code, f in sorted(figures.items()):
        if code not in rules.tree.units:
            continue
        problems = breaches(rules, f)
        if problems and code not in listed:
            chosen.append(ToList(code, problems, f))
    return chosen


def recovered(still_open: list[str], breached: list[str]) -> bool:
    """A listed township has recovered (and may be delisted) when none of its listed hazards is open and its
    figures break no threshold."""
    return not still_open and not breached


def proposal_change(is_recovered: bool, proposed: bool) -> bool | None:
    """What the sweep does to a listing's delisting proposal: True to propose it (recovered, not yet proposed),
    False to withdraw it (proposed, but no longer recovered), None to leave it."""
    if is_recovered and not proposed:
        return True
    if not is_recovered and proposed:
        return False
    return None


@dataclass(frozen=True)
class ListingDeadline:
    """When a listed township has to have recovered: ``days`` working days from the local day of listing, counted
    like a hazard's deadline (provisional where it runs into a year whose holidays are not published)."""

    day: date
    at: datetime
    provisional: bool
    days: int


def listing_deadline(rules: Rules, at: datetime) -> ListingDeadline:
    days = rules.policy.listing.deadline_days
    first = rules.local_day(at)
    day = rules.calendar.add_working_days(first, days)
    return ListingDeadline(day, end_of_day(day, rules.policy.tz), rules.calendar.span_provisional(first, day), days)


def replaced_reason(level: str) -> str:
    """The delisting reason written on a listing that a higher one replaces."""
    return f"提级为{LEVEL_CN[level]}挂牌督办"


def township_notice(
    rules: Rules, kind: str, key: str, township: str, issuer: str, at: datetime, extra: dict[str, Any]
) -> NoticeIntent:
    """A listing or delisting notice: to the township, copies to its county and the issuing office."""
    unit, county = rules.tree.get(township), rules.tree.county_of(township)
    cc = tuple(c for c in (county.code if county else None, issuer) if c and c != township)
    extra["township"] = {"name": unit.name, "code": unit.code, "county": county.name if county else ""}
    return NoticeIntent(kind, key, None, township, township, cc, issuer, at, extra)


def listing_effects(
    rules: Rules,
    township: str,
    seq: int,
    *,
    at: datetime,
    actor: str,
    level: str,
    reason: str,
    problems: list[str],
    figures: dict[str, Any],
    deadline: ListingDeadline,
    problem_hazards: list[str],
    event_id: str | None = None,
    manual: bool = False,
) -> Effects:
    """The audit row and the notice of a township's ``seq``-th listing; ``figures`` as ``Figures.as_dict``."""
    key = f"listing:{township}:{seq}"
    issuer = rules.tree.supervising_unit(township, level)
    transition = Transition(
        None,
        township,
        "township.listed",
        None,
        None,
        at,
        actor,
        event_id=event_id,
        reason=reason,
        level=level,
        cause_key=key,
        details={"problems": problems, "figures": figures},
    )
    notice = township_notice(
        rules,
        "listing",
        key,
        township,
        issuer.code,
        at,
        {
            "reason": reason,
            "problems": problems,
            "manual": manual,
            "deadline": deadline.day.isoformat(),
            "deadline_provisional": deadline.provisional,
            "figures": {
                "overdue": figures.get("overdue", 0),
                "overdue_major": figures.get("overdue_major", 0),
                "clearance_rate": figures.get("clearance_rate"),
                "window_days": rules.policy.listing.window_days,
            },
            "problem_hazards": problem_hazards,
        },
    )
    return Effects([transition], [notice])


def delisting_effects(
    rules: Rules,
    listing: Any,
    *,
    at: datetime,
    actor: str,
    reason: str,
    event_id: str | None = None,
    actor_person: str | None = None,
) -> Effects:
    """The audit row and the notice of delisting ``listing`` (a listing row: id, township_code, level, listed_at)."""
    tree = rules.tree
    township = listing.township_code
    key = f"delisting:{township}:{listing.id}"
    transition = Transition(
        None,
        township,
        "township.delisted",
        None,
        None,
        at,
        actor,
        event_id=event_id,
        reason=reason,
        level=listing.level,
        cause_key=key,
    )
    issuer = tree.find(actor.split("/")[0]) or tree.supervising_unit(township, listing.level)
    notice = township_notice(
        rules,
        "delisting",
        key,
        township,
        issuer.code,
        at,
        {
            "reason": reason,
            "listed_on": rules.local_day(listing.listed_at).isoformat(),
            # the notice names the confirming office, with the person after it when one was given
            "actor_name": issuer.name,
            "actor_person": actor_person,
        },
    )
    return Effects([transition], [notice])


def _supervising_rank(tree: OrgTree, township: Unit, actor: Actor) -> int:
    """The actor's supervisory rank over ``township``; refused when it has no jurisdiction there."""
    if actor.unit is None or actor.unit.code not in {u.code for u in tree.supervisors(township.code)}:
        raise Refused(
            f"{actor.unit.name if actor.unit else actor.raw} has no jurisdiction over {township.name}", field="actor"
        )
    return tree.supervisor_rank(actor.unit)


def check_may_list(tree: OrgTree, township: Unit, actor: Actor, current: Any) -> None:
    """Whether ``actor`` may list ``township`` by hand (``current``: its listing in force, if any)."""
    rank = _supervising_rank(tree, township, actor)
    assert actor.unit is not None  # checked by _supervising_rank
    if rank < LEVEL_RANK["county"]:
        raise Refused(
            f"{actor.unit.name} may not list a township; listing is for the county or the city", field="actor"
        )
    if current is not None and LEVEL_RANK[current.level] >= rank:
        raise Refused(f"{township.name} is already under {current.level}-level listed supervision", field="township")


def check_may_delist(tree: OrgTree, township: Unit, actor: Actor, current: Any) -> None:
    """Whether ``actor`` may delist ``township`` (``current``: its listing in force, if any)."""
    rank = _supervising_rank(tree, township, actor)
    assert actor.unit is not None  # checked by _supervising_rank
    if current is None:
        raise Refused(f"{township.name} is not under listed supervision", field="township")
    if rank < LEVEL_RANK[current.level]:
        raise Refused(
            f"{actor.unit.name} may not delist {township.name}: it was listed at {current.level} "
            "level, so delisting needs that level or above",
            field="actor",
        )


def not_recovered_refusal(name: str, still_open: list[str], listed: int, breached: list[str]) -> Refused | None:
    """Why a township cannot be delisted yet (without ``force``): its listed hazards still open (``listed`` were
    named in the listing) and the thresholds its figures still break; None when it has recovered."""
    why = []
    if still_open:
        shown = ", ".join(still_open[:5]) + (f" and {len(still_open) - 5} more" if len(still_open) > 5 else "")
        why.append(f"{len(still_open)} of its {listed} listed hazards are still open ({shown})")
    if breached:
        why.append("its figures still break the policy: " + "；".join(breached))
    if not why:
        return None
    return Refused(
        f"{name} cannot be delisted yet: {'; '.join(why)}. Delist it once they are cleared (the sweep proposes "
        'it then), or delist with --force ("force": true in an event) if the listing was made in error',
        field="township",
    )
