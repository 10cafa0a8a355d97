"""The domain's words in one table: each hazard state and each level with its one Chinese name.

Notices, the ledger, the console and the command line all read their Chinese names from here, so a state is
never called two things (``assigned`` is 已交办待签收 everywhere: the unit has not acknowledged it yet).

Levels are the rungs of the administration, village → township → county → city. A hazard is supervised at one
of the upper three (or at none); each level has a grade, the adjective an official document uses ("提级为县级
挂牌督办", "县级3次"), and, where hazards can be supervised at it, the name of that supervision ("县级督办").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hazardloop.models.core.lifecycle import State

__all__ = [
    "ADMIN_LEVELS",
    "LEVELS",
    "LEVEL_GRADES",
    "LEVEL_NAMES",
    "LEVEL_RANK",
    "NO_SUPERVISION",
    "SEVERITY_NAMES",
    "STATE_NAMES",
    "SUPERVISION_LEVELS",
    "AdminLevel",
]

STATE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        State.DETECTED.value: "待分拨",
        State.ASSIGNED.value: "已交办待签收",
        State.RECTIFYING.value: "整改中",
        State.PENDING_VERIFICATION.value: "待核查",
        State.CLEARED.value: "已销号",
        State.INVALID.value: "已作废",
    }
)

SEVERITY_NAMES: Mapping[str, str] = MappingProxyType({"general": "一般隐患", "major": "重大隐患"})


@dataclass(frozen=True)
class AdminLevel:
    """One rung of the administration. ``rank`` orders the supervision levels (0 for a level nothing is
    supervised at); ``supervision`` names a hazard supervised at this level, or is None where there is none."""

    code: str
    grade: str
    rank: int = 0
    supervision: str | None = None


#: Bottom to top. A village station reports hazards but supervises none.
ADMIN_LEVELS: tuple[AdminLevel, ...] = (
    AdminLevel("village", "村级"),
    AdminLevel("township", "乡镇级", 1, "乡镇督办"),
    AdminLevel("county", "县级", 2, "县级督办"),
    AdminLevel("city", "市级", 3, "市级督办"),
)

#: A hazard not (yet) supervised at any level.
NO_SUPERVISION = AdminLevel("none", "", 0, "未督办")

#: The levels a hazard or a township can be supervised at, lowest first (the escalation targets).
SUPERVISION_LEVELS: tuple[str, ...] = tuple(lv.code for lv in ADMIN_LEVELS if lv.supervision)

LEVELS: Mapping[str, AdminLevel] = MappingProxyType(
    {NO_SUPERVISION.code: NO_SUPERVISION, **{lv.code: lv for lv in ADMIN_LEVELS if lv.supervision}}
)
#: Supervision level → its rank (none 0 … city 3).
LEVEL_RANK: Mapping[str, int] = MappingProxyType({code: lv.rank for code, lv in LEVELS.items()})
#: Supervision level → the name of the supervision (未督办, 乡镇督办, 县级督办, 市级督办).
LEVEL_NAMES: Mapping[str, str] = MappingProxyType({code: str(lv.supervision) for code, lv in LEVELS.items()})
#: Supervision level → its grade as an official document writes it (乡镇级, 县级, 市级; none is empty).
LEVEL_GRADES: Mapping[str, str] = MappingProxyType({code: lv.grade for code, lv in LEVELS.items()})
