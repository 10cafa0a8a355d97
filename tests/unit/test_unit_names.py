"""The short name a document number uses, derived from a unit's name when ``org.yaml`` gives none."""

from __future__ import annotations

import pytest

from hazardloop.models.core.policy import Unit


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("府山街道", "府山"),
        ("城关镇", "城关"),
        ("越城区", "越城"),
        ("O'Brien & Sons 街道", "O'Brien & Sons"),  # not with the blank before the suffix
        ("东乡", "东乡"),  # the suffix alone would leave one character: the name stays whole
        ("Harbour Park", "Harbour Park"),
    ],
)
def test_a_derived_short_name_drops_the_suffix_and_the_blank_before_it(name: str, short: str) -> None:
    assert Unit(code="U1", name=name, level="township", parent="C").short_name == short
