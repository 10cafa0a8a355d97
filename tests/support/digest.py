"""Four fire hazards of one unit, late, under a policy with the daily digest on or off."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.factories import detected
from tests.support.fixtures import CONFIG_DIR, Cli, write_events


def digest_config(tmp_path: Path, on: bool) -> Path:
    folder = tmp_path / ("on" if on else "off")
    folder.mkdir()
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    policy = yaml.safe_load((CONFIG_DIR / "policy.yaml").read_text(encoding="utf-8"))
    policy["notices"].update(digest=on, digest_min=3)
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return folder


def late_fire_hazards(tmp_path: Path, on: bool, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    cli = Cli(f"sqlite:///{tmp_path / ('on' if on else 'off')}.db", tmp_path, digest_config(tmp_path, on))
    cli.ok("init")
    events = [detected(f"DG-{i}", "2025-03-03T08:00:00+08:00") for i in range(4)]
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", events)), now="2025-03-03T12:00:00+08:00")
    cli.ok("dispatch", now="2025-03-03T12:00:00+08:00")  # the four 交办单 go out one by one
    cli.ok("sweep", now="2025-03-14T09:00:00+08:00")
    return cli
