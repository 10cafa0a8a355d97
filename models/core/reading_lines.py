"""Reading lines of monitoring-point readings: CSV with a header (``point,instant,value``) or JSON Lines
(``{"point": …, "instant": …, "value": …}``), told apart by the first line that is not blank. Every bad line is
named with its file, line and field; nothing about a line is trusted (it may come from any outside system)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hazardloop.models.core.errors import Problem
from hazardloop.models.core.event_json import duplicate_key
from hazardloop.models.core.indicators import IndicatorSet
from hazardloop.models.core.text import visible

FIELDS = ("point", "instant", "value")


@dataclass(slots=True)
class Reading:
    line: int
    point: str
    at: datetime
    value: float


def _shown(value: object, limit: int = 60) -> str:
    """A value as a message may quote it: one line, cut short, with what a terminal could act on and what no
    UTF-8 can carry (a lone surrogate from a JSON escape such as ``\\ud800``) written as escapes: it may be anything
    at all, and the message goes to a terminal or into a JSON answer."""
    text = visible(" ".join(str(value).split()), keep_newlines=False)
    return text if len(text) <= limit else text[:limit] + "…"


class ReadingParser:
    """Turns lines into readings of known points, at instants no later than ``now``."""

    def __init__(self, indicators: IndicatorSet, source: str, now: datetime) -> None:
        self.points, self.source, self.now = indicators.point, source, now
        self.columns: dict[str, int] | None = None  # CSV: the header's column of each field
        self.is_json: bool | None = None

    def parse(self, lines: Sequence[tuple[int, str]], problems: list[Problem]) -> list[Reading]:
        out: list[Reading] = []
        points, now, fromiso, isfinite = self.points, self.now, datetime.fromisoformat, math.isfinite
        instants: dict[str, datetime] = {}
        for lineno, raw in lines:
            if not raw.strip():
                continue
            if self.is_json is None:
                self.is_json = raw.lstrip().startswith("{")
                if not self.is_json:
                    self._header(lineno, raw, problems)
                    continue
            if not self.is_json and self.columns and '"' not in raw:
                # the usual line, read in a few calls; anything odd about it goes the slow way, which names it
                parts = raw.split(",")
                try:
                    point = parts[self.columns["point"]].strip()
                    text = parts[self.columns["instant"]]
                    at = instants.get(text)
                    if at is None:  # the points of a file share their instants: one parse and one object each
                        at = instants[text] = fromiso(text.strip())
                    number = float(parts[self.columns["value"]])
                except (IndexError, ValueError):
                    pass
                else:
                    if point in points and at.tzinfo is not None and at <= now and isfinite(number):
                        out.append(Reading(lineno, point, at, number))
                        continue
            values = self._json(lineno, raw, problems) if self.is_json else self._csv(lineno, raw, problems)
            if values is not None:
                reading = self._reading(lineno, *values, problems=problems)
                if reading is not None:
                    out.append(reading)
        return out

    def _problem(self, problems: list[Problem], line: int, field: str | None, message: str) -> None:
        problems.append(Problem(message, source=self.source, line=line, field=field))

    def _header(self, lineno: int, raw: str, problems: list[Problem]) -> None:
        names = [name.strip().lower() for name in next(csv.reader([raw]))]
        missing = [f for f in FIELDS if f not in names]
        if missing:
            self._problem(
                problems,
                lineno,
                None,
                f"the CSV header must name the columns point, instant and value; it lacks {', '.join(missing)} "
                "(a JSON Lines file starts each line with '{')",
            )
            self.columns = {}
            return
        self.columns = {f: names.index(f) for f in FIELDS}

    def _csv(self, lineno: int, raw: str, problems: list[Problem]) -> tuple[object, object, object] | None:
        if not self.columns:
            return None  # the header was bad: reported once
        # most lines have no quoting: a plain split reads them several times faster than the csv module
        row = raw.split(",") if '"' not in raw else next(csv.reader([raw]), [])
        if len(row) < len(self.columns) or len(row) <= max(self.columns.values()):
            self._problem(problems, lineno, None, f"expected {len(FIELDS)} columns (point, instant, value)")
            return None
        return tuple(row[self.columns[f]].strip() for f in FIELDS)  # type: ignore[return-value]

    def _json(self, lineno: int, raw: str, problems: list[Problem]) -> tuple[object, object, object] | None:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            self._problem(problems, lineno, None, f"not valid JSON ({_shown(exc)})")
            return None
        except RecursionError:  # thousands of nested brackets: past what the parser reads, and no reading anyway
            self._problem(problems, lineno, None, "not valid JSON (it nests too deeply to read)")
            return None
        if not isinstance(data, dict):
            self._problem(problems, lineno, None, "expected a JSON object with point, instant and value")
            return None
        twice = duplicate_key(raw, len(data))  # json.loads keeps the last of a key given twice, silently
        if twice is not None:
            self._problem(problems, lineno, _shown(twice[0], 40), "is given twice in one object; give each field once")
            return None
        extra = sorted(set(data) - set(FIELDS))
        if extra:
            self._problem(problems, lineno, _shown(extra[0], 40), "is not a field of a reading (point, instant, value)")
            return None
        missing = [f for f in FIELDS if f not in data]
        if missing:
            for f in missing:
                self._problem(problems, lineno, f, "is required but missing")
            return None
        return data["point"], data["instant"], data["value"]

    def _reading(
        self, lineno: int, point: object, instant: object, value: object, *, problems: list[Problem]
    ) -> Reading | None:
        before = len(problems)
        if not isinstance(point, str) or point.strip() not in self.points:
            self._problem(problems, lineno, "point", f"'{_shown(point)}' is not a monitoring point in indicators.yaml")
        at = self._instant(lineno, instant, problems)
        number = self._value(lineno, value, problems)
        if len(problems) > before or at is None or number is None:
            return None
        return Reading(lineno, point.strip(), at, number)  # type: ignore[union-attr]

    def _instant(self, lineno: int, instant: object, problems: list[Problem]) -> datetime | None:
        if not isinstance(instant, str) or not instant.strip()[:4].isdigit():
            self._problem(
                problems,
                lineno,
                "instant",
                f"'{_shown(instant)}' is not an ISO 8601 instant (e.g. 2025-10-13T09:00+08:00)",
            )
            return None
        try:
            at = datetime.fromisoformat(instant.strip())
        except ValueError:
            self._problem(problems, lineno, "instant", f"'{_shown(instant)}' is not a valid date and time")
            return None
        if at.tzinfo is None:
            self._problem(
                problems, lineno, "instant", f"'{_shown(instant)}' has no time zone offset (e.g. +08:00 at the end)"
            )
            return None
        if at > self.now:
            self._problem(
                problems,
                lineno,
                "instant",
                f"the reading is dated {at.isoformat()}, after the moment the command acts at ({self.now.isoformat()})",
            )
            return None
        return at

    def _value(self, lineno: int, value: object, problems: list[Problem]) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self._problem(problems, lineno, "value", f"'{_shown(value)}' is not a number")
            return None
        try:
            number = float(value)
        except ValueError:
            self._problem(problems, lineno, "value", f"'{_shown(value)}' is not a number")
            return None
        if not math.isfinite(number):
            self._problem(problems, lineno, "value", f"'{_shown(value)}' is not a finite number")
            return None
        return number
