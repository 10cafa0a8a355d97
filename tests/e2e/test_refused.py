"""Refusals: a well-formed event that the hazard's state or the actor's place in the organisation does not
allow exits 3, says why in plain words, and writes nothing. Each test runs on SQLite and on PostgreSQL and
compares the whole exported state before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import COUNTY_CODE, FIRE_UNIT, TOWNSHIP, TOWNSHIP_CODE, detected, event, full_loop
from tests.support.fixtures import Cli, seeded_cli, write_events

NOW = "2025-03-10T12:00:00+08:00"
MON = "2025-03-03"
LATER = "2025-03-04T09:00:00+08:00"
OTHER_COUNTY = "SX-KQ"  # 柯桥区
OTHER_COUNTY_TOWNSHIP = "SX-KQ-KQ"  # 柯桥街道


def on_monday(clock: str) -> str:
    return f"{MON}T{clock}:00+08:00"


@pytest.fixture
def seeded(cli: Cli, tmp_path: Path) -> Cli:
    """One hazard in each state the refusals need.

    CLEARED-1 cleared; INVALID-1 closed as invalid; ASSIGNED-1 assigned to the fire brigade; RECT-1 being
    rectified by it; PENDING-1 waiting for verification of the fire brigade's work; OWN-1 (field 'other')
    waiting for verification of the township's own work."""

    def seed() -> None:
        history = [
            *full_loop("CLEARED-1"),
            detected("INVALID-1", on_monday("08:00")),
            event("hazard.invalidated", "INVALID-1", on_monday("08:30"), TOWNSHIP_CODE, reason="重复上报"),
            detected("ASSIGNED-1", on_monday("08:00")),
            detected("RECT-1", on_monday("08:00")),
            event("hazard.acknowledged", "RECT-1", on_monday("09:00"), FIRE_UNIT),
            detected("PENDING-1", on_monday("08:00")),
            event("hazard.acknowledged", "PENDING-1", on_monday("09:00"), FIRE_UNIT),
            event("rectification.submitted", "PENDING-1", on_monday("10:00"), FIRE_UNIT, note="已整改", evidence=[]),
            detected("OWN-1", on_monday("08:00"), field="other"),
            event("hazard.acknowledged", "OWN-1", on_monday("09:00"), TOWNSHIP_CODE),
            event("rectification.submitted", "OWN-1", on_monday("10:00"), TOWNSHIP_CODE, note="已整改", evidence=[]),
        ]
        cli.ok("apply", str(write_events(tmp_path / "seed.jsonl", history)), now=NOW)
        states = {h["ref"]: (h["state"], h["unit"]) for h in cli.json("hazards", now=NOW)}
        assert states == {
            "CLEARED-1": ("cleared", FIRE_UNIT),
            "INVALID-1": ("invalid", FIRE_UNIT),
            "ASSIGNED-1": ("assigned", FIRE_UNIT),
            "RECT-1": ("rectifying", FIRE_UNIT),
            "PENDING-1": ("pending_verification", FIRE_UNIT),
            "OWN-1": ("pending_verification", TOWNSHIP_CODE),
        }

    return seeded_cli(cli, "refused", seed)


def refused(cli: Cli, *args: str, check_unchanged: bool = True, field: str | None = None) -> str:
    """Run a command that must be refused (exit 3) without writing anything; return its stderr. ``field``: the
    field (or the command's option) the message must name."""
    before = cli.export(NOW) if check_unchanged else None
    result = cli(*args, now=NOW)
    assert result.exit_code == 3, f"exit {result.exit_code}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    if check_unchanged:
        assert cli.export(NOW) == before, "a refused command changed the database"
    assert result.stderr.strip(), "a refusal must say why"
    if field is not None:
        assert f"field '{field}'" in result.stderr, f"the refusal does not name {field!r}:\n{result.stderr}"
    return result.stderr


def refused_event(
    cli: Cli, tmp_path: Path, one: dict[str, Any], check_unchanged: bool = True, field: str | None = None
) -> str:
    path = write_events(tmp_path / f"{one['event_id']}.jsonl", [one])
    stderr = refused(cli, "apply", str(path), check_unchanged=check_unchanged, field=field)
    assert f"{path}, line 1" in stderr, stderr
    return stderr


def applies(cli: Cli, tmp_path: Path, one: dict[str, Any]) -> None:
    cli.ok("apply", str(write_events(tmp_path / f"{one['event_id']}.jsonl", [one])), now=NOW)


