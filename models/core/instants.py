"""The range of instants the engine accepts. Dates far outside it are typing mistakes (a year 1 or 9999), and
some cannot even be converted to UTC or stored; they are refused as invalid input wherever an instant comes in:
an event's ``at``, ``--now``, a report's period."""

from __future__ import annotations

from datetime import UTC, date, datetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
RANGE_WORDS = "the engine accepts dates from 2000-01-01 up to 2100-01-01"


def instant_in_range(value: datetime) -> bool:
    """``value`` must carry its offset (aware instants compare across zones without converting)."""
    if EARLIEST.year < value.year < LATEST.year - 1 and value.utcoffset() is not None:
        return True  # a year inside the range, whatever the offset (at most a day): no need to compare instants
    return EARLIEST <= value < LATEST


def day_in_range(value: date) -> bool:
    return EARLIEST.date() <= value < LATEST.date()


def out_of_range_words(shown: str) -> str:
    return f"{shown} is out of range: {RANGE_WORDS}"
