"""What an office decides, as validated data: the policy (fields, deadlines, escalation ladder, listing
thresholds, schedules) and the organisation tree. Loading the YAML files lives in ``config``; the rules
only see these objects."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from hazardloop.models.core.addresses import address_problem
from hazardloop.models.core.ladder import RungSpec, ladder_problem, standard_ladder
from hazardloop.models.core.notice_kinds import NOTICE_KINDS as NOTICE_KINDS  # the kinds, from their registry
from hazardloop.models.core.vocabulary import LEVEL_GRADES
from hazardloop.models.core.vocabulary import LEVEL_RANK as LEVEL_RANK  # where the rules have always found it

Level = Literal["none", "township", "county", "city"]
UnitLevel = Literal["city", "county", "township", "village", "department", "area"]
Severity = Literal["general", "major"]
# How official documents name a supervision level ("提级至县级督办", "提级为市级挂牌督办"): the vocabulary's grades.
LEVEL_CN = LEVEL_GRADES


def _valid_cron(expr: str) -> str:
    try:
        cron_trigger(expr, "UTC")
    except ValueError as exc:
        raise ValueError(f"'{expr}' is not a valid cron expression ({exc})") from None
    return expr


CronExpression = Annotated[str, AfterValidator(_valid_cron)]


def _whole_number_as_text(value: object) -> object:
    """A code written as a bare whole number (``code: 330200``, an administrative division code) is meant as the
    text it reads as: YAML hands it over as a number. (The loader refuses a number YAML reads otherwise than it
    is written, such as ``0571``, an octal 377.) Anything else goes on to be checked as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# a unit code (or a code naming one), which may be written as a bare whole number in the YAML files
CodeText = Annotated[str, BeforeValidator(_whole_number_as_text)]

UNIT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
# Pydantic reports a failed pattern as the regular expression itself; an operator needs the rule in words.
PATTERN_RULES: dict[str, str] = {
    UNIT_CODE_PATTERN: "a unit code may use only the letters A–Z and a–z, digits, '_', '.' and '-', and must start "
    "with a letter or digit (the Chinese name goes in 'name')",
}


def _error_at(loc: tuple[str | int, ...], message: str, value: object) -> ValidationError:
    """A cross-field error pinned to the key it is about: pydantic prefixes ``loc`` with the model's own place,
    so the loader can name that key and its line instead of the whole block."""
    details = InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
    return ValidationError.from_exception_data("configuration", [details])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineDays(_Strict):
    general: int = Field(7, ge=1, le=365)
    major: int = Field(20, ge=1, le=365)


class Deadlines(DeadlineDays):
    by_field: dict[str, DeadlineDays] = Field(default_factory=dict)
    # working days the verifier has after a submission, and the deciding unit after an extension request
    verification: int = Field(3, ge=1, le=365)
    extension_decision: int = Field(2, ge=1, le=365)


class Escalation(_Strict):
    """The escalation ladder (``models.core.ladder``): ``ladder`` lists the rungs; without it, the standard ladder
    is built from the shorthand keys. With it, a shorthand key that is given must agree with its rung."""

    acknowledge_within_days: int = Field(1, ge=0, le=60, description="0 disables the acknowledgement reminder")
    remind_before_days: int = Field(1, ge=0, le=60, description="0 disables the deadline reminder")
    county_after_days: int = Field(3, ge=0, le=365)
    city_after_days: int = Field(10, ge=0, le=365)
    major_overdue_to: Literal["township", "county", "city"] = "county"
    ladder: tuple[RungSpec, ...] | None = None

    @model_validator(mode="after")
    def _a_ladder_that_climbs(self) -> Escalation:
        if self.city_after_days < self.county_after_days:
            raise _error_at(
                ("city_after_days",),
                f"{self.city_after_days} is smaller than county_after_days ({self.county_after_days}); "
                "city supervision cannot come before county supervision",
                self.city_after_days,
            )
        if self.ladder is None:
            return self
        problem = ladder_problem(self.ladder)
        if problem is not None:
            index, key, message = problem
            raise _error_at(("ladder", index, key), message, getattr(self.ladder[index], key))
        self._shorthand_agrees()
        return self

    def _shorthand_agrees(self) -> None:
        """A shorthand key given beside a ladder says the same as its rung, or the policy would mean two things."""
        rungs = {r.name: r for r in self.ladder or ()}
        reminder, county, city, major = (rungs.get(name) for name in ("reminder", "county", "city", "major"))
        declared: dict[str, tuple[str, object]] = {
            "remind_before_days": ("reminder", reminder.before_deadline or 0 if reminder else 0),
            "county_after_days": ("county", county.overdue_days if county else None),
            "city_after_days": ("city", city.overdue_days if city else None),
            "major_overdue_to": ("major", major.level if major else None),
        }
        for key in sorted(self.model_fields_set & set(declared)):
            given, (name, in_ladder) = getattr(self, key), declared[key]
            if given != in_ladder:
                said = "nothing (there is no such rung)" if in_ladder is None else repr(in_ladder)
                raise _error_at(
                    (key,),
                    f"{given!r} disagrees with the ladder: the ladder's rung '{name}' says {said}; with a ladder the "
                    f"rungs decide, so change the rung or remove '{key}'",
                    given,
                )

    @cached_property
    def rungs(self) -> tuple[RungSpec, ...]:
        """The ladder in force: the declared one, or the standard ladder from the shorthand keys."""
        if self.ladder is not None:
            return self.ladder
        return standard_ladder(
            self.remind_before_days, self.county_after_days, self.city_after_days, self.major_overdue_to
        )


