"""Who may do what, and what exists for whom: roles, principals, jurisdictions and the one authorisation
decision that the HTTP API, the web console and the command line all use. Pure: no SQL, no clock.

Three questions, answered in this order, each by one thing:

1. **Does the target exist for this account?** The jurisdiction (below). Outside it, a hazard, notice or township
   does not exist: ``not_found`` (HTTP 404), so its existence does not leak.
2. **May the account's roles do this at all?** One declarative table, ``PERMISSIONS`` (role × action):
   ``forbidden`` (HTTP 403) when none of its roles may.
3. **Does the lifecycle allow it now, for this unit?** ``models.rules`` (the state, the responsible unit, the
   verifier, the supervision level), which still refuses what the state or the unit rules forbid: HTTP 409, or
   403 when the rules say this unit may not do it.

Jurisdiction. An account sees and acts on its unit's subtree of the organisation (``org.yaml``):

* a hazard is within a unit's jurisdiction when its township is in the unit's subtree, or its responsible unit is
  in the unit's subtree, or it was reported by the unit itself (``UNIT`` or ``UNIT/name`` as reporter);
* a village or community station (no township below it) also sees the hazards of its own village (the hazard's
  township is the station's parent and its ``village`` is the station's name);
* a department sees the hazards it answers for: those assigned to it (or to a unit below it), and those of its
  fields in its area, the subtree of the unit it hangs off (a county's traffic police: road-traffic hazards in
  that county; the city's: in the whole city);
* a township (listing, delisting) is within the jurisdiction when it is in the subtree; a notice when its hazard
  is, or its township, recipient or issuing office is in the subtree;
* an account may report (detect) a hazard in its area: a township in its subtree, or for a village station its
  own township, for a department a township of the unit it hangs off.

The city sees everything. Principals that are not proven (the command line's operator, a Prefect flow run, the
engine itself) carry the whole organisation as jurisdiction and every action: the lifecycle rules still judge the
actor they declare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from hazardloop.models.core.orgtree import OrgTree


class Role(StrEnum):
    STAFF = "staff"
    VERIFIER = "verifier"
    SUPERVISOR = "supervisor"
    VIEWER = "viewer"
    ADMIN = "admin"


ROLE_NAMES: tuple[str, ...] = tuple(r.value for r in Role)


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    REQUEST_EXTENSION = "request-extension"
    DECIDE_EXTENSION = "decide-extension"
    SUBMIT = "submit"
    PASS = "pass"
    FAIL = "fail"
    ASSIGN = "assign"
    REASSIGN = "reassign"
    INVALIDATE = "invalidate"
    ESCALATE = "escalate"
    DETECT = "detect"
    LIST = "list"
    DELIST = "delist"
    READ = "read"
    REQUEUE = "requeue"
    MANAGE_ACCOUNTS = "manage-accounts"
    SEND_READINGS = "send-readings"


class Decision(StrEnum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"


# How a refusal names each action.
ACTION_WORDS: dict[Action, str] = {
    Action.ACKNOWLEDGE: "acknowledge hazards (签收)",
    Action.REQUEST_EXTENSION: "ask for extensions (申请延期)",
    Action.DECIDE_EXTENSION: "decide extensions (审批延期)",
    Action.SUBMIT: "submit rectifications (提交整改)",
    Action.PASS: "verify hazards (核查通过)",
    Action.FAIL: "return hazards for rework (退回整改)",
    Action.ASSIGN: "assign hazards (交办)",
    Action.REASSIGN: "reassign hazards (转办)",
    Action.INVALIDATE: "close hazards as invalid (作废)",
    Action.ESCALATE: "escalate hazards (提级)",
    Action.DETECT: "report hazards (上报)",
    Action.LIST: "list townships (挂牌督办)",
    Action.DELIST: "delist townships (摘牌)",
    Action.READ: "read",
    Action.REQUEUE: "send notices again",
    Action.MANAGE_ACCOUNTS: "manage accounts",
    Action.SEND_READINGS: "send monitoring-point readings (监测数据)",
}

# The one table: what each role may do (within its jurisdiction). Every role reads.
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.STAFF: frozenset(
        {Action.READ, Action.ACKNOWLEDGE, Action.REQUEST_EXTENSION, Action.SUBMIT, Action.DETECT, Action.SEND_READINGS}
    ),
    Role.VERIFIER: frozenset({Action.READ, Action.PASS, Action.FAIL}),
    Role.SUPERVISOR: frozenset(
        {
            Action.READ,
            Action.ESCALATE,
            Action.LIST,
            Action.DELIST,
            Action.DECIDE_EXTENSION,
            Action.ASSIGN,
            Action.REASSIGN,
            Action.INVALIDATE,
            Action.REQUEUE,
        }
    ),
    Role.VIEWER: frozenset({Action.READ}),
    Role.ADMIN: frozenset({Action.READ, Action.MANAGE_ACCOUNTS, Action.REQUEUE}),
}

# The contract's event types and the action each one is.
EVENT_ACTIONS: dict[str, Action] = {
    "hazard.detected": Action.DETECT,
    "hazard.assigned": Action.ASSIGN,
    "hazard.acknowledged": Action.ACKNOWLEDGE,
    "hazard.reassigned": Action.REASSIGN,
    "extension.requested": Action.REQUEST_EXTENSION,
    "extension.decided": Action.DECIDE_EXTENSION,
    "rectification.submitted": Action.SUBMIT,
    "verification.passed": Action.PASS,
    "verification.failed": Action.FAIL,
    "hazard.invalidated": Action.INVALIDATE,
    "hazard.escalated": Action.ESCALATE,
    "township.listed": Action.LIST,
    "township.delisted": Action.DELIST,
}
# The hazard actions of ``POST /api/v1/hazards/{id}/{action}`` and the event each one records.
HAZARD_ACTION_EVENTS: dict[Action, str] = {
    action: event_type
    for event_type, action in EVENT_ACTIONS.items()
    if event_type.split(".")[0] in ("hazard", "extension", "rectification", "verification")
    and action not in (Action.DETECT, Action.ASSIGN)
}

Via = Literal["token", "session", "cli", "flow", "system"]
PROVEN: frozenset[str] = frozenset({"token", "session"})


@dataclass(frozen=True)
class Jurisdiction:
    """What one unit sees, as sets of unit codes (computed once per principal from the organisation tree)."""

    unit_code: str
    everything: bool = False
    units: frozenset[str] = frozenset()  # the unit's subtree (itself included)
    townships: frozenset[str] = frozenset()  # hazards located here are within
    field_townships: frozenset[str] = frozenset()  # a department: hazards of its fields located here
    fields: frozenset[str] = frozenset()
    village: tuple[str, str] | None = None  # a village station: (its township, its name)
    detect_townships: frozenset[str] = frozenset()  # where it may report a hazard

    def sees_hazard(
        self,
        township_code: str,
        unit_code: str | None,
        field: str,
        reporter: str | None = None,
        village: str | None = None,
    ) -> bool:
        if self.everything or township_code in self.townships or (unit_code is not None and unit_code in self.units):
            return True
        if field in self.fields and township_code in self.field_townships:
            return True
        if self.village is not None and (township_code, village) == self.village:
            return True
        return reporter is not None and reported_by(reporter, self.unit_code)

    def sees_township(self, code: str) -> bool:
        return self.everything or code in self.townships

    def sees_area(self, code: str) -> bool:
        """Whether the township (or key area) ``code`` is one whose hazards this account sees, some or all: its own
        area, a department's townships, a village station's township."""
        return (
            self.sees_township(code)
            or code in self.field_townships
            or code in self.units
            or (self.village is not None and self.village[0] == code)
        )

    def sees_unit(self, code: str) -> bool:
        return self.everything or code in self.units


def reported_by(reporter: str, unit_code: str) -> bool:
    return reporter == unit_code or reporter.startswith(unit_code + "/")


def _subtree(tree: OrgTree, code: str) -> list[str]:
    found, stack = [], [code]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(child.code for child in tree.children(current))
    return found


def _township_codes(tree: OrgTree, codes: Iterable[str]) -> frozenset[str]:
    return frozenset(c for c in codes if tree.units[c].level in ("township", "area"))


def jurisdiction_of(tree: OrgTree, unit_code: str) -> Jurisdiction:
    unit = tree.units[unit_code]
    if unit.code == tree.city.code:
        everything = frozenset(tree.units)
        towns = _township_codes(tree, everything)
        return Jurisdiction(unit_code, True, everything, towns, detect_townships=towns)
    units = frozenset(_subtree(tree, unit_code))
    towns = _township_codes(tree, units)
    detect = towns
    field_towns: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    village = None
    if unit.level == "department" and unit.parent:
        area = _township_codes(tree, _subtree(tree, unit.parent))
        field_towns, fields, detect = area, frozenset(unit.fields), area
    elif unit.level == "village" and unit.parent:
        village = (unit.parent, unit.name)
        detect = _township_codes(tree, [unit.parent])
    return Jurisdiction(unit_code, False, units, towns, field_towns, fields, village, detect)


@dataclass(frozen=True)
class Principal:
    """Who acts: a proven account (``token``, ``session``) or a declared one (``cli``, ``flow``, ``system``)."""

    login: str
    name: str
    unit_code: str
    roles: frozenset[Role]
    via: Via
    jurisdiction: Jurisdiction
    account_id: int | None = None
    credential_id: str | None = None  # the token's public id or the session's id
    client: str | None = None  # the client address (API), or the OS user (command line)
    declared_actor: str | None = field(default=None, compare=False)  # the command line's --by

    @property
    def actor(self) -> str:
        """How the audit trail names this principal: ``UNIT/姓名`` (the contract's actor)."""
        if self.declared_actor is not None:
            return self.declared_actor
        return f"{self.unit_code}/{self.name}"

    @property
    def proven(self) -> bool:
        return self.via in PROVEN

    def may(self, action: Action) -> bool:
        return any(action in PERMISSIONS[role] for role in self.roles)

    def audit(self) -> dict[str, object]:
        """The principal's columns on the transitions and events it causes."""
        return {
            "principal_account": self.account_id,
            "principal_credential": self.credential_id,
            "principal_via": self.via,
            "principal_client": self.client,
        }


def account_principal(
    tree: OrgTree,
    *,
    account_id: int,
    login: str,
    name: str,
    unit_code: str,
    roles: Iterable[str],
    via: Via,
    credential_id: str | None,
    client: str | None,
) -> Principal:
    return Principal(
        login=login,
        name=name,
        unit_code=unit_code,
        roles=frozenset(Role(r) for r in roles if r in ROLE_NAMES),
        via=via,
        jurisdiction=jurisdiction_of(tree, unit_code),
        account_id=account_id,
        credential_id=credential_id,
        client=client,
    )


def declared_principal(tree: OrgTree, via: Via, who: str, actor: str | None = None) -> Principal:
    """The command line's operator (``who`` is the OS user), a flow run (its id) or the engine: not proven, so the
    whole organisation and every action; the lifecycle rules judge the ``actor`` they declare."""
    return Principal(
        login=who,
        name=who,
        unit_code=tree.city.code,
        roles=frozenset(Role),
        via=via,
        jurisdiction=jurisdiction_of(tree, tree.city.code),
        client=who,
        declared_actor=actor,
    )


# --- targets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HazardTarget:
    township_code: str
    unit_code: str | None
    field: str
    reporter: str | None = None
    village: str | None = None


@dataclass(frozen=True)
class TownshipTarget:
    code: str


@dataclass(frozen=True)
class AreaTarget:
    """Where a new hazard would be reported (detection)."""

    township_code: str


@dataclass(frozen=True)
class NoticeTarget:
    hazard: HazardTarget | None
    township_code: str | None
    recipient_code: str | None
    issuer_code: str | None


@dataclass(frozen=True)
class UnitTarget:
    """An account (its unit) for account management, or a report's scope."""

    code: str


Target = HazardTarget | TownshipTarget | AreaTarget | NoticeTarget | UnitTarget


def within(j: Jurisdiction, target: Target) -> bool:
    if isinstance(target, HazardTarget):
        return j.sees_hazard(target.township_code, target.unit_code, target.field, target.reporter, target.village)
    if isinstance(target, TownshipTarget):
        return j.sees_township(target.code)
    if isinstance(target, AreaTarget):
        return j.everything or target.township_code in j.detect_townships
    if isinstance(target, NoticeTarget):
        if target.hazard is not None and within(j, target.hazard):
            return True
        return any(
            code is not None and (j.sees_unit(code) or j.sees_township(code))
            for code in (target.township_code, target.recipient_code, target.issuer_code)
        )
    return j.sees_unit(target.code)


def role_refusal_words(principal: Principal, action: Action) -> str:
    roles = ", ".join(sorted(principal.roles)) or "none"
    return f"the account '{principal.login}' (roles: {roles}) may not {ACTION_WORDS[action]}"


def decide(principal: Principal, action: Action, target: Target) -> Decision:
    """The one authorisation decision: outside the jurisdiction nothing exists; inside, the role table decides."""
    if not within(principal.jurisdiction, target):
        return Decision.NOT_FOUND
    return Decision.ALLOWED if principal.may(action) else Decision.FORBIDDEN
