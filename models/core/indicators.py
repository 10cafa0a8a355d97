"""The indicator system (一指标一举措) as validated data: projects, indicators with their thresholds, responsible
unit and measure, monitoring points and the supporting data items. Loading ``indicators.yaml`` lives in
``config``; the pure classification of a reading against its indicator lives here too."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from hazardloop.models.core.policy import UNIT_CODE_PATTERN, CodeText, Org, Severity, _error_at

Direction = Literal["higher_is_worse", "lower_is_worse"]
ReadingLevel = Literal["normal", "warning", "breach"]

# validation-context keys: the organisation and the policy's field codes the file is checked against
INDICATOR_ORG = "indicator_org"
INDICATOR_FIELDS = "indicator_fields"

Code = Field(min_length=1, max_length=64, pattern=UNIT_CODE_PATTERN)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Project(_Strict):
    code: CodeText = Code
    name: str = Field(min_length=1, max_length=100)


class Indicator(_Strict):
    code: CodeText = Code
    name: str = Field(min_length=1, max_length=100)
    project: CodeText = Field(min_length=1, max_length=64)
    unit_of_measure: str = Field("", max_length=20)
    direction: Direction
    warning: float | None = Field(None, description="warning threshold; none: no warning level")
    breach: float
    responsible_unit: CodeText = Field(min_length=1, max_length=64)
    measure: str = Field(min_length=1, max_length=1000)
    field: str = Field(min_length=1, max_length=64)
    severity: Severity = "general"

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Indicator:
        for key in ("warning", "breach"):
            value = getattr(self, key)
            if value is not None and not math.isfinite(value):
                raise _error_at((key,), f"{value} is not a number a reading can be compared with", value)
        if self.warning is None:
            return self
        worse = self.breach > self.warning if self.direction == "higher_is_worse" else self.breach < self.warning
        if not worse:
            word = "above" if self.direction == "higher_is_worse" else "below"
            raise _error_at(
                ("breach",),
                f"the breach threshold {self.breach:g} must lie {word} the warning threshold {self.warning:g} "
                f"for an indicator that is {self.direction.replace('_', ' ')}",
                self.breach,
            )
        return self

    def level_of(self, value: float) -> ReadingLevel:
        """Where a reading stands: past the breach threshold, past the warning threshold, or within bounds."""
        if self.direction == "higher_is_worse":
            if value > self.breach:
                return "breach"
            return "warning" if self.warning is not None and value > self.warning else "normal"
        if value < self.breach:
            return "breach"
        return "warning" if self.warning is not None and value < self.warning else "normal"


class Point(_Strict):
    code: CodeText = Code
    name: str = Field(min_length=1, max_length=100)
    indicator: CodeText = Field(min_length=1, max_length=64)
    township: CodeText = Field(min_length=1, max_length=64, description="township or key area (unit code)")


class DataItem(_Strict):
    code: CodeText = Code
    name: str = Field(min_length=1, max_length=100)
    project: CodeText = Field(min_length=1, max_length=64)
    provider: CodeText | None = Field(None, max_length=64, description="the unit that supplies it (unit code)")


class IndicatorSet(_Strict):
    projects: list[Project] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)
    points: list[Point] = Field(default_factory=list)
    data_items: list[DataItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_checked(self, info: ValidationInfo) -> IndicatorSet:
        context = info.context or {}
        org: Org | None = context.get(INDICATOR_ORG)
        fields: list[str] | None = context.get(INDICATOR_FIELDS)
        units = {u.code: u for u in org.units} if org is not None else None
        for key, items in (
            ("projects", self.projects),
            ("indicators", self.indicators),
            ("points", self.points),
            ("data_items", self.data_items),
        ):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.code in seen:
                    raise _error_at((key, i, "code"), f"code '{item.code}' appears twice under '{key}'", item.code)
                seen.add(item.code)
        projects = {p.code for p in self.projects}
        for i, ind in enumerate(self.indicators):
            if ind.project not in projects:
                raise _error_at(("indicators", i, "project"), _not_under(ind.project, "projects"), ind.project)
            if fields is not None and ind.field not in fields:
                raise _error_at(
                    ("indicators", i, "field"),
                    f"no such field in policy.yaml: '{ind.field}' (its fields are {', '.join(fields)})",
                    ind.field,
                )
            if units is not None:
                unit = units.get(ind.responsible_unit)
                if unit is None or unit.level == "village":
                    what = "is a village station, which cannot be responsible" if unit else "is not a unit in org.yaml"
                    raise _error_at(
                        ("indicators", i, "responsible_unit"), f"'{ind.responsible_unit}' {what}", ind.responsible_unit
                    )
        for i, item in enumerate(self.data_items):
            if item.project not in projects:
                raise _error_at(("data_items", i, "project"), _not_under(item.project, "projects"), item.project)
            if units is not None and item.provider is not None and item.provider not in units:
                raise _error_at(
                    ("data_items", i, "provider"), f"'{item.provider}' is not a unit in org.yaml", item.provider
                )
        indicators = {ind.code: ind for ind in self.indicators}
        for i, point in enumerate(self.points):
            ind = indicators.get(point.indicator)
            if ind is None:
                raise _error_at(("points", i, "indicator"), _not_under(point.indicator, "indicators"), point.indicator)
            if units is None:
                continue
            area = units.get(point.township)
            if area is None or area.level not in ("township", "area"):
                what = "is not a township, street or key area" if area else "is not a unit in org.yaml"
                raise _error_at(("points", i, "township"), f"'{point.township}' {what}", point.township)
            if not _may_answer_for(units, units[ind.responsible_unit].code, area.code):
                raise _error_at(
                    ("points", i, "township"),
                    f"the indicator's responsible unit '{ind.responsible_unit}' cannot answer for a hazard in "
                    f"{area.name}: it must be the township, or a unit or department of its county or the city",
                    point.township,
                )
        return self

    @cached_property
    def indicator(self) -> dict[str, Indicator]:
        return {ind.code: ind for ind in self.indicators}

    @cached_property
    def point(self) -> dict[str, Point]:
        return {p.code: p for p in self.points}

    @cached_property
    def project(self) -> dict[str, Project]:
        return {p.code: p for p in self.projects}


def _not_under(code: str, key: str) -> str:
    return f"'{code}' is not a code under '{key}' in this file"


def _may_answer_for(units: dict[str, object], unit_code: str, township_code: str) -> bool:
    """The rule of ``OrgTree.may_answer_for``, on the raw units (the tree is built after validation)."""
    chain: set[str] = set()
    code: str | None = township_code
    while code is not None:
        chain.add(code)
        code = units[code].parent  # type: ignore[attr-defined]
    unit = units[unit_code]
    return unit_code in chain or (unit.level == "department" and unit.parent in chain)  # type: ignore[attr-defined]


NO_INDICATORS = IndicatorSet()
