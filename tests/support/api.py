"""A real ``hazardloop web`` on a loopback port, in its own process, and the accounts the API tests act as.

The server is started through the command line exactly as an operator starts it; the tests talk to it over HTTP
with httpx, and manage accounts with the real command line in the test process (so a revocation or a disabled
account is seen by another process, as in production)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "config"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDLOOP_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def run_cli(
    db: str, *args: str, input: str | None = None, env: dict[str, str] | None = None, now: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "hazardloop.cli", "--db", db, "--config", str(CONFIG_DIR)]
    if now:
        argv += ["--now", now]
    return subprocess.run(
        [*argv, *args], input=input, capture_output=True, text=True, env=cli_env(env), timeout=300, check=False
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_server(
    db: str, workdir: Path, env: dict[str, str] | None = None, config: Path = CONFIG_DIR
) -> Iterator[Server]:
    """``hazardloop web`` on a free loopback port until the block ends (on the default organisation, or ``config``)."""
    port = free_port()
    log_path = workdir / f"web-{port}.log"
    settings = {"HAZARDLOOP_MAIL_DIR": str(workdir / "outbox"), "HAZARDLOOP_CONSOLE": "false", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hazardloop.cli",
                "--db",
                db,
                "--config",
                str(config),
                "web",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=cli_env(settings),
            cwd=workdir,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"hazardloop web exited with {process.returncode}:\n{server.log()}")
            try:
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hazardloop web did not answer within 90 s:\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Accounts:
    """Logins → tokens, made with the real command line (in this process: ``tests.support.fixtures.Cli``)."""

    cli: Any
    tokens: dict[str, str] = field(default_factory=dict)
    actors: dict[str, str] = field(default_factory=dict)

    def add(self, login: str, unit: str, roles: str, name: str) -> str:
        self.cli.ok(
            "users",
            "add",
            login,
            "--unit",
            unit,
            "--role",
            roles,
            "--name",
            name,
            "--password-stdin",
            input="correct horse battery\n",
        )
        made = self.cli.ok("tokens", "create", login, "--days", "30")
        token = made.stdout.strip().splitlines()[-1]
        self.tokens[login] = token
        self.actors[login] = f"{unit}/{name}"
        return token


# (the accounts, backend) -> the tokens and actors the first test made them with (``seeded_accounts``)
_SEEDED_ACCOUNTS: dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]] = {}


def seeded_accounts(cli: Any, *accounts: tuple[str, str, str, str]) -> Accounts:
    """``Accounts`` holding ``accounts`` (login, unit, roles, name) on ``cli``'s database, a fresh initialised copy.

    The first test on each backend makes them with the real command line (an Argon2 hash each, the slow part); later
    tests get a copy of the database that left (tests/support/templates.py), and so the very same tokens."""
    from tests.support import templates

    made = Accounts(cli)
    key = f"accounts {accounts!r}"
    backend = "sqlite" if cli.db.startswith("sqlite") else "postgres"

    def make() -> None:
        for account in accounts:
            made.add(*account)
        _SEEDED_ACCOUNTS[(key, backend)] = (dict(made.tokens), dict(made.actors))

    templates.seeded(cli.db, key, make)
    tokens, actors = _SEEDED_ACCOUNTS[(key, backend)]
    made.tokens.update(tokens)
    made.actors.update(actors)
    return made


def detection(
    ref: str, township: str = "府山街道", field: str = "other", at: str = "2026-01-05T09:00:00+08:00", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "hazard.detected",
        "event_id": f"det-{ref}",
        "at": at,
        "hazard": {
            "ref": ref,
            "title": f"隐患 {ref}",
            "description": "楼道堆放杂物",
            "field": field,
            "severity": "general",
            "township": township,
            **extra,
        },
    }
