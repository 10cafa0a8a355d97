"""A batch POST of events behaves exactly like ``apply``: the same files go through both (``apply`` on one database,
``POST /api/v1/events`` on another) and give the same refusals with the same lines, the same all-or-nothing, the
same duplicates and the same hazards. A body that names another actor never acts as that actor; a single action
retried with its event_id is answered with the first outcome; the audit row records the proven principal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Accounts, Server, detection, running_server, seeded_accounts
from tests.support.fixtures import Cli, initialised_cli

ACTOR = "SX-YC-FS/张三"  # the account's actor, written in the files so that apply reads them as the API does


BASE = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)


def _at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


def good_file() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n in range(6):
        events.append({**detection(f"B-{n}", at=_at(n)), "actor": ACTOR})
    for n in range(3):
        events.append(
            {
                "type": "hazard.acknowledged",
                "event_id": f"ack-{n}",
                "at": _at(30 + n),
                "hazard": f"B-{n}",
                "actor": ACTOR,
            }
        )
    events.append(
        {
            "type": "extension.requested",
            "event_id": "ext-0",
            "at": _at(40),
            "hazard": "B-0",
            "days": 2,
            "reason": "材料未到",
            "actor": ACTOR,
        }
    )
    events.append(
        {
            "type": "rectification.submitted",
            "event_id": "sub-1",
            "at": _at(41),
            "hazard": "B-1",
            "note": "已清理",
            "evidence": ["a.jpg"],
            "actor": ACTOR,
        }
    )
    events.append(events[0])  # the same event again in the file: a duplicate
    return events


def bad_file() -> list[dict[str, Any] | str]:
    return [
        {**detection("C-0", at=_at(1)), "actor": ACTOR},
        {**detection("C-1", at=_at(2), township="不存在街道"), "actor": ACTOR},  # unknown township: invalid
        "{not json",
        {"type": "hazard.acknowledged", "event_id": "c-ack", "at": _at(3), "hazard": "NO-SUCH", "actor": ACTOR},
        {
            "type": "verification.passed",
            "event_id": "c-pass",
            "at": _at(4),
            "hazard": "C-0",
            "note": "自己验收",
            "actor": ACTOR,
        },  # the responsible unit may not verify its own work: refused
        {**detection("C-2", at=_at(5)), "actor": ACTOR},
    ]


def refused_only_file() -> list[dict[str, Any]]:
    return [
        {**detection("D-0", at=_at(1)), "actor": ACTOR},
        {
            "type": "rectification.submitted",
            "event_id": "d-sub",
            "at": _at(2),
            "hazard": "D-0",
            "note": "未签收就提交",
            "actor": ACTOR,
        },  # submitted before acknowledgement: refused by the state
    ]


def as_jsonl(events: list[Any]) -> str:
    return "\n".join(e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in events) + "\n"


class Pair:
    """The same account's world twice: ``apply`` runs on ``cli``'s database, the API on ``server``'s."""

    def __init__(self, cli: Cli, api_cli: Cli, server: Server, token: str, tmp: Path) -> None:
        self.cli, self.api_cli, self.server, self.token, self.tmp = cli, api_cli, server, token, tmp

    def both(self, name: str, events: list[Any], partial: bool = False) -> tuple[Any, Any]:
        path = self.tmp / f"{name}.jsonl"
        path.write_text(as_jsonl(events), encoding="utf-8")
        applied = self.cli("apply", str(path), "--json", *(["--partial"] if partial else []))
        with self.server.client(self.token) as client:
            posted = client.post(
                "/api/v1/events",
                params={"partial": "true"} if partial else None,
                content=path.read_bytes(),
                headers={"Content-Type": "application/x-ndjson"},
            )
        return applied, posted

    def states(self, cli: Cli) -> list[tuple[Any, ...]]:
        return sorted((h["ref"], h["state"], h["unit"], h["rework_count"]) for h in cli.json("hazards"))


