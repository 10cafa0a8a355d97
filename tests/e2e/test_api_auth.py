"""Credentials and hardening, against a real ``hazardloop web``: revoking a token or disabling an account takes
effect on the very next request (the server is another process); bad credentials answer 401, repeated failures 429
with Retry-After; a session cookie needs its CSRF token for a change; bodies above the limit answer 413; security
headers are on every answer; no secret reaches the server's log; ``web`` stays on loopback unless told otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.api import Accounts, Server, detection, run_cli, running_server, seeded_accounts
from tests.support.fixtures import Cli, initialised_cli


@dataclass
class Setup:
    cli: Cli
    server: Server
    accounts: Accounts


@pytest.fixture
def setup(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    cli = initialised_cli(db_url, tmp_path, monkeypatch)
    accounts = seeded_accounts(cli, ("fs", "SX-YC-FS", "staff", "张三"), ("yc", "SX-YC", "verifier,supervisor", "李四"))
    env = {"HAZARDLOOP_AUTH_FAILURES_PER_MINUTE": "4", "HAZARDLOOP_BODY_LIMIT": "20000"}
    with running_server(db_url, tmp_path, env) as server:
        yield Setup(cli, server, accounts)


def test_a_revoked_token_stops_working_on_the_very_next_request(setup: Setup) -> None:
    token = setup.accounts.tokens["fs"]
    with setup.server.client(token) as client:
        assert client.get("/api/v1/hazards").status_code == 200
        setup.cli.ok("tokens", "revoke", token.split(".")[0])
        refused = client.get("/api/v1/hazards")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in refused.json()["detail"]


def test_a_disabled_account_stops_working_on_the_very_next_request_and_again_once_enabled(setup: Setup) -> None:
    with setup.server.client(setup.accounts.tokens["yc"]) as client:
        assert client.get("/api/v1/me").status_code == 200
        setup.cli.ok("users", "disable", "yc")
        assert client.get("/api/v1/me").status_code == 401
        setup.cli.ok("users", "enable", "yc")
        assert client.get("/api/v1/me").json()["actor"] == "SX-YC/李四"


def test_no_or_bad_credentials_answer_401_and_repeated_failures_429_with_retry_after(setup: Setup) -> None:
    with setup.server.client() as client:
        assert client.get("/api/v1/hazards").status_code == 401
        assert client.get("/api/v1/hazards", headers={"Authorization": "Basic abc"}).status_code == 401
        good_id = setup.accounts.tokens["fs"].split(".")[0]
        statuses = [
            client.get("/api/v1/hazards", headers={"Authorization": f"Bearer {good_id}.wrong-secret-{n}"}).status_code
            for n in range(4)
        ]
        assert statuses == [401] * 4
        limited = client.get("/api/v1/hazards", headers={"Authorization": f"Bearer {setup.accounts.tokens['fs']}"})
    assert limited.status_code == 429  # even the right token waits: the address is guessing
    assert int(limited.headers["Retry-After"]) >= 1


def test_a_session_cookie_needs_its_csrf_token_for_a_change(setup: Setup) -> None:
    """The console's session, made by the same service the login page calls."""
    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.services.identity import login

    setup.cli.ok("apply", "-", input=_detection_line())
    application = bootstrap(db=setup.cli.db, config_dir=setup.cli.config)
    try:
        wrong = login(application, "fs", "wrong password", "127.0.0.1")
        signed_in = login(application, "fs", "correct horse battery", "127.0.0.1")
    finally:
        application.close()
    assert not wrong.ok and signed_in.ok
    hazard = setup.cli.json("hazards")[0]["id"]
    cookies = {"hazardloop_session": signed_in.cookie or ""}
    with httpx.Client(base_url=setup.server.url, cookies=cookies) as client:
        assert client.get("/api/v1/me").json()["via"] == "session"
        without = client.post(f"/api/v1/hazards/{hazard}/acknowledge")
        assert without.status_code == 403 and without.json()["field"] == "csrf_token"
        assert setup.cli.json("show", hazard)["state"] == "assigned"
        done = client.post(
            f"/api/v1/hazards/{hazard}/acknowledge", headers={"X-CSRF-Token": signed_in.csrf_token or ""}
        )
        assert done.status_code == 200, done.text
    history = setup.cli.json("show", hazard)["history"]
    assert history[-1]["actor"] == "SX-YC-FS/张三" and history[-1]["via"] == "session"