# --- the hazard's state -----------------------------------------------------------------------------------


def test_acknowledging_twice_is_refused_naming_the_state(seeded: Cli, tmp_path: Path) -> None:
    stderr = refused_event(seeded, tmp_path, event("hazard.acknowledged", "RECT-1", LATER, FIRE_UNIT), field="type")
    assert "rectifying" in stderr


def test_submitting_before_acknowledging_is_refused_naming_the_state(seeded: Cli, tmp_path: Path) -> None:
    submit = event("rectification.submitted", "ASSIGNED-1", LATER, FIRE_UNIT, note="已整改", evidence=["a.jpg"])
    stderr = refused_event(seeded, tmp_path, submit, field="type")
    assert "assigned" in stderr
    assert "acknowledg" in stderr, "the message should point at the missing acknowledgement"


CLOSED_EVENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("hazard.acknowledged", FIRE_UNIT, {}),
    ("hazard.assigned", COUNTY_CODE, {"unit": "SX-YC-JSJ"}),
    ("hazard.reassigned", TOWNSHIP_CODE, {"unit": "SX-YC-JSJ", "reason": "属住建部门职责"}),
    ("extension.requested", FIRE_UNIT, {"days": 3, "reason": "设备未到"}),
    ("extension.decided", TOWNSHIP_CODE, {"approved": True, "reason": "同意"}),
    ("rectification.submitted", FIRE_UNIT, {"note": "再次整改", "evidence": []}),
    ("verification.passed", TOWNSHIP_CODE, {"note": "合格"}),
    ("verification.failed", TOWNSHIP_CODE, {"reason": "不合格"}),
    ("hazard.invalidated", COUNTY_CODE, {"reason": "误报"}),
    ("hazard.escalated", "SX", {"to": "city", "reason": "群众反映强烈"}),
]


@pytest.mark.parametrize(("ref", "state"), [("CLEARED-1", "cleared"), ("INVALID-1", "invalid")])
def test_any_event_on_a_closed_hazard_is_refused_naming_the_state(
    seeded: Cli, tmp_path: Path, ref: str, state: str
) -> None:
    before = seeded.export(NOW)
    for kind, actor, fields in CLOSED_EVENTS:
        stderr = refused_event(seeded, tmp_path, event(kind, ref, LATER, actor, **fields), check_unchanged=False)
        assert state in stderr, f"{kind}: the message does not name the state {state!r}:\n{stderr}"
    by = "SX/市平安办"
    stderr = refused(seeded, "escalate", ref, "--to", "city", "--reason", "群众反映", "--by", by, check_unchanged=False)
    assert state in stderr
    assert seeded.export(NOW) == before, "a refused event changed the database"


# --- who may do it ----------------------------------------------------------------------------------------


def test_the_responsible_department_may_not_verify_its_own_work(seeded: Cli, tmp_path: Path) -> None:
    for kind, fields in (("verification.passed", {"note": "合格"}), ("verification.failed", {"reason": "不合格"})):
        verify = event(kind, "PENDING-1", LATER, f"{FIRE_UNIT}/王队长", **fields)
        stderr = refused_event(seeded, tmp_path, verify, field="actor")
        assert "responsible" in stderr or "越城区消防救援大队" in stderr, stderr


def test_a_township_responsible_for_a_hazard_may_not_verify_its_own_work(seeded: Cli, tmp_path: Path) -> None:
    stderr = refused_event(seeded, tmp_path, event("verification.passed", "OWN-1", LATER, TOWNSHIP_CODE, note="合格"))
    assert "responsible" in stderr or TOWNSHIP in stderr, stderr
    # the county verifies instead (and that is allowed)
    applies(seeded, tmp_path, event("verification.passed", "OWN-1", LATER, COUNTY_CODE, note="合格"))
    assert seeded.json("show", "OWN-1", now=NOW)["state"] == "cleared"


def test_a_unit_of_another_county_may_not_verify(seeded: Cli, tmp_path: Path) -> None:
    verify = event("verification.passed", "PENDING-1", LATER, OTHER_COUNTY, note="合格")
    stderr = refused_event(seeded, tmp_path, verify)
    assert "柯桥区" in stderr or OTHER_COUNTY in stderr, stderr