@pytest.fixture
def pair(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    (tmp_path / "cli").mkdir()
    (tmp_path / "api").mkdir()
    cli = initialised_cli(f"sqlite:///{tmp_path / 'cli' / 'apply.db'}", tmp_path / "cli", monkeypatch)
    api_cli = initialised_cli(db_url, tmp_path / "api", monkeypatch)
    token = seeded_accounts(api_cli, ("fs", "SX-YC-FS", "staff,verifier", "张三")).tokens["fs"]
    with running_server(db_url, tmp_path / "api") as server:
        yield Pair(cli, api_cli, server, token, tmp_path)


def _problems_of_apply(result: Any) -> list[tuple[Any, ...]]:
    return sorted((p["line"], p["field"], p["message"]) for p in json.loads(result.stdout)["rejected"])


def _problems_of_api(response: Any) -> list[tuple[Any, ...]]:
    body = response.json()
    items = body["problems"] if "problems" in body else body["rejected"]
    return sorted((p["line"], p["field"], p["message"]) for p in items)


def test_a_good_file_applies_the_same_through_apply_and_the_api_and_again_as_duplicates(pair: Pair) -> None:
    applied, posted = pair.both("good", good_file())
    assert applied.exit_code == 0 and posted.status_code == 200, posted.text
    cli_out = json.loads(applied.stdout)
    for key in ("lines", "applied", "duplicates", "notices"):
        assert posted.json()[key] == cli_out[key], key
    assert len(posted.json()["created"]) == cli_out["created"] == 6
    assert pair.states(pair.cli) == pair.states(pair.api_cli)
    again_cli, again_api = pair.both("good-again", good_file())
    assert json.loads(again_cli.stdout)["duplicates"] == again_api.json()["duplicates"] == len(good_file())
    assert again_api.json()["applied"] == 0
    assert pair.states(pair.cli) == pair.states(pair.api_cli)


def test_a_bad_file_is_refused_whole_with_the_same_lines_and_words_and_writes_nothing(pair: Pair) -> None:
    applied, posted = pair.both("bad", bad_file())
    assert applied.exit_code == 2 and posted.status_code == 422
    assert posted.headers["content-type"].startswith("application/problem+json")
    assert _problems_of_api(posted) == _problems_of_apply(applied)
    assert [p[0] for p in _problems_of_api(posted)] == [2, 3, 4, 5]
    assert pair.api_cli.json("hazards") == pair.cli.json("hazards") == []


def test_partial_applies_the_same_good_lines_and_lists_the_same_rejected_ones(pair: Pair) -> None:
    applied, posted = pair.both("bad-partial", bad_file(), partial=True)
    assert applied.exit_code == 0 and posted.status_code == 200
    assert _problems_of_api(posted) == _problems_of_apply(applied)
    assert pair.states(pair.cli) == pair.states(pair.api_cli)
    assert [s[0] for s in pair.states(pair.api_cli)] == ["C-0", "C-2"]


def test_a_file_only_refused_by_the_lifecycle_answers_409_as_apply_exits_3(pair: Pair) -> None:
    applied, posted = pair.both("refused", refused_only_file())
    assert applied.exit_code == 3 and posted.status_code == 409
    assert _problems_of_api(posted) == _problems_of_apply(applied)


def test_a_json_array_is_read_like_json_lines_numbered_in_order(pair: Pair) -> None:
    with pair.server.client(pair.token) as client:
        response = client.post("/api/v1/events", json=[detection("A-0", at=_at(1)), detection("A-1", township="无")])
    assert response.status_code == 422
    assert response.json()["line"] == 2 and response.json()["field"] == "hazard.township"


def test_a_body_naming_another_actor_never_acts_as_that_actor(pair: Pair) -> None:
    other = {**detection("X-0", at=_at(1)), "actor": "SX/市平安办"}
    with pair.server.client(pair.token) as client:
        batch = client.post("/api/v1/events", json=[other])
        mine = client.post("/api/v1/events", json=[detection("X-1", at=_at(2))])
        hazard = mine.json()["created"][0]
        action = client.post(f"/api/v1/hazards/{hazard}/acknowledge", json={"actor": "SX-YC/李四"})
    assert batch.status_code == 422 and batch.json()["field"] == "actor" and batch.json()["line"] == 1
    assert action.status_code == 422 and action.json()["field"] == "actor"
    assert [h["ref"] for h in pair.api_cli.json("hazards")] == ["X-1"]
    shown = pair.api_cli.json("show", hazard)
    assert shown["state"] == "assigned"
    assert shown["reporter"] == ACTOR
    assert {t["actor"] for t in shown["history"]} <= {ACTOR, "system"}


def test_a_retried_action_with_its_event_id_gets_the_first_outcome(pair: Pair) -> None:
    with pair.server.client(pair.token) as client:
        hazard = client.post("/api/v1/events", json=[detection("R-0", at=_at(1))]).json()["created"][0]
        first = client.post(f"/api/v1/hazards/{hazard}/acknowledge", json={"event_id": "retry-1"})
        again = client.post(f"/api/v1/hazards/{hazard}/acknowledge", json={"event_id": "retry-1"})
        reused = client.post(f"/api/v1/hazards/{hazard}/submit", json={"event_id": "retry-1", "note": "x"})
    assert first.status_code == again.status_code == 200
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert again.json()["hazard"]["state"] == "rectifying"
    assert reused.status_code == 422 and reused.json()["field"] == "event_id"
    acks = [t for t in pair.api_cli.json("show", hazard)["history"] if t["action"] == "hazard.acknowledged"]
    assert len(acks) == 1


def test_the_audit_row_records_the_account_the_token_and_the_real_clock(pair: Pair) -> None:
    from sqlalchemy import create_engine, text

    before = datetime.now(UTC)
    with pair.server.client(pair.token) as client:
        posted = client.post("/api/v1/events", json=[detection("T-0", at=_at(1))])
    hazard = posted.json()["created"][0]
    engine = create_engine(pair.api_cli.db)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT actor, principal_account, principal_credential, principal_via, principal_client, at, "
                "recorded_at FROM transitions WHERE hazard_id = :h AND action = 'hazard.detected'"
            ),
            {"h": hazard},
        ).one()
        event = conn.execute(
            text("SELECT principal_account, principal_via FROM events WHERE hazard_id = :h"), {"h": hazard}
        ).one()
    engine.dispose()
    assert row.actor == ACTOR
    assert row.principal_account is not None and event.principal_account == row.principal_account
    assert row.principal_credential == pair.token.split(".")[0]
    assert (row.principal_via, event.principal_via) == ("token", "token")
    assert row.principal_client == "127.0.0.1"
    recorded, at = _utc(row.recorded_at), _utc(row.at)
    assert recorded >= before - timedelta(seconds=1)
    assert at <= recorded  # the event happened earlier than it was recorded, never later


