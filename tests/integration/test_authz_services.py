"""The services under a proven principal, on SQLite and PostgreSQL: a report outside the account's area names the
township and writes nothing; what a village station reports it sees, the next village does not; a department's
list holds its field in its area and nothing else, counted in SQL."""

from __future__ import annotations

from typing import Any

import pytest

from hazardloop.models.core.authz import account_principal
from hazardloop.models.core.errors import InvalidInput, NotFound
from hazardloop.services import hazards


def who(app: Any, unit: str, *roles: str) -> Any:
    return account_principal(
        app.tree,
        account_id=1,
        login=unit.lower(),
        name="某人",
        unit_code=unit,
        roles=roles,
        via="token",
        credential_id="tok_test",
        client="127.0.0.1",
    )


def report(app: Any, principal: Any, ref: str, township: str, field: str = "other") -> Any:
    return hazards.detect(
        app,
        principal,
        {
            "ref": ref,
            "title": f"隐患{ref}",
            "description": "描述",
            "field": field,
            "severity": "general",
            "township": township,
        },
    )


def test_a_report_outside_the_area_names_the_township_and_writes_nothing(app: Any) -> None:
    station = who(app, "SX-YC-FS-CQ", "staff")
    with pytest.raises(InvalidInput) as raised:
        report(app, station, "OUT-1", "塔山街道")
    assert raised.value.problems[0].field == "hazard.township"
    assert hazards.list_page(app, who(app, "SX", "viewer"), hazards.HazardFilter()).items == []


def test_what_a_station_reports_it_sees_and_the_next_village_does_not(app: Any) -> None:
    made = report(app, who(app, "SX-YC-FS-CQ", "staff"), "IN-1", "府山街道")
    hazard = made.hazard["id"]
    assert made.hazard["reporter"] == "SX-YC-FS-CQ/某人"
    assert hazards.show(app, who(app, "SX-YC-FS-CQ", "viewer"), hazard)["id"] == hazard
    with pytest.raises(NotFound):
        hazards.show(app, who(app, "SX-YC-FS-XXL", "viewer"), hazard)
    assert [h["id"] for h in hazards.list_page(app, who(app, "SX-YC-FS", "viewer"), hazards.HazardFilter()).items] == [
        hazard
    ]


def test_a_department_lists_its_field_in_its_area_only(app: Any) -> None:
    reporter = who(app, "SX", "staff")
    report(app, reporter, "F-YC", "府山街道", field="fire")  # routed to 越城区消防
    report(app, reporter, "O-YC", "府山街道", field="other")
    report(app, reporter, "F-KQ", "柯桥街道", field="fire")
    fire_yc = who(app, "SX-YC-XF", "viewer")
    refs = [h["ref"] for h in hazards.list_page(app, fire_yc, hazards.HazardFilter()).items]
    assert refs == ["F-YC"]
    city_fire = who(app, "SX-XF", "viewer")
    assert sorted(h["ref"] for h in hazards.list_page(app, city_fire, hazards.HazardFilter()).items) == [
        "F-KQ",
        "F-YC",
    ]
