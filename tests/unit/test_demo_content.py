"""The demo content generators and the default configuration files they go with."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from hazardloop.demo import content as dc

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def policy() -> dict:
    return yaml.safe_load((CONFIG / "policy.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def units() -> list[dict]:
    return yaml.safe_load((CONFIG / "org.yaml").read_text(encoding="utf-8"))["units"]


def _everything(seed: int) -> list[object]:
    rng = random.Random(seed)
    out: list[object] = []
    for field in dc.FIELD_WEIGHTS:
        out.append(dc.hazard_text(rng, field, "府山街道"))
        out.append(dc.extension_reason(rng, field))
        out.append(dc.return_reason(rng, field))
        out.append(dc.rectification_note(rng, field))
    out += [dc.person_name(rng), dc.verification_note(rng), dc.invalid_reason(rng), dc.reassign_reason(rng)]
    out.append(dc.evidence_refs(rng, "HZ-2025-000001"))
    out.append(dc.campaign_plan(rng, 2025))
    return out


# --- determinism -------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_content() -> None:
    assert _everything(42) == _everything(42)


def test_different_seeds_give_different_content() -> None:
    assert _everything(1) != _everything(2)


# --- hazard texts --------------------------------------------------------------------------------------


def test_every_policy_field_has_templates_and_weights(policy: dict) -> None:
    assert set(policy["fields"]) == set(dc.FIELD_WEIGHTS)
    for field in policy["fields"]:
        assert len(dc._SCENARIOS[field]) >= 12, field
        assert dc.FIELD_WEIGHTS[field] > 0


def test_the_commonest_fields_are_safety_production_road_traffic_and_fire() -> None:
    top = sorted(dc.FIELD_WEIGHTS, key=dc.FIELD_WEIGHTS.__getitem__, reverse=True)[:3]
    assert set(top) == {"safety_production", "road_traffic", "fire"}


@pytest.mark.parametrize("field", list(dc.FIELD_WEIGHTS))
def test_a_thousand_draws_are_varied_short_titled_and_name_the_place(field: str) -> None:
    rng = random.Random(7)
    titles = set()
    for _ in range(1000):
        title, description = dc.hazard_text(rng, field, "枫桥镇")
        assert 0 < len(title) <= 30, title
        assert "{" not in title and "{" not in description
        assert "枫桥镇" in description
        assert 1 <= description.count("。") <= 3, description
        titles.add(title)
    assert len(titles) >= 200


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown_field"):
        dc.hazard_text(random.Random(0), "unknown_field", "府山街道")


def test_sources_and_weights_agree() -> None:
    assert (
        set(dc.SOURCES)
        == set(dc.SOURCE_WEIGHTS)
        == {
            "grid_patrol",
            "hotline",
            "sensor",
            "monitoring",
            "campaign",
            "self_inspection",
            "public_report",
        }
    )
    assert dc.SOURCES["hotline"] == "12345热线"


# --- campaigns -----------------------------------------------------------------------------------------


def test_campaigns_cover_every_field_and_stay_within_the_year() -> None:
    plan = dc.campaign_plan(random.Random(3), 2025)
    assert len(plan) == 25
    assert {c.field for c in plan} == set(dc.FIELD_WEIGHTS)
    assert [c.code for c in plan] == [f"ZX-2025-{i:02d}" for i in range(1, 26)]
    assert [c.start for c in plan] == sorted(c.start for c in plan)
    for number, c in enumerate(plan, start=1):
        assert c.name.startswith(f"2025年第{number}批")
        assert 2 <= c.weeks <= 6
        assert c.intensity > 0
        assert c.start.year == 2025 and c.end.year == 2025
    months = {c.start.month for c in plan}
    assert len(months) >= 10  # spread over the year, not bunched


def test_campaign_is_immutable() -> None:
    campaign = dc.campaign_plan(random.Random(3), 2025, count=10)[0]
    with pytest.raises(AttributeError):
        campaign.weeks = 9  # type: ignore[misc]


# --- people and notes ----------------------------------------------------------------------------------


def test_person_names_look_chinese() -> None:
    rng = random.Random(11)
    names = {dc.person_name(rng) for _ in range(500)}
    assert len(names) > 300
    assert all(2 <= len(n) <= 3 and all("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names)


def test_notes_are_non_empty_for_every_field() -> None:
    rng = random.Random(5)
    for field in dc.FIELD_WEIGHTS:
        for make in (dc.extension_reason, dc.return_reason, dc.rectification_note):
            assert make(rng, field)
    for make_plain in (dc.verification_note, dc.invalid_reason, dc.reassign_reason):
        assert make_plain(rng)


def test_evidence_refs_name_the_hazard() -> None:
    rng = random.Random(9)
    for _ in range(50):
        refs = dc.evidence_refs(rng, "HZ-2025-000123")
        assert refs and refs[0] == "photo/HZ-2025-000123-1.jpg"
        assert all("HZ-2025-000123" in r for r in refs)


# --- org.yaml ----------------------------------------------------------------------------------------


def test_org_codes_are_unique_and_every_parent_exists(units: list[dict]) -> None:
    codes = [u["code"] for u in units]
    assert len(codes) == len(set(codes))
    assert len({u["name"] for u in units}) == len(units)
    for unit in units:
        if unit["level"] != "city":
            assert unit["parent"] in codes, unit["code"]
            assert unit["code"].startswith(unit["parent"] + "-"), unit["code"]


def test_org_has_one_city_and_about_a_hundred_townships(units: list[dict]) -> None:
    assert [u["name"] for u in units if u["level"] == "city"] == ["绍兴市"]
    assert sum(u["level"] == "township" for u in units) >= 90
    counties = [u for u in units if u["level"] == "county"]
    for county in counties:
        assert sum(u.get("parent") == county["code"] and u["level"] == "township" for u in units) >= 5


def test_org_department_fields_are_policy_fields(units: list[dict], policy: dict) -> None:
    departments = [u for u in units if u["level"] == "department"]
    assert departments
    answered = set()
    for dept in departments:
        assert dept["fields"], dept["code"]
        assert set(dept["fields"]) <= set(policy["fields"]), dept["code"]
        answered |= set(dept["fields"])
    assert answered == set(policy["fields"]) - {"other"}
    for unit in units:
        if unit["level"] != "department":
            assert "fields" not in unit, unit["code"]


def test_org_every_unit_has_an_example_org_address_and_a_short_name(units: list[dict]) -> None:
    for unit in units:
        assert unit["emails"], unit["code"]
        for addr in unit["emails"]:
            local, _, domain = addr.partition("@")
            assert local.isascii() and local, addr
            assert domain == "example.org" or domain.endswith(".example.org"), addr
        assert 2 <= len(unit["short"]) <= 4, unit["code"]
    shorts = [u["short"] for u in units]
    assert len(shorts) == len(set(shorts))


def test_org_and_policy_validate_against_the_models(units: list[dict], policy: dict) -> None:
    from hazardloop.models.core.policy import Org, Policy

    Org.model_validate({"units": units})
    Policy.model_validate(policy)