def _utc(value: Any) -> datetime:
    """A stored instant as read raw: naive UTC (text on SQLite, a datetime on PostgreSQL)."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant


def test_the_command_line_records_a_declared_cli_principal(sqlite_cli: Cli) -> None:
    from sqlalchemy import create_engine, text

    sqlite_cli.ok("apply", "-", input=as_jsonl([{**detection("CLI-0", at=_at(1)), "actor": ACTOR}]))
    engine = create_engine(sqlite_cli.db)
    with engine.connect() as conn:
        via, client, account = conn.execute(
            text("SELECT principal_via, principal_client, principal_account FROM events")
        ).one()
    engine.dispose()
    assert via == "cli" and account is None and client  # the OS user, declared


@pytest.mark.postgres
def test_two_clients_racing_on_one_hazard_exactly_one_wins(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = initialised_cli(pg_url, tmp_path, monkeypatch)
    accounts = Accounts(cli)
    accounts.add("fs1", "SX-YC-FS", "staff", "张三")
    accounts.add("fs2", "SX-YC-FS", "staff", "王五")
    cli.ok("apply", "-", input=as_jsonl([{**detection(f"RACE-{n}", at=_at(n)), "actor": ACTOR} for n in range(8)]))
    hazards = [h["id"] for h in cli.json("hazards")]
    with running_server(pg_url, tmp_path) as server:
        for hazard in hazards:
            barrier = threading.Barrier(2)
            statuses: list[int] = []

            def race(
                login: str, hazard: str = hazard, barrier: threading.Barrier = barrier, statuses: list[int] = statuses
            ) -> None:
                with server.client(accounts.tokens[login]) as client:
                    client.get("/healthz")  # connection open before the start line
                    barrier.wait()
                    statuses.append(client.post(f"/api/v1/hazards/{hazard}/acknowledge").status_code)

            threads = [threading.Thread(target=race, args=(login,)) for login in ("fs1", "fs2")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(statuses) == [200, 409], statuses
            acks = [t for t in cli.json("show", hazard)["history"] if t["action"] == "hazard.acknowledged"]
            assert len(acks) == 1


def test_a_source_reference_with_a_slash_names_its_hazard_in_the_path(pair: Pair) -> None:
    with pair.server.client(pair.token) as client:
        created = client.post("/api/v1/events", json=[detection("12345/2025", at=_at(1))])
        shown = client.get("/api/v1/hazards/12345%2F2025")
        acted = client.post("/api/v1/hazards/12345/2025/acknowledge")
    assert created.status_code == 200
    assert shown.status_code == 200 and shown.json()["ref"] == "12345/2025"
    assert acted.status_code == 200 and acted.json()["hazard"]["state"] == "rectifying"
