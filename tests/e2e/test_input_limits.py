"""Smaller holes: a password in the database URL's query string is never printed; a list's `--limit` must be at
least 1 and `--level` a known level; an event's evidence list and texts have limits; every e-mail address of the
configuration is checked strictly when it is loaded. On SQLite and PostgreSQL where a database is involved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.factories import FIRE_UNIT, detected, event
from tests.support.fixtures import CONFIG_DIR, Cli, seeded_cli, write_events

NOW = "2025-04-02T09:00:00+08:00"
SECRET = "s3cr3t-Pa55"


@pytest.fixture
def loaded(cli: Cli, tmp_path: Path) -> Cli:

    def seed() -> None:
        history = [
            detected("LIM-1", "2025-03-03T08:00:00+08:00"),
            detected("LIM-2", "2025-03-03T09:00:00+08:00", severity="major"),
            event("hazard.acknowledged", "LIM-1", "2025-03-03T09:00:00+08:00", FIRE_UNIT),
        ]
        cli.ok("apply", str(write_events(tmp_path / "seed.jsonl", history)), now=NOW)

    return seeded_cli(cli, "input_limits", seed)


def invalid(cli: Cli, *args: str, now: str | None = NOW, code: int = 2) -> str:
    before = cli.export(NOW)
    result = cli(*args, now=now)
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    assert cli.export(NOW) == before, "a rejected command changed the database"
    return result.stderr


# --- a password in the URL's query string ---------------------------------------------------------------


def _run(tmp_path: Path, db: str, *args: str) -> tuple[int, str]:
    result = Cli(db, tmp_path)(*args)
    return result.exit_code, result.stdout + result.stderr


def test_a_password_in_the_query_string_of_an_unreachable_database_is_hidden(tmp_path: Path) -> None:
    code, text = _run(tmp_path, f"postgresql+psycopg://u@127.0.0.1:1/db?password={SECRET}", "hazards")
    assert code == 1 and "password=***" in text, text
    assert SECRET not in text


def test_a_password_in_the_query_string_is_hidden_when_the_database_is_not_initialised(
    pg_url: str, tmp_path: Path
) -> None:
    url = f"{pg_url}?password={SECRET}&sslmode=disable"
    code, text = _run(tmp_path, url, "hazards")
    assert code == 4 and "init" in text and SECRET not in text, text
    code, text = _run(tmp_path, url, "init")  # the server trusts local users: the password is ignored
    assert code == 0 and "password=***" in text and "sslmode=disable" in text and SECRET not in text, text


def test_a_password_in_a_url_that_cannot_be_read_is_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = _run(tmp_path, f"postgresql+psycopg://u:{SECRET}@h:port/db?password={SECRET}", "hazards")
    assert code == 4 and "cannot be read" in text and SECRET not in text, text
    monkeypatch.setenv("HAZARDLOOP_DATABASE_URL", f"no-scheme?password={SECRET}")
    result = Cli.__new__(Cli)  # no --db: the environment's URL is the one checked
    from typer.testing import CliRunner

    from hazardloop.cli import app

    result = CliRunner().invoke(app, ["hazards"], catch_exceptions=False)
    assert result.exit_code == 4 and "HAZARDLOOP_DATABASE_URL" in result.stderr, result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:pw@h/db?password=x&sslpassword=y&sslmode=require", "?password=***&sslpassword=***"),
        ("postgresql+psycopg://u:pw@h/db?password=x", "postgresql+psycopg://u:***@h/db?password=***"),
        ("postgresql+psycopg://u@h:bad/db?password=x", "?password=***"),
        ("smtp://user:pw@mail.example.org:587?starttls=true", "smtp://user:***@mail.example.org:587?starttls=true"),
    ],
)
def test_every_secret_of_a_url_is_hidden(url: str, shown: str) -> None:
    from hazardloop.models.store.url_text import shown_url

    text = shown_url(url)
    assert shown in text and "pw" not in text.replace("password", "") and "=x" not in text and "=y" not in text


# --- list options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["hazards", "notices"])
@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_one_is_invalid_input(loaded: Cli, command: str, limit: str) -> None:
    stderr = invalid(loaded, command, "--limit", limit)
    assert "'--limit'" in stderr and "at least 1" in stderr, stderr


def test_a_limit_of_one_lists_one(loaded: Cli) -> None:
    assert len(loaded.json("hazards", "--limit", "1", now=NOW)) == 1
    assert len(loaded.json("notices", "--limit", "1", now=NOW)) == 1


def test_an_unknown_level_is_invalid_input_naming_the_levels(loaded: Cli) -> None:
    stderr = invalid(loaded, "hazards", "--level", "province")
    assert "'--level'" in stderr and "province" in stderr, stderr
    for level in ("none", "township", "county", "city"):
        assert level in stderr
    assert len(loaded.json("hazards", "--level", "none", now=NOW)) == 2


# --- evidence and text lengths --------------------------------------------------------------------------


def submission(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"note": "已整改", "evidence": ["a.jpg"]}
    return event("rectification.submitted", "LIM-1", "2025-03-04T10:00:00+08:00", FIRE_UNIT, **{**base, **fields})


def test_an_evidence_list_of_100000_items_is_invalid_input(loaded: Cli, tmp_path: Path) -> None:
    path = write_events(tmp_path / "big.jsonl", [submission(evidence=[f"photo-{i}.jpg" for i in range(100_000)])])
    stderr = invalid(loaded, "apply", str(path))
    assert "line 1" in stderr and "'evidence'" in stderr and "100000" in stderr and "at most 100" in stderr, stderr


def test_an_evidence_list_of_100_items_is_accepted(loaded: Cli, tmp_path: Path) -> None:
    path = write_events(tmp_path / "ok.jsonl", [submission(evidence=[f"photo-{i}.jpg" for i in range(100)])])
    loaded.ok("apply", str(path), now=NOW)
    history = loaded.json("show", "LIM-1", now=NOW)["history"]
    assert len(history[-1]["details"]["evidence"]) == 100


@pytest.mark.parametrize(
    ("fields", "field", "limit"),
    [
        ({"note": "很" * 4001}, "note", "4000"),
        ({"evidence": ["p" * 201]}, "evidence.0", "200"),
    ],
)
def test_a_text_longer_than_its_limit_is_invalid_input(
    loaded: Cli, tmp_path: Path, fields: dict[str, object], field: str, limit: str
) -> None:
    stderr = invalid(loaded, "apply", str(write_events(tmp_path / "long.jsonl", [submission(**fields)])))
    assert "line 1" in stderr and f"'{field}'" in stderr and f"at most {limit}" in stderr, stderr


def test_a_title_longer_than_its_column_is_invalid_input(loaded: Cli, tmp_path: Path) -> None:
    long_title = detected("LIM-3", "2025-03-04T08:00:00+08:00")
    long_title["hazard"]["title"] = "标" * 201
    stderr = invalid(loaded, "apply", str(write_events(tmp_path / "title.jsonl", [long_title])))
    assert "'hazard.title'" in stderr and "201 characters" in stderr and "at most 200" in stderr, stderr


# --- e-mail addresses in the configuration --------------------------------------------------------------


def _config_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    text = (config / name).read_text(encoding="utf-8")
    assert old in text
    (config / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return config


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("name", "old", "new", "key"),
    [
        (
            "policy.yaml",
            "sender: hazardloop@sx.example.org",
            'sender: "hazardloop@sx.example.org\\u2028"',
            "notices.sender",
        ),
        ("policy.yaml", "sender: hazardloop@sx.example.org", "sender: hazardloop@sx", "notices.sender"),
        ("org.yaml", "emails: [yjj@sx.example.org]", 'emails: ["yjj@sx.example.org\\u2028"]', "units.1.emails"),
        (
            "org.yaml",
            "emails: [yjj@sx.example.org]",
            'emails: ["yjj@sx.example.org\\r\\nBcc: x@evil.example"]',
            "units.1.emails",
        ),
    ],
)
def test_an_address_that_could_not_be_mailed_is_bad_configuration(
    sqlite_cli: Cli, tmp_path: Path, name: str, old: str, new: str, key: str
) -> None:
    config = _config_with(tmp_path, name, old, new)
    result = Cli(sqlite_cli.db, tmp_path, config)("hazards")
    assert result.exit_code == 4, result.stderr
    line = _line_of(config / name, new.split(":")[0] if name == "policy.yaml" else "yjj@")
    assert f"{config / name}, line {line}, key '{key}'" in result.stderr, result.stderr
    assert "not an e-mail address" in result.stderr


def test_the_default_addresses_pass(sqlite_cli: Cli) -> None:
    assert json.loads(sqlite_cli.ok("hazards", "--json", now=NOW).stdout) == []
