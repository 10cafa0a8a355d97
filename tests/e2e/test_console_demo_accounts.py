"""The demo's ready accounts: one per role, placed where the data leaves them work, each able to sign in to the
console with the password printed once; a second run gives new passwords to the same seats."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.fixtures import CONFIG_DIR, Cli, ready_app


def _detect(cli: Cli, tmp_path: Path, ref: str, township: str) -> None:
    event = {
        "type": "hazard.detected",
        "event_id": ref,
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "actor": "system",
        "hazard": {
            "ref": ref,
            "title": "演示隐患",
            "description": "演示。",
            "field": "other",
            "severity": "general",
            "township": township,
        },
    }
    path = tmp_path / f"{ref}.jsonl"
    path.write_text(json.dumps(event, ensure_ascii=False) + "\n", encoding="utf-8")
    cli.ok("apply", str(path))


def test_the_demo_makes_one_signed_in_seat_per_role(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hazardloop.demo.accounts import create_demo_accounts
    from hazardloop.services import identity

    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    cli = Cli(sqlite_url, tmp_path, CONFIG_DIR)
    cli.ok("init")
    for n in range(3):
        _detect(cli, tmp_path, f"KQ-{n}", "SX-KQ-KQ")  # 柯桥街道: the township with the most open work of its own
    _detect(cli, tmp_path, "FS-0", "SX-YC-FS")
    with ready_app(sqlite_url) as app:
        made = create_demo_accounts(app)
        assert {a.roles for a in made} == {"staff", "verifier", "supervisor", "viewer", "admin"}
        seats = {a.login: a for a in made}
        assert seats["demo-staff"].unit_code == "SX-KQ-KQ"
        assert seats["demo-county"].unit_code == "SX-KQ" and seats["demo-city"].unit_code == "SX"
        for a in made:
            assert identity.login(app, a.login, a.password, "127.0.0.1").ok, a.login
        again = {a.login: a.password for a in create_demo_accounts(app)}
        assert again.keys() == seats.keys() and all(again[k] != seats[k].password for k in again)
        assert not identity.login(app, "demo-staff", seats["demo-staff"].password, "127.0.0.1").ok
    users = cli.json("users", "list")
    assert sorted(u["login"] for u in users) == sorted(seats)
