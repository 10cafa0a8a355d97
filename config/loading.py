"""Reading ``policy.yaml`` and ``org.yaml`` into the validated models. A bad file fails here, at start, with
the file, the line, the key and the reason (exit 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from models.errors import ConfigError
from models.policy import Org, Policy

M = TypeVar("M", bound=BaseModel)


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location, as far down as it exists."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                key_match = next((k for k, _ in node.value if getattr(k, "value", None) == str(part)), None)
                return key_match.start_mark.line + 1 if key_match is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load_model(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(root, loc)
            where = f", line {line}" if line else ""
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "is not a known setting (check the spelling)"
            elif err["type"] == "missing":
                msg = "is required but missing"
            lines.append(f"{path}{where}, key '{key}': {msg}")
        raise ConfigError("\n".join(lines)) from None


def load_policy(config_dir: Path) -> Policy:
    return load_model(config_dir / "policy.yaml", Policy)


def load_org(config_dir: Path, policy: Policy | None = None) -> Org:
    path = config_dir / "org.yaml"
    org = load_model(path, Org)
    if policy is not None:
        for unit in org.units:
            unknown = sorted(set(unit.fields) - set(policy.fields))
            if unknown:
                raise ConfigError(
                    f"{path}, unit '{unit.code}', key 'fields': {unknown} are not fields of "
                    f"policy.yaml (known: {', '.join(policy.fields)})"
                )
    return org
