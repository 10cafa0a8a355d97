"""``POST /api/v1/readings`` (the indicator system's intake over HTTP) and JSON Lines bodies split as files are.

MP001 is 重大危险源储罐温度 (I01, higher is worse, warning 45, breach 60) in 塔山街道."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import Accounts, Server, detection, running_server, seeded_accounts
from tests.support.fixtures import Cli, initialised_cli

CSV = "text/csv"


@pytest.fixture
def world(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cli, Accounts, Server]]:
    cli = initialised_cli(db_url, tmp_path, monkeypatch)
    accounts = seeded_accounts(
        cli,
        ("platform", "SX", "staff", "监测平台"),
        ("city-viewer", "SX", "viewer", "市平安办"),
        ("town-staff", "SX-YC-FS", "staff", "张三"),
    )
    with running_server(db_url, tmp_path) as server:
        yield cli, accounts, server


def _csv(*rows: tuple[str, str, float]) -> str:
    return "point,instant,value\n" + "".join(f"{p},{at},{v}\n" for p, at, v in rows)


BREACH = _csv(("MP001", "2026-03-02T09:00:00+08:00", 50), ("MP001", "2026-03-02T10:00:00+08:00", 65))


def test_a_city_platform_account_sends_readings_and_a_breach_raises_one_hazard(
    world: tuple[Cli, Accounts, Server],
) -> None:
    cli, accounts, server = world
    with server.client(accounts.tokens["platform"]) as client:
        first = client.post("/api/v1/readings", content=BREACH, headers={"Content-Type": CSV})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["readings"] == 2 and len(body["hazards"]) == 1 and body["warnings"] == 1
        again = client.post("/api/v1/readings", content=BREACH, headers={"Content-Type": CSV})
        assert again.status_code == 200 and again.json()["duplicates"] == 2 and again.json()["hazards"] == []
        hazard = client.get(f"/api/v1/hazards/{body['hazards'][0]}").json()
    assert hazard["source"] == "monitoring" and hazard["township"] == "塔山街道"
    assert len(cli.json("hazards")) == 1


def test_readings_are_refused_to_an_account_that_may_not_send_them(world: tuple[Cli, Accounts, Server]) -> None:
    cli, accounts, server = world
    for login in ("town-staff", "city-viewer"):
        with server.client(accounts.tokens[login]) as client:
            answer = client.post("/api/v1/readings", content=BREACH, headers={"Content-Type": CSV})
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert cli.json("hazards") == []


def test_a_bad_reading_names_its_line_and_writes_nothing(world: tuple[Cli, Accounts, Server]) -> None:
    cli, accounts, server = world
    bad = BREACH + "MP001,2026-03-02T11:00:00+08:00,不是数字\n"
    with server.client(accounts.tokens["platform"]) as client:
        answer = client.post("/api/v1/readings", content=bad, headers={"Content-Type": CSV})
        assert answer.status_code == 422, answer.text
        assert answer.json()["line"] == 4 and answer.json()["field"] == "value"
        assert client.post("/api/v1/readings", content=bad, headers={"Content-Type": "image/png"}).status_code == 415
    assert cli.json("hazards") == []


def test_a_line_separator_inside_a_json_lines_event_does_not_split_it(world: tuple[Cli, Accounts, Server]) -> None:
    cli, accounts, server = world
    first = detection("LS-1", description="第一行\u2028第二行")
    second = detection("LS-2")
    body = json.dumps(first, ensure_ascii=False) + "\n" + json.dumps(second, ensure_ascii=False) + "\n"
    with server.client(accounts.tokens["town-staff"]) as client:
        answer = client.post("/api/v1/events", content=body.encode(), headers={"Content-Type": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["lines"] == 2 and len(answer.json()["created"]) == 2
    assert {h["ref"] for h in cli.json("hazards")} == {"LS-1", "LS-2"}
