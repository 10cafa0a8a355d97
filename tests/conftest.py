"""The suite's fixtures live in ``tests/support/fixtures.py``; this root conftest loads them for every tier, and marks
each test with its tier (the folder it is in)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests judge behaviour, not speed: on a loaded machine (CI runners, parallel workers) an example that takes
# longer than hypothesis' default 200 ms deadline is not a failure.
settings.register_profile("hazardloop", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hazardloop")

pytest_plugins = ["tests.support.fixtures"]

TIERS = ("unit", "integration", "e2e")
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(_HERE).parts if item.path.is_relative_to(_HERE) else ()
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])
