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


# The modules that take longest, longest first (measured with --durations; a module's tests stay together and keep
# their order). `make test` gives each of its two workers a whole module at a time (--dist loadfile, without xdist's
# reordering by number of tests: pyproject's addopts): started first, the long ones run alongside the many short ones
# instead of leaving one worker alone with, say, the demo at the end. A module missing here only runs later.
LONGEST_FIRST = (
    "e2e/test_demo.py",
    "e2e/test_prefect_server.py",
    "integration/test_pg_concurrency.py",
    "e2e/test_report_cli.py",
    "e2e/test_run_unattended.py",
    "e2e/test_api_auth.py",
    "e2e/test_api_events.py",
    "e2e/test_bad_input.py",
    "integration/test_dispatch_failures.py",
    "e2e/test_whatif.py",
    "e2e/test_console_guards.py",
    "e2e/test_refused.py",
    "integration/test_audit_chain.py",
    "e2e/test_api_authz_matrix.py",
    "e2e/test_input_range.py",
    "e2e/test_api_readings.py",
    "e2e/test_hostile_input.py",
    "e2e/test_readings.py",
    "integration/test_lifecycle_properties.py",
    "e2e/test_run_time_travel.py",
    "e2e/test_hostile_ledger.py",
    "e2e/test_install.py",
    "integration/test_analysis.py",
    "e2e/test_console_supervision.py",
    "e2e/test_cli_loop.py",
    "integration/test_sweep_pipeline.py",
    "e2e/test_event_order.py",
    "e2e/test_source_ref.py",
    "e2e/test_notice_wording.py",
    "e2e/test_hostile_output.py",
    "e2e/test_verifier_clock.py",
    "e2e/test_ledger_import.py",
    "e2e/test_console_lifecycle.py",
    "e2e/test_flows_prefect.py",
    "integration/test_accounts.py",
    "integration/test_services_jobs.py",
    "e2e/test_input_limits.py",
)
_RANK = {name: rank for rank, name in enumerate(LONGEST_FIRST)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(_HERE).parts if item.path.is_relative_to(_HERE) else ()
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])
    # a stable sort: the other modules keep the order they were collected in, after the long ones
    items.sort(key=_rank)


def _rank(item: pytest.Item) -> int:
    if not item.path.is_relative_to(_HERE):
        return len(_RANK)
    return _RANK.get("/".join(item.path.relative_to(_HERE).parts), len(_RANK))