def test_a_unit_that_is_not_responsible_may_not_acknowledge(seeded: Cli, tmp_path: Path) -> None:
    acknowledge = event("hazard.acknowledged", "ASSIGNED-1", LATER, TOWNSHIP_CODE)
    stderr = refused_event(seeded, tmp_path, acknowledge, field="actor")
    assert TOWNSHIP in stderr or TOWNSHIP_CODE in stderr, stderr
    stderr = refused_event(seeded, tmp_path, event("hazard.acknowledged", "ASSIGNED-1", LATER, "SX-KQ-XF"))
    assert "柯桥区消防救援大队" in stderr or "SX-KQ-XF" in stderr, stderr


# --- escalation, listing ----------------------------------------------------------------------------------


def test_a_township_of_another_county_may_not_escalate(seeded: Cli) -> None:
    by = OTHER_COUNTY_TOWNSHIP
    stderr = refused(seeded, "escalate", "ASSIGNED-1", "--to", "county", "--reason", "越界", "--by", by)
    assert "柯桥街道" in stderr or OTHER_COUNTY_TOWNSHIP in stderr, stderr


def test_a_county_of_another_county_may_not_escalate(seeded: Cli) -> None:
    stderr = refused(
        seeded, "escalate", "ASSIGNED-1", "--to", "county", "--reason", "越界", "--by", OTHER_COUNTY, field="--by"
    )
    assert "柯桥区" in stderr or OTHER_COUNTY in stderr, stderr


def test_escalation_only_goes_upwards(seeded: Cli) -> None:
    seeded.ok("escalate", "ASSIGNED-1", "--to", "county", "--reason", "群众反映强烈", "--by", COUNTY_CODE, now=NOW)
    assert seeded.json("show", "ASSIGNED-1", now=NOW)["level"] == "county"
    for target in ("township", "county"):  # downwards, then to the same level
        args = ("escalate", "ASSIGNED-1", "--to", target, "--reason", "调整", "--by", "SX")
        stderr = refused(seeded, *args, field="--to")
        assert "county" in stderr, f"--to {target}: the message does not name the current level:\n{stderr}"


def test_a_county_may_not_escalate_beyond_its_own_level(seeded: Cli) -> None:
    stderr = refused(seeded, "escalate", "RECT-1", "--to", "city", "--reason", "群众反映强烈", "--by", COUNTY_CODE)
    assert "county" in stderr or "越城区" in stderr, stderr
    assert seeded.json("show", "RECT-1", now=NOW)["level"] == "none"


def test_a_township_may_not_list_a_township_for_supervision(seeded: Cli) -> None:
    stderr = refused(seeded, "supervise", TOWNSHIP, "--reason", "整改滞后", "--by", TOWNSHIP_CODE)
    assert TOWNSHIP in stderr or TOWNSHIP_CODE in stderr, stderr
    assert seeded.json("listings", "--active", now=NOW) == []


def test_delisting_a_township_that_is_not_listed_is_refused(seeded: Cli) -> None:
    stderr = refused(seeded, "delist", "塔山街道", "--reason", "整改到位", "--by", "SX", field="township")
    assert "塔山街道" in stderr
    assert "listed" in stderr or "挂牌" in stderr, stderr


# --- extensions -------------------------------------------------------------------------------------------


def test_an_extension_longer_than_the_policy_allows_is_refused(seeded: Cli, tmp_path: Path) -> None:
    too_long = event("extension.requested", "RECT-1", LATER, FIRE_UNIT, days=31, reason="设备未到")
    stderr = refused_event(seeded, tmp_path, too_long, field="days")
    assert "31" in stderr and "30" in stderr, stderr
    longest = event("extension.requested", "RECT-1", LATER, FIRE_UNIT, days=30, reason="设备未到")
    applies(seeded, tmp_path, longest)


def test_a_second_extension_request_while_one_waits_is_refused(seeded: Cli, tmp_path: Path) -> None:
    first = event("extension.requested", "RECT-1", LATER, FIRE_UNIT, days=3, reason="设备未到")
    applies(seeded, tmp_path, first)
    second = event("extension.requested", "RECT-1", LATER, FIRE_UNIT, days=5, reason="还需要时间")
    stderr = refused_event(seeded, tmp_path, second)
    assert "waiting" in stderr or "pending" in stderr, stderr


