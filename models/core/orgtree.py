"""The organisation as a tree the rules can ask questions of: who is above whom, who answers for a field
where, who may verify, escalate or list. Pure: built from the validated ``Org``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.policy import LEVEL_RANK, Org, Unit

SYSTEM_ACTOR = "system"
_SUPERVISOR_RANK = {"township": 1, "area": 1, "county": 2, "city": 3}


@dataclass(frozen=True)
class Actor:
    """Who did something: a unit (by code) and optionally a person, or the engine itself."""

    raw: str
    unit: Unit | None  # None for the engine ('system') or an outside reporter
    person: str | None

    @property
    def is_system(self) -> bool:
        return self.raw == SYSTEM_ACTOR


class OrgTree:
    def __init__(self, org: Org) -> None:
        self.units: dict[str, Unit] = {u.code: u for u in org.units}
        # a name may be shared by units of different parents (two counties' 城关镇): all of them, in file order
        self._by_name: dict[str, tuple[Unit, ...]] = {}
        for unit in org.units:
            self._by_name[unit.name] = (*self._by_name.get(unit.name, ()), unit)
        self.city: Unit = next(u for u in org.units if u.level == "city")
        self._children: dict[str, list[Unit]] = {}
        for unit in org.units:
            if unit.parent:
                self._children.setdefault(unit.parent, []).append(unit)
        self._ancestors: dict[str, tuple[Unit, ...]] = {code: self._walk_up(code) for code in self.units}
        self._actors: dict[tuple[str, bool], Actor] = {}

    def _walk_up(self, code: str) -> tuple[Unit, ...]:
        chain: list[Unit] = []
        parent = self.units[code].parent
        while parent:
            chain.append(self.units[parent])
            parent = self.units[parent].parent
        return tuple(chain)

    # --- look-ups -------------------------------------------------------------------------------------
    def find(
        self,
        key: str,
        field: str | None = None,
        *,
        within: str | None = None,
        levels: tuple[str, ...] | None = None,
        where: Callable[[Unit], bool] | None = None,
    ) -> Unit | None:
        """The unit with this code, else the one with this name (None: no such unit). ``within`` (a unit code)
        narrows a name to the units at or below that unit, ``levels`` to units of those levels, ``where`` to the
        units it accepts (an account's jurisdiction). A name that several units share names none of them on its
        own: invalid input naming ``field``, so that the code (or a township's county) is given instead."""
        unit = self.units.get(key)
        if unit is not None:  # a code is exact: ``within`` is the caller's to check
            return unit if levels is None or unit.level in levels else None
        named = self._by_name.get(key, ())
        if within is not None:
            named = tuple(u for u in named if self.is_within(u.code, within))
        if levels is not None:
            named = tuple(u for u in named if u.level in levels)
        if where is not None:
            named = tuple(u for u in named if where(u))
        if len(named) > 1:
            raise InvalidInput([Problem(self.ambiguous_words(key, named), field=field)])
        return named[0] if named else None

    def ambiguous_words(self, key: str, named: tuple[Unit, ...]) -> str:
        # The units are not listed: some may lie outside the jurisdiction of whoever asks, where they do not exist.
        townships = all(u.level in ("township", "area") for u in named)
        hint = "give the unit's code, or the county it is in" if townships else "give the unit's code"
        return f"'{key}' is the name of {len(named)} units in org.yaml; {hint}"

    def place_of(self, unit: Unit) -> str:
        """``海曙区 城关镇``: the unit's name after its parent's (the city's units: the name alone), which tells two
        units of one name apart."""
        parent = self.units.get(unit.parent) if unit.parent else None
        return unit.name if parent is None or parent.level == "city" else f"{parent.name} {unit.name}"

    def shares_its_name(self, unit: Unit) -> bool:
        return len(self._by_name.get(unit.name, ())) > 1

    def label(self, unit: Unit) -> str:
        """The unit's name where it names no other unit, else with its parent's (``东县 城关镇``): for lists to
        choose from, where two lines must not read alike."""
        return self.place_of(unit) if self.shares_its_name(unit) else unit.name

    def get(self, code: str) -> Unit:
        return self.units[code]

    def ancestors(self, code: str) -> tuple[Unit, ...]:
        return self._ancestors[code]

    def children(self, code: str) -> list[Unit]:
        return self._children.get(code, [])

    def townships(self) -> list[Unit]:
        return [u for u in self.units.values() if u.level in ("township", "area")]

    def counties(self) -> list[Unit]:
        return [u for u in self.units.values() if u.level == "county"]

    def county_of(self, code: str) -> Unit | None:
        for unit in (self.units[code], *self._ancestors[code]):
            if unit.level == "county":
                return unit
        return None

    def resolve_township(self, key: str, field: str = "township", *, within: str | None = None) -> Unit:
        """The township (street, key area) with this code or name; ``within`` (a county's code) picks among
        townships of one name. A name found only outside ``within`` is still returned: the caller says that it is
        not in the county given, which is clearer than "no such township"."""
        levels = ("township", "area")
        unit = self.find(key, field, within=within, levels=levels) if within is not None else None
        if unit is None:
            unit = self.find(key, field, levels=levels)
        if unit is None or unit.level not in levels:
            known = key in self.units or key in self._by_name
            what = "is not a township, street or key area" if known else "is not a unit in org.yaml"
            raise InvalidInput([Problem(f"'{key}' {what}", field=field)])
        return unit

    def resolve_unit(self, key: str, field: str = "unit") -> Unit:
        unit = self.find(key, field)
        if unit is None:
            raise InvalidInput([Problem(f"'{key}' is not a unit in org.yaml", field=field)])
        return unit

    def parse_actor(self, raw: str, *, reporter: bool = False) -> Actor:
        """``CODE`` or ``CODE/person``; ``system`` is the engine. Reporters of detections may be outsiders.
        Remembered per text (a batch names the same few actors thousands of times; an actor is immutable and the
        tree never changes: a reloaded organisation is a new tree)."""
        key = (raw, reporter)
        actor = self._actors.get(key)
        if actor is None:
            actor = self._parse_actor(raw, reporter)  # an unknown unit raises, and is not remembered
            if len(self._actors) >= 10_000:
                self._actors.clear()
            self._actors[key] = actor
        return actor

    def _parse_actor(self, raw: str, reporter: bool) -> Actor:
        raw = raw.strip()
        if raw == SYSTEM_ACTOR:
            return Actor(raw, None, None)
        code, _, person = raw.partition("/")
        unit = self.find(code.strip(), "actor")
        if unit is None:
            if reporter:
                return Actor(raw, None, raw)
            raise InvalidInput([Problem(f"'{code}' is not a unit code in org.yaml", field="actor")])
        return Actor(raw, unit, person.strip() or None)

    # --- jurisdiction -----------------------------------------------------------------------------------
    def is_within(self, unit_code: str, over: str) -> bool:
        """True when ``unit_code`` is ``over`` or sits below it."""
        return unit_code == over or any(a.code == over for a in self._ancestors[unit_code])

    def route(self, field: str, township_code: str) -> Unit:
        """The default routing rule: the department answering for ``field`` nearest to the township
        (the township's own, then its county's, then the city's); else the township itself."""
        for level_unit in (self.units[township_code], *self._ancestors[township_code]):
            for child in self.children(level_unit.code):
                if child.level == "department" and field in child.fields:
                    return child
        return self.units[township_code]

    def verifiers(self, township_code: str, responsible_code: str) -> list[Unit]:
        """Units allowed to verify (and to decide extensions): the township, or the county when the township
        is itself responsible; units above too; never the responsible unit."""
        chain = [self.units[township_code], *self._ancestors[township_code]]
        return [u for u in chain if u.code != responsible_code]

    def supervisors(self, township_code: str) -> list[Unit]:
        """Units with authority over a township: itself and the administrative units above it."""
        return [self.units[township_code], *self._ancestors[township_code]]

    def may_answer_for(self, unit: Unit, township_code: str) -> bool:
        """Whether ``unit`` can be responsible for a hazard in the township: the township itself, a unit of the
        township's chain (county, city), or a department attached to one of them."""
        chain = {u.code for u in self.supervisors(township_code)}
        return unit.code in chain or (unit.level == "department" and unit.parent in chain)

    def supervisor_rank(self, unit: Unit) -> int:
        return _SUPERVISOR_RANK.get(unit.level, 0)

    def supervising_unit(self, township_code: str, level: str) -> Unit:
        """The unit that supervises at ``level`` for a township (township → itself; county → its county)."""
        if level == "city":
            return self.city
        if level == "county":
            return self.county_of(township_code) or self.city
        return self.units[township_code]

    def may_escalate(self, actor: Unit, township_code: str, current: str, target: str) -> tuple[str, str] | None:
        """None when allowed; otherwise the event field at fault (``actor`` or ``to``) and the reason in plain
        words."""
        rank = self.supervisor_rank(actor)
        if actor.code not in {u.code for u in self.supervisors(township_code)} or rank == 0:
            return "actor", f"{actor.name} has no jurisdiction over {self.units[township_code].name}"
        if LEVEL_RANK[target] <= LEVEL_RANK[current]:
            return "to", f"the hazard is already under {current} supervision; escalation only goes upwards"
        if rank <= LEVEL_RANK[current]:
            return "actor", f"{actor.name} is not above the hazard's current supervision level ({current})"
        if LEVEL_RANK[target] > rank:
            return "to", f"{actor.name} may escalate at most to its own level ({actor.level})"
        return None