class Extensions(_Strict):
    max_days: int = Field(30, ge=1, le=365)
    max_requests: int = Field(2, ge=0, le=20)


class Listing(_Strict):
    window_days: int = Field(30, ge=1, le=366)
    max_overdue: int = Field(10, ge=0)
    min_clearance_rate: float = Field(0.6, ge=0, le=1)
    min_hazards_for_rate: int = Field(20, ge=1)
    max_overdue_major: int = Field(2, ge=0)
    deadline_days: int = Field(20, ge=1, le=365)


class Notices(_Strict):
    sender: str = "hazardloop@example.org"
    operator: str | None = Field(None, description="who is told when a notice is given up on")
    prefixes: dict[str, str] = Field(default_factory=dict)
    feedback_days: int = Field(2, ge=0, le=30)
    digest: bool = Field(False, description="one mail per unit and day for its reminders and supervisions")
    digest_min: int = Field(3, ge=2, le=1000, description="how many of them make a digest")

    @field_validator("sender", "operator")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        problem = address_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("prefixes")
    @classmethod
    def _known_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(NOTICE_KINDS))
        if unknown:
            raise ValueError(f"unknown notice kind(s) {unknown}; known kinds are {list(NOTICE_KINDS)}")
        return value

    def prefix(self, kind: str) -> str:
        """The 代字 of ``kind``'s document numbers: the office's own from policy.yaml, else the registry's."""
        own = self.prefixes.get(kind)
        return own if own is not None else NOTICE_KINDS[kind].prefix


class Routing(_Strict):
    auto: bool = Field(True, description="route and assign at detection; false leaves hazards 'detected'")


# The jobs `hazardloop run` and `serve` know (flows/scheduler.py, flows/deployments.py); ``schedules`` names them.
SCHEDULED_JOBS = (
    "sweep",
    "dispatch",
    "daily_report",
    "weekly_report",
    "monthly_report",
    "quarterly_report",
    "verify_audit",
)


class Policy(_Strict):
    timezone: str = "Asia/Shanghai"
    fields: dict[str, str]
    calendar: Literal["cn", "weekdays"] = "cn"
    deadlines: Deadlines = Deadlines()
    escalation: Escalation = Escalation()
    extensions: Extensions = Extensions()
    listing: Listing = Listing()
    notices: Notices = Notices()
    routing: Routing = Routing()
    schedules: dict[str, CronExpression] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a known time zone (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one field is needed")
        return value

    @model_validator(mode="after")
    def _known_jobs(self) -> Policy:
        # a misspelt job would otherwise never run (notices never sent), with only a warning once `run` starts
        unknown = [name for name in self.schedules if name not in SCHEDULED_JOBS]
        if unknown:
            raise _error_at(
                ("schedules", unknown[0]),
                f"no job is called '{unknown[0]}' (the jobs are {', '.join(SCHEDULED_JOBS)})",
                unknown[0],
            )
        return self

    @model_validator(mode="after")
    def _overrides_name_fields(self) -> Policy:
        unknown = sorted(set(self.deadlines.by_field) - set(self.fields))
        if unknown:
            raise _error_at(
                ("deadlines", "by_field", unknown[0]),
                f"no such field under 'fields': {', '.join(unknown)} (the fields are {', '.join(self.fields)})",
                unknown,
            )
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def deadline_days(self, field: str, severity: str) -> int:
        days = self.deadlines.by_field.get(field, self.deadlines)
        return days.major if severity == "major" else days.general


def cron_trigger(expr: str, timezone: object) -> object:
    """An APScheduler trigger from a crontab expression: the usual five fields (minute hour day month weekday),
    or six with seconds first (``*/5 * * * * *``) for tests and demos that need a faster beat."""
    from apscheduler.triggers.cron import CronTrigger  # a pure parse, no I/O

    fields = expr.split()
    if len(fields) == 5:
        return CronTrigger.from_crontab(expr, timezone=timezone)
    if len(fields) == 6:
        second, minute, hour, day, month, weekday = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=timezone
        )
    raise ValueError(f"a cron expression has 5 fields (or 6 with seconds first), not {len(fields)}")


