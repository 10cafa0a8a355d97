"""The authorisation decision in memory (no database): what each kind of unit sees, and the order of the three
answers (not found before forbidden before allowed)."""

from __future__ import annotations

import pytest

from hazardloop.config.loading import load_org, load_policy
from hazardloop.models.core.authz import (
    PERMISSIONS,
    Action,
    AreaTarget,
    Decision,
    HazardTarget,
    NoticeTarget,
    Role,
    TownshipTarget,
    UnitTarget,
    account_principal,
    decide,
    jurisdiction_of,
)
from hazardloop.models.core.orgtree import OrgTree
from tests.support.fixtures import CONFIG_DIR


@pytest.fixture(scope="module")
def tree() -> OrgTree:
    return OrgTree(load_org(CONFIG_DIR, load_policy(CONFIG_DIR)))


def who(tree: OrgTree, unit: str, *roles: str):  # type: ignore[no-untyped-def]
    return account_principal(
        tree,
        account_id=1,
        login="x",
        name="某人",
        unit_code=unit,
        roles=roles,
        via="token",
        credential_id="tok_1",
        client="127.0.0.1",
    )


IN_FS = HazardTarget("SX-YC-FS", "SX-YC-FS", "other", "SX-YC-FS-CQ/网格员", None)
IN_KQ = HazardTarget("SX-KQ-KQ", "SX-KQ-KQ", "other", None, None)


def test_the_city_sees_everything_and_a_county_only_its_townships(tree: OrgTree) -> None:
    city, county = jurisdiction_of(tree, "SX"), jurisdiction_of(tree, "SX-YC")
    assert city.sees_hazard("SX-KQ-KQ", None, "fire") and city.sees_township("SX-YC-FS")
    assert county.sees_hazard("SX-YC-FS", "SX-YC-FS", "other")
    assert not county.sees_hazard("SX-KQ-KQ", "SX-KQ-KQ", "other")
    assert county.sees_township("SX-YC-FS") and not county.sees_township("SX-KQ-KQ")


def test_a_township_sees_its_own_hazards_and_those_assigned_to_it(tree: OrgTree) -> None:
    fs = jurisdiction_of(tree, "SX-YC-FS")
    assert fs.sees_hazard("SX-YC-FS", "SX-YC-XF", "fire")  # in its township, though a department answers for it
    assert not fs.sees_hazard("SX-YC-TS", "SX-YC-TS", "other")  # the next street's


def test_a_department_sees_what_it_answers_for_in_its_area_and_nothing_else(tree: OrgTree) -> None:
    fire = jurisdiction_of(tree, "SX-YC-XF")  # 越城区消防救援大队
    assert fire.sees_hazard("SX-YC-FS", "SX-YC-XF", "fire")  # assigned to it
    assert fire.sees_hazard("SX-YC-TS", "SX-YC-TS", "fire")  # its field, in its county
    assert not fire.sees_hazard("SX-YC-TS", "SX-YC-TS", "other")  # another field
    assert not fire.sees_hazard("SX-KQ-KQ", "SX-KQ-KQ", "fire")  # its field, another county
    assert fire.sees_hazard("SX-KQ-KQ", "SX-YC-XF", "other")  # but what is assigned to it, wherever
    assert not fire.sees_township("SX-YC-FS")  # a department lists no township


def test_a_village_station_sees_what_it_reported_and_its_own_village(tree: OrgTree) -> None:
    station = jurisdiction_of(tree, "SX-YC-FS-CQ")  # 仓桥社区
    assert station.sees_hazard("SX-YC-FS", "SX-YC-FS", "other", reporter="SX-YC-FS-CQ/网格员")
    assert station.sees_hazard("SX-YC-FS", "SX-YC-FS", "other", village="仓桥社区")
    assert not station.sees_hazard("SX-YC-FS", "SX-YC-FS", "other", reporter="SX-YC-FS-XXL/网格员")
    assert not station.sees_hazard("SX-YC-FS", "SX-YC-FS", "other", reporter="SX-YC-FS-CQX/某人")  # a prefix only
    assert decide(who(tree, "SX-YC-FS-CQ", "staff"), Action.DETECT, AreaTarget("SX-YC-FS")) is Decision.ALLOWED
    assert decide(who(tree, "SX-YC-FS-CQ", "staff"), Action.DETECT, AreaTarget("SX-YC-TS")) is Decision.NOT_FOUND


def test_outside_is_not_found_whatever_the_role_inside_the_table_decides(tree: OrgTree) -> None:
    admin_of_all = who(tree, "SX-KQ", *[r.value for r in Role])
    assert decide(admin_of_all, Action.READ, IN_FS) is Decision.NOT_FOUND
    assert decide(who(tree, "SX-YC", "viewer"), Action.ESCALATE, IN_FS) is Decision.FORBIDDEN
    assert decide(who(tree, "SX-YC", "supervisor"), Action.ESCALATE, IN_FS) is Decision.ALLOWED
    assert decide(who(tree, "SX-YC", "viewer", "verifier"), Action.PASS, IN_FS) is Decision.ALLOWED
    assert decide(who(tree, "SX-YC-FS", "staff"), Action.LIST, TownshipTarget("SX-YC-FS")) is Decision.FORBIDDEN
    assert decide(who(tree, "SX-YC", "admin"), Action.MANAGE_ACCOUNTS, UnitTarget("SX-YC-FS")) is Decision.ALLOWED
    assert decide(who(tree, "SX-YC", "admin"), Action.MANAGE_ACCOUNTS, UnitTarget("SX")) is Decision.NOT_FOUND


def test_a_notice_is_within_when_its_hazard_or_its_offices_are(tree: OrgTree) -> None:
    fs = who(tree, "SX-YC-FS", "viewer")
    assert decide(fs, Action.READ, NoticeTarget(IN_FS, "SX-YC-FS", "SX-YC-FS", "SX-YC")) is Decision.ALLOWED
    assert decide(fs, Action.READ, NoticeTarget(None, None, "SX-YC-FS", "SX-YC")) is Decision.ALLOWED
    assert decide(fs, Action.READ, NoticeTarget(IN_KQ, "SX-KQ-KQ", "SX-KQ-KQ", "SX-KQ")) is Decision.NOT_FOUND


def test_every_role_reads_and_only_admins_manage_accounts() -> None:
    assert all(Action.READ in actions for actions in PERMISSIONS.values())
    assert [r for r, actions in PERMISSIONS.items() if Action.MANAGE_ACCOUNTS in actions] == [Role.ADMIN]
