"""The real command line in separate OS processes: racers released together, and a long-running ``run``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.fixtures import CONFIG_DIR

TIMEOUT = 120

# Imports the whole command line, says it is ready, waits for the go file, then runs the command.
RACER = """
import os, sys, time
ready, go, *argv = sys.argv[1:]
from hazardloop.cli import main
# the work's imports, before the race
import hazardloop.commands_core, hazardloop.flows.jobs
import hazardloop.models.store.intake, hazardloop.models.store.sweep
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.0005)
sys.argv = ["hazardloop", *argv]
main()
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


class Race:
    """Each command in its own process; all are released at the same instant by ``go()``."""

    def __init__(
        self,
        tmp_path: Path,
        db: str,
        commands: list[list[str]],
        now: str,
        config: Path = CONFIG_DIR,
        env_extra: dict[str, str] | None = None,
    ) -> None:
        self.barrier = tmp_path / f"race-{time.monotonic_ns()}"
        self.barrier.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDLOOP_")}
        env["HAZARDLOOP_MAIL_DIR"] = str(tmp_path / "outbox")
        env.update(env_extra or {})
        env["PREFECT_LOGGING_LEVEL"] = "WARNING"
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    RACER,
                    str(self.barrier / f"ready-{n}"),
                    str(self.barrier / "go"),
                    *["--db", db, "--config", str(config), "--now", now, *command],
                ],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n, command in enumerate(commands)
        ]

    def go(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not all((self.barrier / f"ready-{n}").exists() for n in range(len(self.procs))):
            crashed = [p for p in self.procs if p.poll() is not None]
            if crashed:
                self.kill()
                raise AssertionError(f"a racer died before the start: {crashed[0].communicate()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("the racers never got ready")
            time.sleep(0.01)
        (self.barrier / "go").touch()

    def finish(self) -> list[Outcome]:
        try:
            outcomes = []
            for p in self.procs:
                stdout, stderr = p.communicate(timeout=TIMEOUT)
                outcomes.append(Outcome(p.returncode, stdout, stderr))
            return outcomes
        finally:
            self.kill()

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def race(
    tmp_path: Path,
    db: str,
    commands: list[list[str]],
    now: str,
    config: Path = CONFIG_DIR,
    env_extra: dict[str, str] | None = None,
) -> list[Outcome]:
    started = Race(tmp_path, db, commands, now, config, env_extra)
    started.go()
    return started.finish()


def start_run(db: str, config: Path, now: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HAZARDLOOP_MAIL_DIR": str(log.parent / "outbox"),
        "PYTHONUNBUFFERED": "1",
        "HAZARDLOOP_LEASE_SECONDS": "4",
    }
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "hazardloop.cli", "--db", db, "--config", str(config), "--now", now, "run"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False
