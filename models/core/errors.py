"""The engine's typed errors. One base class; each maps to one exit code of the contract.

Messages are written for a safety-office operator: what is wrong, where, in one or two plain sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class HazardloopError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input line (or config key): where it is and what is wrong."""

    message: str
    source: str | None = None  # file name, or "-" for standard input
    line: int | None = None  # 1-based line (or spreadsheet row) number
    field: str | None = None  # dotted field path, e.g. "hazard.severity"
    refused: bool = False  # True when the input is valid but the transition is not allowed

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class InvalidInput(HazardloopError):
    """The input cannot be understood or names something that does not exist (exit 2)."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFound(InvalidInput):
    """What is named does not exist, or not for this account (outside its jurisdiction): exit 2, HTTP 404."""


class Refused(HazardloopError):
    """The input is valid but the action is not allowed now or not by this actor (exit 3)."""

    exit_code = 3

    def __init__(
        self, message: str, *, field: str | None = None, state: str | None = None, event: str | None = None
    ) -> None:
        self.field = field  # the event field the refusal is about: "actor" (who), "type" (what, in this state)
        self.state = state
        self.event = event
        super().__init__(message)


@dataclass
class Rejections(HazardloopError):
    """Several lines of one file failed; carries every problem so all can be reported at once."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        # Invalid input outranks a refusal: fix the file first, then the refused transitions make sense.
        return 3 if self.problems and all(p.refused for p in self.problems) else 2

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class ConfigError(HazardloopError):
    """policy.yaml or org.yaml is unusable (exit 4)."""

    exit_code = 4


class ConflictError(HazardloopError):
    """Another writer changed the same hazard at the same moment; the caller may retry."""

    exit_code = 1