def test_a_body_above_the_limit_answers_413_and_writes_nothing(setup: Setup) -> None:
    big = [detection(f"BIG-{n}", title_pad="x") for n in range(200)]
    body = json.dumps(big).encode()
    with setup.server.client(setup.accounts.tokens["fs"]) as client:
        response = client.post("/api/v1/events", json=big)
        # sent in chunks without a declared length: refused as soon as it passes the limit
        chunked = client.post(
            "/api/v1/events",
            content=(body[i : i + 4096] for i in range(0, len(body), 4096)),
            headers={"Content-Type": "application/json"},
        )
    assert chunked.status_code == 413
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert setup.cli.json("hazards") == []


def test_security_headers_and_no_cors_unless_configured(setup: Setup) -> None:
    with setup.server.client(setup.accounts.tokens["fs"]) as client:
        response = client.get("/api/v1/hazards", headers={"Origin": "https://evil.example"})
        health = client.get("/healthz")
    for r in (response, health):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "same-origin"
        assert "access-control-allow-origin" not in r.headers
    assert "strict-transport-security" not in response.headers  # no https public URL configured


def test_no_secret_reaches_the_server_log(setup: Setup) -> None:
    token = setup.accounts.tokens["fs"]
    secret = token.split(".", 1)[1]
    with setup.server.client(token) as client:
        client.get("/api/v1/hazards", params={"q": "x"})
        client.get("/api/v1/hazards", headers={"Authorization": f"Bearer {token}x"})
        client.post("/api/v1/events", json=[{"type": "nonsense"}])
    log = setup.server.log()
    assert secret not in log and "correct horse battery" not in log


def test_health_and_readiness_need_no_credentials(setup: Setup) -> None:
    assert httpx.get(setup.server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(setup.server.url + "/readyz").json() == {"status": "ready"}
    assert httpx.get(setup.server.url + "/api/v1/openapi.json").status_code == 200


def test_web_refuses_a_public_host_without_a_public_url(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert run_cli(db, "init").returncode == 0
    refused = run_cli(db, "web", "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 4
    assert "HAZARDLOOP_PUBLIC_URL" in refused.stderr
    assert run_cli(db, "web", "--now", "2026-01-01T00:00:00+08:00").returncode == 2


def test_users_add_names_an_unknown_unit_or_role(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert run_cli(db, "init").returncode == 0
    bad_unit = run_cli(db, "users", "add", "a", "--unit", "NOWHERE", "--role", "staff", "--name", "甲")
    bad_role = run_cli(db, "users", "add", "a", "--unit", "SX", "--role", "staff,boss", "--name", "甲")
    assert (bad_unit.returncode, bad_role.returncode) == (2, 2)
    assert "--unit" in bad_unit.stderr and "NOWHERE" in bad_unit.stderr
    assert "--role" in bad_role.stderr and "boss" in bad_role.stderr
    made = run_cli(db, "users", "add", "a", "--unit", "SX", "--role", "admin", "--name", "甲")
    assert made.returncode == 0 and "password (shown once)" in made.stdout


def test_failed_logins_lock_the_account_until_an_admin_unlocks_it(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.services.identity import login

    cli = initialised_cli(db_url, tmp_path, monkeypatch)
    Accounts(cli).add("fs", "SX-YC-FS", "staff", "张三")
    application = bootstrap(db=db_url, config_dir=cli.config)
    try:
        results = [login(application, "fs", f"guess {n}", "10.0.0.1") for n in range(5)]
        assert [r.locked_for > 0 for r in results] == [False] * 4 + [True]
        assert login(application, "fs", "correct horse battery", "10.0.0.1").locked_for > 0
        cli.ok("users", "unlock", "fs")
        assert login(application, "fs", "correct horse battery", "10.0.0.1").ok
    finally:
        application.close()


def _detection_line() -> str:
    import json

    return json.dumps({**detection("CSRF-1"), "actor": "SX-YC-FS-CQ/网格员"}, ensure_ascii=False) + "\n"
