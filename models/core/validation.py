"""Turning pydantic's validation errors into problems an operator can act on: which line, which field,
what is wrong, in plain words."""

from __future__ import annotations

from pydantic import ValidationError

from hazardloop.models.core.errors import Problem
from hazardloop.models.core.events import EVENT_TYPES
from hazardloop.models.core.text import pattern_problem

_ISO_HINT = "use ISO 8601 like 2025-10-13T09:30:00+08:00"
_PLAIN = {
    "missing": "is missing",
    "extra_forbidden": "is not a field of this event",
    "string_too_short": "must not be empty",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "datetime_type": "must be a date and time like 2025-10-13T09:30:00+08:00",
    "datetime_parsing": f"is not a valid date and time ({_ISO_HINT})",
    "datetime_from_date_parsing": f"is not a valid date and time ({_ISO_HINT})",
    "timezone_aware": "needs a time zone offset, e.g. 2025-10-13T09:30:00+08:00",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "string_unicode": "is not valid text: it holds a lone surrogate (bytes that were not UTF-8 text)",
}


def problems_from(exc: ValidationError, *, source: str | None, line: int | None) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        kind, loc = err["type"], [str(p) for p in err["loc"]]
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]  # the union tag pydantic prepends
        field = ".".join(loc) or None
        if kind == "json_invalid":
            msg = f"the line is not valid JSON ({err['msg'].removeprefix('Invalid JSON: ')})"
            field = None
        elif kind == "union_tag_not_found":
            msg, field = "the event has no 'type'", "type"
        elif kind == "union_tag_invalid":
            msg = (
                f"unknown event type {err['input'].get('type')!r} — known types: {', '.join(EVENT_TYPES)}"
                if isinstance(err.get("input"), dict)
                else "unknown event type"
            )
            field = "type"
        elif kind == "string_pattern_mismatch" and (
            words := pattern_problem(str(err.get("ctx", {}).get("pattern")), err.get("input"))
        ):
            msg = words
        elif kind == "literal_error":
            msg = f"{err['input']!r} is not allowed here; expected {err['ctx'].get('expected', '')}"
        elif kind in ("greater_than_equal", "greater_than"):
            msg = f"must be at least {err['ctx'].get('ge', err['ctx'].get('gt'))} (got {err['input']!r})"
        elif kind in ("less_than_equal", "less_than"):
            msg = f"must be at most {err['ctx'].get('le', err['ctx'].get('lt'))} (got {err['input']!r})"
        elif kind == "string_too_long":
            limit = err.get("ctx", {}).get("max_length")
            size = len(err["input"]) if isinstance(err.get("input"), str) else None
            msg = f"is too long ({size} characters); at most {limit} are allowed"
        elif kind == "too_long":
            limit = err.get("ctx", {}).get("max_length")
            size = err.get("ctx", {}).get("actual_length")
            msg = f"has too many items ({size}); at most {limit} are allowed"
        elif kind == "instant_out_of_range":
            shown = err["input"].isoformat() if hasattr(err["input"], "isoformat") else str(err["input"])
            msg = f"{shown!r} {err['msg']}"
        elif kind == "model_attributes_type" or (kind == "model_type" and not loc):
            msg, field = "each line must be one JSON object (an event)", None
        else:
            msg = _PLAIN.get(kind, err["msg"].lower())
            if kind in ("datetime_parsing", "datetime_from_date_parsing", "timezone_aware", "datetime_type"):
                msg = f"{err['input']!r} {msg}" if isinstance(err.get("input"), str) else msg
        problems.append(Problem(msg, source=source, line=line, field=field))
    return problems
