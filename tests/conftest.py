"""The suite's fixtures live in ``tests/support/fixtures.py``; this root conftest only loads them, for every tier."""

pytest_plugins = ["tests.support.fixtures"]
