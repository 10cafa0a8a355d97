"""Reading ``policy.yaml`` and ``org.yaml`` into the validated models. A bad file fails here, at start, with
the file, the line, the key and the reason (exit 4)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hazardloop.models.core.errors import ConfigError
from hazardloop.models.core.indicators import INDICATOR_FIELDS, INDICATOR_ORG, NO_INDICATORS, IndicatorSet
from hazardloop.models.core.policy import PATTERN_RULES, POLICY_FIELDS, Org, Policy

M = TypeVar("M", bound=BaseModel)
# LibYAML's safe loader where PyYAML was built with it (the wheels are): the same documents and marks, read about
# eight times faster than by the pure-Python one, which every command would otherwise spend a quarter of a second in
# (org.yaml and indicators.yaml); the pure-Python loader elsewhere.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _place_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int | None, yaml.Node | None]:
    """The 1-based line of the setting at a pydantic error location, as far down as the file has it (a missing
    key gives the line of the entry that lacks it), and its node when the file has it all the way down. A mapping
    entry's line is its key's: a block's value only starts on the line after ``escalation:``."""
    if root is None:
        return None, None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if entry is None:
                return line, None
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line, None
    return line, node


def _repeated_key(root: yaml.Node | None) -> tuple[str, int, int] | None:
    """``(key, its line, the line of its first appearance)`` of the first key given twice in one mapping of a
    YAML document: PyYAML keeps the last silently, so a unit's second ``emails:`` would quietly replace its
    first. None if no key repeats."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, _value in node.value:
                name, line = key.value if isinstance(key, yaml.ScalarNode) else None, key.start_mark.line + 1
                if name in seen:
                    return str(name), line, seen[name]
                if name is not None and name != "<<":  # "<<" merges another mapping in, and may repeat
                    seen[name] = line
            stack.extend(value for _key, value in reversed(node.value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return None


_INT_TAG = "tag:yaml.org,2002:int"
_PLAIN_WHOLE_NUMBER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")


def _misread_number(root: yaml.Node | None) -> tuple[str, int] | None:
    """``(text, line)`` of the first unquoted scalar that YAML reads as a whole number other than the one written:
    ``0571`` (octal, 377), ``0x1F``, ``1_000``, ``1:30`` (90). A code such as ``0571`` would silently become another
    code, and a number so written is not what it seems either. None if there is none."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _INT_TAG and not node.style and not _PLAIN_WHOLE_NUMBER.fullmatch(node.value):
                return node.value, node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in reversed(node.value) for part in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return None


def _plain(err: ErrorDetails, node: yaml.Node | None) -> str:
    """Pydantic's message, in words an operator understands where pydantic's own would not do."""
    if err["type"] == "extra_forbidden":
        return "is not a known setting (check the spelling)"
    if err["type"] == "missing":
        return "is required but missing"
    if err["type"] == "string_type" and isinstance(err["input"], int | float):
        # as written in the file: YAML reads 330.2030 as the number 330.203, and NO or on as false or true
        written = node.value if isinstance(node, yaml.ScalarNode) else str(err["input"])
        what = "true or false" if isinstance(err["input"], bool) else "a number"
        return f'{written} is read as {what}, but text is expected here: write it in quotes ("{written}")'
    if err["type"] == "string_pattern_mismatch":
        rule = PATTERN_RULES.get(str(err.get("ctx", {}).get("pattern")), "it does not have the expected form")
        return f"'{err['input']}' is not allowed: {rule}"
    return err["msg"].removeprefix("Value error, ")


def load_model(path: Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}, line {line}: not UTF-8 text (byte {exc.start + 1} of the file cannot be read); "
            "save the file as UTF-8"
        ) from None
    try:
        root = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # a safe loader: plain data, never Python objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    repeated = _repeated_key(root)
    if repeated:
        key, line, first = repeated
        raise ConfigError(
            f"{path}, line {line}: the key '{key}' is given twice in one mapping (first on line {first}); "
            "keep one, so that it is clear which setting is meant"
        )
    misread = _misread_number(root)
    if misread:
        text, line = misread
        raise ConfigError(
            f"{path}, line {line}: YAML reads {text} as the number {yaml.safe_load(text)}, not as written; "
            f'write it in quotes ("{text}") if it is a code or a name, or as a plain number if it is one'
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc) or "(top level)"
            line, node = _place_of(root, loc)
            where = f", line {line}" if line else ""
            lines.append(f"{path}{where}, key '{key}': {_plain(err, node)}")
        raise ConfigError("\n".join(lines)) from None


def load_policy(config_dir: Path) -> Policy:
    return load_model(config_dir / "policy.yaml", Policy)


def load_org(config_dir: Path, policy: Policy | None = None) -> Org:
    # The policy's fields go in as context so that a department naming an unknown one is reported like any other
    # bad key, with its line.
    context = {POLICY_FIELDS: list(policy.fields)} if policy is not None else None
    return load_model(config_dir / "org.yaml", Org, context)


INDICATORS_FILE = "indicators.yaml"


def load_indicators(config_dir: Path, policy: Policy, org: Org) -> IndicatorSet:
    """The indicator system beside the policy; a folder without ``indicators.yaml`` has no indicators (config
    folders written before indicators existed keep working). Checked against the organisation and the policy."""
    path = config_dir / INDICATORS_FILE
    if not path.exists():
        return NO_INDICATORS
    return load_model(path, IndicatorSet, {INDICATOR_ORG: org, INDICATOR_FIELDS: list(policy.fields)})
