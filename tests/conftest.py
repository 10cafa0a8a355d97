"""The suite's fixtures live in ``tests/support/fixtures.py``; this root conftest loads them for every tier, and marks
each test with its tier (the folder it is in)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["tests.support.fixtures"]

# No per-example deadline: it times the machine, not the code, and on a loaded one the first example of a calendar
# property (which builds the year tables) takes longer than the default 200 ms. A property still fails on any
# counterexample.
settings.register_profile("hazardloop", deadline=None)
settings.load_profile("hazardloop")

TIERS = ("unit", "integration", "e2e")
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(_HERE).parts if item.path.is_relative_to(_HERE) else ()
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])