def test_deciding_an_extension_nobody_asked_for_is_refused(seeded: Cli, tmp_path: Path) -> None:
    decision = event("extension.decided", "RECT-1", LATER, TOWNSHIP_CODE, approved=True, reason="同意")
    stderr = refused_event(seeded, tmp_path, decision)
    assert "extension" in stderr, stderr
    assert seeded.json("show", "RECT-1", now=NOW)["due_at"] == "2025-03-12T23:59:59+08:00"


def test_a_third_extension_request_is_refused_by_policy(seeded: Cli, tmp_path: Path) -> None:
    for n in range(2):  # policy: max_requests 2
        applies(seeded, tmp_path, event("extension.requested", "RECT-1", LATER, FIRE_UNIT, days=2, reason="设备未到"))
        decided = event("extension.decided", "RECT-1", LATER, TOWNSHIP_CODE, approved=n == 1, reason="研究决定")
        applies(seeded, tmp_path, decided)
    third = event("extension.requested", "RECT-1", LATER, FIRE_UNIT, days=2, reason="还需要时间")
    stderr = refused_event(seeded, tmp_path, third)
    assert "2" in stderr and "extension" in stderr, stderr


def test_the_responsible_unit_may_not_decide_its_own_extension(seeded: Cli, tmp_path: Path) -> None:
    applies(seeded, tmp_path, event("extension.requested", "RECT-1", LATER, FIRE_UNIT, days=3, reason="设备未到"))
    own = event("extension.decided", "RECT-1", LATER, FIRE_UNIT, approved=True, reason="同意")
    stderr = refused_event(seeded, tmp_path, own)
    assert "越城区消防救援大队" in stderr or FIRE_UNIT in stderr, stderr


def test_a_village_station_cannot_be_made_the_responsible_unit(seeded: Cli, tmp_path: Path) -> None:
    to_village = event("hazard.reassigned", "RECT-1", LATER, TOWNSHIP_CODE, unit="SX-YC-FS-CQ", reason="就近整改")
    stderr = refused_event(seeded, tmp_path, to_village)
    assert "仓桥社区" in stderr or "SX-YC-FS-CQ" in stderr, stderr


def test_a_county_may_not_relist_or_delist_a_city_level_listing(seeded: Cli) -> None:
    seeded.ok("supervise", TOWNSHIP, "--reason", "整改滞后", "--by", "SX/市平安办", now=NOW)
    stderr = refused(seeded, "supervise", TOWNSHIP, "--reason", "整改滞后", "--by", COUNTY_CODE)
    assert "city" in stderr, stderr
    stderr = refused(seeded, "delist", TOWNSHIP, "--reason", "整改到位", "--by", COUNTY_CODE)
    assert "city" in stderr, stderr


def test_a_city_listing_replaces_a_county_one_and_says_so_in_chinese(seeded: Cli) -> None:
    seeded.ok("supervise", TOWNSHIP, "--reason", "整改滞后", "--by", COUNTY_CODE, now=NOW)
    seeded.ok("supervise", TOWNSHIP, "--reason", "整改仍然滞后", "--by", "SX/市平安办", now=NOW)
    listings = seeded.json("listings", now=NOW)
    assert [(entry["level"], entry["active"]) for entry in listings] == [("county", False), ("city", True)]
    assert listings[0]["delist_reason"] == "提级为市级挂牌督办"


def test_delisting_waits_for_the_listed_problems_unless_forced(seeded: Cli) -> None:
    late = "2025-03-20T12:00:00+08:00"  # ASSIGNED-1 and RECT-1 are overdue by now (due 03-12)
    seeded.ok("supervise", TOWNSHIP, "--reason", "整改滞后", "--by", "SX/市平安办", now=late)
    listed = seeded.json("listings", "--active", now=late)[0]
    assert len(listed["problem_hazards"]) == 2
    before = seeded.export(late)
    result = seeded("delist", TOWNSHIP, "--reason", "整改到位", "--by", "SX", now=late)
    assert result.exit_code == 3, result.stderr
    assert "field 'township'" in result.stderr and "2 of its 2 listed hazards are still open" in result.stderr
    assert all(h in result.stderr for h in listed["problem_hazards"]), result.stderr
    assert seeded.export(late) == before
    seeded.ok("delist", TOWNSHIP, "--reason", "误挂，经复核撤销", "--by", "SX", "--force", now=late)
    assert seeded.json("listings", "--active", now=late) == []
