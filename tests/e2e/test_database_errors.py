"""A database the engine cannot use is the operator's to fix: the command says which database and why in a
sentence or two (never a traceback, never the password), exits 4 for a URL it cannot use at all and 1 for a
database it cannot reach or open."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.fixtures import Cli


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # free now, and nothing listens on it after the probe closes


def _short_plain_message(stderr: str) -> None:
    assert "Traceback" not in stderr and "╭" not in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 3, stderr


@pytest.mark.parametrize(
    ("url", "words"),
    [("notaurl", ["'notaurl'", "cannot be read", "sqlite:///"]), ("mysql://u@h/x", ["'mysql'", "PostgreSQL"])],
)
def test_a_database_url_the_engine_cannot_use_is_a_configuration_error(
    tmp_path: Path, url: str, words: list[str]
) -> None:
    for command in (["init"], ["hazards"]):
        result = Cli(url, tmp_path)(*command)
        assert result.exit_code == 4, result.stderr
        _short_plain_message(result.stderr)
        for word in words:
            assert word in result.stderr, result.stderr


def test_a_sqlite_file_in_a_missing_folder_is_named_with_the_drivers_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/folder/x.db"
    result = Cli(url, tmp_path)("init")
    assert result.exit_code == 1, result.stderr
    _short_plain_message(result.stderr)
    assert url in result.stderr and "unable to open database file" in result.stderr, result.stderr
    assert not (tmp_path / "no").exists()


def test_an_unreachable_postgresql_server_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:{_closed_port()}/hazardloop"
    result = Cli(url, tmp_path)("hazards")
    assert result.exit_code == 1, result.stderr
    _short_plain_message(result.stderr)
    assert "s3cret-pw" not in result.stderr and "postgres:***@127.0.0.1" in result.stderr, result.stderr
    assert "refused" in result.stderr.lower(), result.stderr


def test_a_command_on_a_missing_sqlite_file_says_to_init_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "never-initialised.db"
    for command in (["hazards"], ["export", "--json"], ["sweep"]):
        result = Cli(f"sqlite:///{path}", tmp_path)(*command)
        assert result.exit_code == 4, result.stderr
        _short_plain_message(result.stderr)
        assert str(path) in result.stderr and "hazardloop init" in result.stderr, result.stderr
        assert not path.exists(), f"{command} left an empty database file behind"