POLICY_FIELDS = "policy_fields"  # validation-context key: the field codes policy.yaml defines


class Unit(_Strict):
    code: CodeText = Field(min_length=1, max_length=64, pattern=UNIT_CODE_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    level: UnitLevel
    parent: CodeText | None = None
    short: str | None = None
    emails: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)

    @field_validator("emails")
    @classmethod
    def _plausible_emails(cls, value: list[str]) -> list[str]:
        for addr in value:
            if problem := address_problem(addr):
                raise ValueError(problem)
        return value

    @field_validator("fields")
    @classmethod
    def _policy_fields(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # The policy's fields come in the validation context (see config.loading.load_org), so this error
        # carries the unit's own location like any other.
        known = (info.context or {}).get(POLICY_FIELDS)
        unknown = sorted(set(value) - set(known)) if known is not None else []
        if unknown:
            raise ValueError(f"no such field in policy.yaml: {', '.join(unknown)} (its fields are {', '.join(known)})")
        return value

    @property
    def short_name(self) -> str:
        if self.short:
            return self.short
        for suffix in ("街道", "乡", "镇", "区", "县", "市"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix) + 1:
                # "O'Brien & Sons 街道" → "O'Brien & Sons", not with the blank before the suffix
                return self.name[: -len(suffix)].rstrip() or self.name
        return self.name


class Org(_Strict):
    units: list[Unit]

    @model_validator(mode="after")
    def _a_tree(self) -> Org:
        # Each error names the unit entry and key at fault (units.<index>.<key>), so the loader finds its line.
        seen: dict[str, Unit] = {}
        # Two townships of different counties may share a name (城关镇), and two villages of different townships:
        # a name is unique among the units of one parent, and events tell same-named units apart by code or by the
        # county (or township) they give alongside.
        names: dict[tuple[str | None, str], Unit] = {}
        city: Unit | None = None
        for i, unit in enumerate(self.units):
            if unit.code in seen:
                raise _error_at(("units", i, "code"), f"unit code '{unit.code}' appears twice", unit.code)
            sibling = names.get((unit.parent, unit.name))
            if sibling is not None:
                raise _error_at(
                    ("units", i, "name"),
                    f"unit name '{unit.name}' is also the name of '{sibling.code}', under the same parent; the units "
                    "of one parent need names of their own",
                    unit.name,
                )
            if unit.level == "city" and city is not None:
                raise _error_at(
                    ("units", i, "level"), f"'{city.code}' is already the city; exactly one unit is the city", "city"
                )
            seen[unit.code] = names[(unit.parent, unit.name)] = unit
            city = unit if unit.level == "city" else city
        if city is None:
            raise _error_at(("units",), "no unit has level 'city'; exactly one unit must be the city", None)
        for i, unit in enumerate(self.units):
            # events and commands name a unit by code or by name: one word must not name two units
            other = seen.get(unit.name)
            if other is not None and other is not unit:
                raise _error_at(
                    ("units", i, "name"),
                    f"the name '{unit.name}' of unit '{unit.code}' is the code of another unit, '{other.code}' "
                    f"({other.name}); a unit is named by its code or its name, so the two would be taken for each "
                    "other — rename one",
                    unit.name,
                )
        for i, unit in enumerate(self.units):
            if unit.level == "city":
                if unit.parent:
                    raise _error_at(
                        ("units", i, "parent"), f"the city '{unit.code}' must not have a parent", unit.parent
                    )
                continue
            if not unit.parent:
                raise _error_at(("units", i, "parent"), f"unit '{unit.code}' needs a parent", None)
            parent = seen.get(unit.parent)
            if parent is None:
                raise _error_at(
                    ("units", i, "parent"),
                    f"unit '{unit.code}' names parent '{unit.parent}', which is not a unit",
                    unit.parent,
                )
            allowed = _ALLOWED_PARENTS[unit.level]
            if parent.level not in allowed:
                raise _error_at(
                    ("units", i, "parent"),
                    f"unit '{unit.code}' ({unit.level}) cannot sit under '{parent.code}' ({parent.level}); "
                    f"its parent must be one of {sorted(allowed)}",
                    unit.parent,
                )
            if unit.fields and unit.level != "department":
                raise _error_at(
                    ("units", i, "fields"),
                    f"unit '{unit.code}' is a {unit.level} but lists fields; only departments answer for fields",
                    unit.fields,
                )
        return self

    def __iter__(self) -> Iterator[Unit]:  # type: ignore[override]
        return iter(self.units)


_ALLOWED_PARENTS: dict[str, set[str]] = {
    "county": {"city"},
    "township": {"county", "city"},
    "area": {"county", "city"},
    "village": {"township", "area"},
    "department": {"city", "county", "township"},
}
