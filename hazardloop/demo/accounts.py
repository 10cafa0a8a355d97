"""The demo's people: one ready account per role, made where the simulated year left work for them, so that a newcomer
can open the web console on the demo database and see it from each seat. Passwords are generated and printed once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from hazardloop.config.bootstrap import App
from hazardloop.models.store import accounts
from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.tables import HazardRow

_H = HazardRow.__table__


@dataclass(frozen=True)
class DemoAccount:
    login: str
    password: str
    unit_code: str
    unit_name: str
    roles: str
    name: str
    seat: str  # what the account shows, in words


def _busiest(conn: object, *where: object, column: object = _H.c.unit_code) -> str | None:
    stmt = select(column, func.count()).where(*where).group_by(column).order_by(func.count().desc(), column).limit(1)
    row = conn.execute(stmt).first()  # type: ignore[attr-defined]
    return str(row[0]) if row else None


def create_demo_accounts(app: App) -> list[DemoAccount]:
    """Staff of the township with the most open work of its own, the verifier of the township with the most waiting
    for verification, supervisors of that county and of the city, a city viewer and the county's admin."""
    tree = app.tree
    now = app.clock.now()
    with unit_of_work(app.engine, write=False) as conn:
        towns = [u.code for u in tree.townships()]
        staff = _busiest(conn, _H.c.state.in_(["assigned", "rectifying"]), _H.c.unit_code.in_(towns)) or towns[0]
        verifier = (
            _busiest(
                conn,
                _H.c.state == "pending_verification",
                _H.c.unit_code != _H.c.township_code,
                column=_H.c.township_code,
            )
            or staff
        )
    county = tree.county_of(staff) or tree.city
    plan = [
        ("demo-staff", staff, "staff", "演示经办员", "责任单位：待签收、待整改、退回整改，签收和提交整改"),
        ("demo-verifier", verifier, "verifier", "演示核查员", "镇街核查：待核查，核查通过或退回"),
        ("demo-county", county.code, "supervisor", "演示区县督办", "区县督办：逾期、延期审批、督办总览、提级与挂牌"),
        ("demo-city", tree.city.code, "supervisor", "演示市级督办", "市级督办：全市总览、挂牌与摘牌、研判"),
        ("demo-viewer", tree.city.code, "viewer", "演示查看员", "只读：全市隐患、通知与研判"),
        ("demo-admin", county.code, "admin", "演示管理员", "账号管理：本区县及下级单位的账号与令牌"),
    ]
    made: list[DemoAccount] = []
    with unit_of_work(app.engine) as conn:
        for login, unit, roles, name, seat in plan:
            password = accounts.generate_password()
            existing = accounts.find_account(conn, login)
            if existing is None:
                accounts.add_account(
                    conn,
                    tree,
                    login=login,
                    name=name,
                    unit_code=unit,
                    roles=accounts.parse_roles(roles),
                    password=password,
                    now=now,
                )
            else:  # a second demo on the same file: the same seats, new passwords
                accounts.set_password(conn, existing, password, now)
            made.append(DemoAccount(login, password, unit, tree.units[unit].name, roles, name, seat))
    return made
