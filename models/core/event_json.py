"""What the fast JSON parser of the events does not tell: a key given twice in one object (it keeps the last one
silently, so ``"hazard"`` twice would act on the second hazard named), and which field holds a lone surrogate
(it only says the JSON is invalid).

The duplicate check runs on every line that parsed, so it has fast paths: in a line without an escaped quote
every quote delimits a string, and the keys are exactly the strings followed by a colon. Counting ``":`` against
the keys the parsed event has settles the usual line; a regular expression that lists the keys settles most of
the rest (keys spaced from their colon). Only a line whose keys repeat (or that has an escaped quote) is parsed
again by the standard library, keeping every pair, to say for certain which key is given twice and where.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel

from hazardloop.models.core.text import code_point

_KEY = re.compile(r'"([^"]*)"\s*:')
_SPACED_KEY = re.compile(r'"\s+:')  # a key spaced from its colon, which the count of '":' would miss
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class _Pairs(list[tuple[str, Any]]):
    """An object as the list of its key-value pairs, in order, duplicates kept."""


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a JSON Lines text with their numbers. Lines end at LF (or CRLF) only: U+2028, U+2029 and
    U+0085 may stand raw inside a JSON string, and `str.splitlines` would cut a valid event there and shift the
    number of every line after it; a byte-order mark before the first line is not part of it."""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no line of its own
    return [(number, line.removesuffix("\r")) for number, line in enumerate(lines, start=1)]


def keys_given(model: BaseModel) -> int:
    """How many keys the JSON object a model was parsed from had, counting each key once (its nested objects
    too): the fields it set, as the models forbid unknown keys."""
    fields_set = model.model_fields_set
    count = len(fields_set)
    for name in _nested(type(model)):
        if name in fields_set:
            count += keys_given(getattr(model, name))
    return count


@cache
def _nested(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model whose values are models themselves (objects nested in its JSON)."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
    )


def duplicate_key(raw: str | bytes, distinct_keys: int | None = None) -> tuple[str, str] | None:
    """``(dotted path of the object's key, key)`` of the first key given twice in one object of a valid JSON
    line; None when no key repeats. ``distinct_keys``, the number of different keys the parsed line had (see
    `keys_given`), makes the usual line cost one count: a key is followed by ``":`` (or by blanks and a colon)
    and, in a line without an escaped quote, nothing else is; so when no key is spaced from its colon, as many
    ``":`` as distinct keys means no key repeats."""
    text = raw.decode("utf-8", "surrogatepass") if isinstance(raw, bytes) else raw
    if '\\"' not in text:
        if distinct_keys is not None and text.count('":') == distinct_keys and not _SPACED_KEY.search(text):
            return None
        keys = _KEY.findall(text)
        if "\\" in text:  # a key may be spelt with escapes ("h\u0061zard"): compare what they say
            keys = [json.loads(f'"{k}"') if "\\" in k else k for k in keys]
        if len(set(keys)) == len(keys):
            return None
    return _first_duplicate(json.loads(text, object_pairs_hook=_Pairs), "")


def _first_duplicate(value: Any, path: str) -> tuple[str, str] | None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            here = f"{path}.{key}" if path else key
            if key in seen:
                return here, key
            seen.add(key)
            found = _first_duplicate(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_duplicate(item, f"{path}.{index}")
            if found:
                return found
    return None


def lone_surrogate(raw: str | bytes) -> tuple[str, str] | None:
    """``(dotted path, words)`` for the first string of a JSON line holding a lone surrogate (an escape such as
    ``\\ud800`` without its pair), which the fast parser reports only as invalid JSON; None if there is none or
    the line is invalid for another reason."""
    text = raw.decode("utf-8", "surrogatepass") if isinstance(raw, bytes) else raw
    if not _SURROGATE_ESCAPE.search(text):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return _first_surrogate(value, "")


def _first_surrogate(value: Any, path: str) -> tuple[str, str] | None:
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = [(f"{path}.{k}" if path else k, v) for k, v in value.items()]
        for key in value:
            if _has_surrogate(key):
                return path or "(key)", f"has a key with {_describe(key)}"
    elif isinstance(value, list):
        items = [(f"{path}.{i}", v) for i, v in enumerate(value)]
    elif isinstance(value, str) and _has_surrogate(value):
        return path, f"is not valid text: it contains {_describe(value)}"
    for here, item in items:
        found = _first_surrogate(item, here)
        if found:
            return found
    return None


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _describe(text: str) -> str:
    char = next(c for c in text if 0xD800 <= ord(c) <= 0xDFFF)
    return f"the code point {code_point(char)}"
