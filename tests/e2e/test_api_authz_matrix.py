"""The authorisation matrix, generated from one table: every endpoint × every role × inside / outside the
jurisdiction → the status the contract promises, against a real ``hazardloop web`` on SQLite and PostgreSQL.

Inside: accounts of 越城区 (SX-YC) or of 府山街道 (SX-YC-FS), where every hazard of the matrix lies. Outside: the same
roles at 柯桥区 (SX-KQ). Each case acts on its own hazard, prepared in the state its action needs, so the cases do
not depend on each other's order. The roles are the contract's table (CONTRACT.md, "Identities"), written out
here, not read from the code: the test checks the code's table against it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import create_engine, text

from tests.support.api import Accounts, Server, detection, running_server
from tests.support.fixtures import Cli, pg_database

# --- the one table ----------------------------------------------------------------------------------------------

ROLES = ("staff", "verifier", "supervisor", "viewer", "admin")
# What each role may do (the contract's "Identities" table; sending a notice again is for supervisors and admins).
MAY: dict[str, set[str]] = {
    "staff": {"read", "acknowledge", "request-extension", "submit", "detect"},
    "verifier": {"read", "pass", "fail"},
    "supervisor": {"read", "escalate", "list", "delist", "decide-extension", "reassign", "invalidate", "requeue"},
    "viewer": {"read"},
    "admin": {"read", "requeue"},
}
# Inside, each role sits where its actions are the lifecycle's to take: the responsible unit (the township) acts,
# the county verifies and supervises.
INSIDE_UNIT = {"staff": "SX-YC-FS", "verifier": "SX-YC", "supervisor": "SX-YC", "viewer": "SX-YC-FS", "admin": "SX-YC"}
OUTSIDE_UNIT = "SX-KQ"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # {h}: the case's hazard, {n}: its assignment notice
    action: str  # the role table's action
    state: str  # the state the case's hazard is prepared in
    body: dict[str, Any] | None = None
    # how a successful answer is judged: "status" (200), "listed" (200 and the case's item in it)
    judged: str = "status"
    outside: int = 404  # what an account outside the jurisdiction gets
    forbidden: int = 403


ENDPOINTS = [
    Endpoint("acknowledge", "POST", "/api/v1/hazards/{h}/acknowledge", "acknowledge", "assigned"),
    Endpoint(
        "request-extension",
        "POST",
        "/api/v1/hazards/{h}/request-extension",
        "request-extension",
        "rectifying",
        {"days": 3, "reason": "材料采购需要时间"},
    ),
    Endpoint(
        "decide-extension",
        "POST",
        "/api/v1/hazards/{h}/decide-extension",
        "decide-extension",
        "extension_pending",
        {"approved": True, "reason": "同意延期"},
    ),
    Endpoint(
        "submit",
        "POST",
        "/api/v1/hazards/{h}/submit",
        "submit",
        "rectifying",
        {"note": "已清理", "evidence": ["整改后照片.jpg"]},
    ),
    Endpoint("pass", "POST", "/api/v1/hazards/{h}/pass", "pass", "pending_verification", {"note": "核查通过"}),
    Endpoint("fail", "POST", "/api/v1/hazards/{h}/fail", "fail", "pending_verification", {"reason": "未整改到位"}),
    Endpoint(
        "reassign",
        "POST",
        "/api/v1/hazards/{h}/reassign",
        "reassign",
        "assigned",
        {"unit": "SX-YC-YJJ", "reason": "属安全生产领域"},
    ),
    Endpoint("invalidate", "POST", "/api/v1/hazards/{h}/invalidate", "invalidate", "assigned", {"reason": "重复上报"}),
    Endpoint(
        "escalate",
        "POST",
        "/api/v1/hazards/{h}/escalate",
        "escalate",
        "assigned",
        {"to": "county", "reason": "久拖不决"},
    ),
    Endpoint("show", "GET", "/api/v1/hazards/{h}", "read", "assigned"),
    Endpoint("list", "GET", "/api/v1/hazards?limit=500", "read", "assigned", judged="listed", outside=200),
    Endpoint("notice", "GET", "/api/v1/notices/{n}", "read", "assigned"),
    Endpoint("notices", "GET", "/api/v1/notices?limit=500", "read", "assigned", judged="listed", outside=200),
    Endpoint("requeue", "POST", "/api/v1/notices/{n}/requeue", "requeue", "notice_failed"),
    Endpoint(
        "list-township", "POST", "/api/v1/townships/SX-YC-FS/list", "list", "assigned", {"reason": "隐患整改不力"}
    ),
    Endpoint(
        "delist-township",
        "POST",
        "/api/v1/townships/府山街道/delist",
        "delist",
        "assigned",
        {"reason": "挂牌有误", "force": True},
    ),
    Endpoint("report", "GET", "/api/v1/reports/monthly?scope=SX-YC-FS", "read", "assigned"),
    Endpoint("ledger", "GET", "/api/v1/ledger.xlsx", "read", "assigned", judged="listed", outside=200),
    # the batch: an event on a hazard outside the jurisdiction names a hazard that does not exist (invalid input)
    Endpoint("events", "POST", "/api/v1/events", "acknowledge", "assigned", outside=422),
]


def cases() -> list[tuple[Endpoint, str, str]]:
    return [(e, role, side) for e in ENDPOINTS for role in ROLES for side in ("inside", "outside")]


def expected(endpoint: Endpoint, role: str, side: str) -> tuple[int, bool | None]:
    """(status, whether the case's item is in the answer) — from the table above and the contract's codes."""
    if side == "outside":
        return endpoint.outside, (False if endpoint.judged == "listed" else None)
    if endpoint.action in MAY[role]:
        return 200, (True if endpoint.judged == "listed" else None)
    return endpoint.forbidden, None


# --- the world the matrix runs in -------------------------------------------------------------------------------


@dataclass
class World:
    cli: Cli
    server: Server
    accounts: Accounts
    hazards: dict[tuple[str, str, str], str]  # case -> hazard id
    notices: dict[str, int]  # hazard id -> its assignment notice id


def login_of(role: str, side: str) -> str:
    return f"{side}_{role}"


def _seed(cli: Cli, tmp: Path) -> dict[tuple[str, str, str], str]:
    """One hazard per case, brought to its state by the responsible unit (declared actors, the command line)."""
    start = datetime.now(UTC) - timedelta(hours=3)
    lines: list[dict[str, Any]] = []
    refs: dict[tuple[str, str, str], str] = {}
    for n, (endpoint, role, side) in enumerate(cases()):
        ref = f"M-{n:04d}"
        refs[endpoint.name, role, side] = ref
        at = (start + timedelta(seconds=n)).isoformat()
        lines.append({**detection(ref, at=at), "actor": "SX-YC-FS-CQ/网格员"})
        later = (start + timedelta(minutes=30, seconds=n)).isoformat()
        step = {"hazard": ref, "at": later, "actor": "SX-YC-FS/张三"}
        if endpoint.state in ("rectifying", "extension_pending", "pending_verification"):
            lines.append({**step, "type": "hazard.acknowledged", "event_id": f"ack-{ref}"})
        if endpoint.state == "extension_pending":
            lines.append(
                {**step, "type": "extension.requested", "event_id": f"ext-{ref}", "days": 3, "reason": "需要时间"}
            )
        if endpoint.state == "pending_verification":
            lines.append({**step, "type": "rectification.submitted", "event_id": f"sub-{ref}", "note": "已整改"})
    path = tmp / "seed.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    cli.ok("apply", str(path))
    hazards = {h["ref"]: h["id"] for h in cli.json("hazards")}
    return {case: hazards[ref] for case, ref in refs.items()}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"matrix-{request.param}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAZARDLOOP_MAIL_DIR", str(tmp / "outbox"))
        if request.param == "sqlite":
            yield from _world(f"sqlite:///{tmp / 'matrix.db'}", tmp)
        else:
            with pg_database() as url:
                yield from _world(url, tmp)


def _world(url: str, tmp: Path) -> Iterator[World]:
    cli = Cli(url, tmp)
    cli.ok("init")
    accounts = Accounts(cli)
    for role in ROLES:
        accounts.add(login_of(role, "inside"), INSIDE_UNIT[role], role, f"{role}甲")
        accounts.add(login_of(role, "outside"), OUTSIDE_UNIT, role, f"{role}乙")
    hazards = _seed(cli, tmp)
    engine = create_engine(url)
    with engine.begin() as conn:
        notices = {
            h: n
            for n, h in conn.execute(text("SELECT id, hazard_id FROM notices WHERE kind = 'assignment' ORDER BY id"))
        }
        requeue_ids = [notices[hazards[e.name, r, s]] for e, r, s in cases() if e.name == "requeue"]
        conn.execute(
            text("UPDATE notices SET status = 'dead', last_error = 'mailbox full' WHERE id = :id"),
            [{"id": i} for i in requeue_ids],
        )
    engine.dispose()
    with running_server(url, tmp) as server:
        yield World(cli, server, accounts, hazards, notices)


# --- the matrix -------------------------------------------------------------------------------------------------


def _request(world: World, endpoint: Endpoint, login: str, hazard: str) -> Any:
    path = endpoint.path.format(h=hazard, n=world.notices.get(hazard, 0))
    with world.server.client(world.accounts.tokens[login]) as client:
        if endpoint.name == "events":
            event = {
                "type": "hazard.acknowledged",
                "event_id": f"batch-ack-{hazard}",
                "hazard": hazard,
                "at": datetime.now(UTC).isoformat(),
            }
            return client.post(path, json=[event])
        if endpoint.method == "GET":
            return client.get(path)
        return client.post(path, json=endpoint.body) if endpoint.body is not None else client.post(path)


def _holds(endpoint: Endpoint, response: Any, hazard: str, notice: int) -> bool:
    if endpoint.name == "ledger":
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        return any(hazard in (str(c) for c in row) for ws in book.worksheets for row in ws.iter_rows(values_only=True))
    items = response.json()["items"]
    if endpoint.name == "notices":
        return any(n["id"] == notice for n in items)
    return any(h["id"] == hazard for h in items)


@pytest.mark.parametrize(("endpoint", "role", "side"), cases(), ids=[f"{e.name}-{r}-{s}" for e, r, s in cases()])
def test_matrix(world: World, endpoint: Endpoint, role: str, side: str) -> None:
    hazard = world.hazards[endpoint.name, role, side]
    status, holds = expected(endpoint, role, side)
    if endpoint.name.endswith("-township"):
        # the township's listing is shared by the cases: put it in the state this case needs (declared, CLI)
        listed = any(x["township_code"] == "SX-YC-FS" for x in world.cli.json("listings", "--active"))
        if endpoint.name == "list-township" and listed:
            world.cli.ok("delist", "府山街道", "--reason", "复位", "--by", "SX/市平安办", "--force")
        if endpoint.name == "delist-township" and not listed:
            world.cli.ok("supervise", "府山街道", "--reason", "复位", "--by", "SX-YC/李四")
    response = _request(world, endpoint, login_of(role, side), hazard)
    assert response.status_code == status, f"{endpoint.method} {endpoint.path} as {role} {side}: {response.text}"
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == status
    if holds is not None:
        assert _holds(endpoint, response, hazard, world.notices[hazard]) is holds


def test_the_table_covers_every_role_and_contract_endpoint() -> None:
    assert set(MAY) == set(ROLES)
    covered = {(e.method, e.path.split("?")[0]) for e in ENDPOINTS}
    for method, path in [
        ("POST", "/api/v1/events"),
        ("GET", "/api/v1/hazards"),
        ("GET", "/api/v1/hazards/{h}"),
        ("GET", "/api/v1/notices"),
        ("GET", "/api/v1/notices/{n}"),
        ("POST", "/api/v1/notices/{n}/requeue"),
        ("GET", "/api/v1/ledger.xlsx"),
    ]:
        assert (method, path) in covered
    actions = {e.path.rsplit("/", 1)[-1] for e in ENDPOINTS if e.path.startswith("/api/v1/hazards/{h}/")}
    assert actions == {
        "acknowledge",
        "request-extension",
        "decide-extension",
        "submit",
        "pass",
        "fail",
        "reassign",
        "invalidate",
        "escalate",
    }
