"""Where the contract promises a sentence, no traceback: instants outside 2000-01-01 – 2100-01-01 (an event's
``at``, ``--now``, a report's period) are invalid input (exit 2); a configuration file that is not UTF-8 is bad
configuration (exit 4) naming the file and line; ``report --out`` and ``ledger --out`` onto a file, a folder, under
a file, in a read-only folder or on a full disk say so in one sentence and leave nothing half-written, and never
write through a symbolic link planted at the target."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.factories import FIRE_UNIT, detected, event
from tests.support.fixtures import CONFIG_DIR, Cli, seeded_cli, write_events

NOW = "2025-04-02T09:00:00+08:00"


@pytest.fixture
def loaded(cli: Cli, tmp_path: Path) -> Cli:

    def seed() -> None:
        history = [
            detected("RNG-1", "2025-03-03T08:00:00+08:00"),
            event("hazard.acknowledged", "RNG-1", "2025-03-03T09:00:00+08:00", FIRE_UNIT),
        ]
        cli.ok("apply", str(write_events(tmp_path / "seed.jsonl", history)), now=NOW)

    return seeded_cli(cli, "input_range", seed)


def invalid(cli: Cli, *args: str, now: str | None = NOW, code: int = 2) -> str:
    before = cli.export(NOW)
    result = cli(*args, now=now)
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    assert cli.export(NOW) == before, "a rejected command changed the database"
    return result.stderr


# --- instants ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-03-03T08:00:00+08:00", "9999-12-31T08:00:00-08:00", "1999-12-31T23:00:00Z"])
def test_an_event_dated_outside_the_engines_range_is_invalid_input(loaded: Cli, tmp_path: Path, when: str) -> None:
    lines = [detected("RNG-2", "2025-03-04T08:00:00+08:00"), detected("RNG-3", when)]
    stderr = invalid(loaded, "apply", str(write_events(tmp_path / "far.jsonl", lines)))
    assert "line 2" in stderr and "'at'" in stderr and "2000-01-01" in stderr and "2100-01-01" in stderr, stderr


def test_the_first_and_last_instants_of_the_range(loaded: Cli, tmp_path: Path) -> None:
    lines = [detected("RNG-4", "2000-01-01T00:00:00Z"), detected("RNG-5", "2000-01-01T07:59:59+08:00")]
    stderr = invalid(loaded, "apply", str(write_events(tmp_path / "edge.jsonl", lines)))
    assert "line 1" not in stderr and "line 2" in stderr, stderr  # 07:59:59+08:00 is 1999-12-31T23:59:59Z
    loaded.ok("apply", str(write_events(tmp_path / "first.jsonl", lines[:1])), now=NOW)
    stderr = invalid(loaded, "hazards", now="2100-01-01T08:00:00+08:00")
    assert "--now" in stderr, stderr
    loaded.ok("hazards", now="2099-12-31T23:59:59+00:00")


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00", "0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-08:00"])
@pytest.mark.parametrize("command", [["hazards"], ["sweep"]])
def test_now_outside_the_range_is_invalid_input(loaded: Cli, now: str, command: list[str]) -> None:
    stderr = invalid(loaded, *command, now=now)
    assert "'--now'" in stderr and "2000-01-01" in stderr, stderr


@pytest.mark.parametrize(
    ("kind", "label"),
    [("quarterly", "9999-Q4"), ("daily", "0001-01-01"), ("monthly", "1999-12"), ("weekly", "9999-W52")],
)
def test_a_report_period_outside_the_range_is_invalid_input(loaded: Cli, kind: str, label: str) -> None:
    stderr = invalid(loaded, "report", kind, "--period", label)
    assert "'--period'" in stderr and label in stderr and "2000-01-01" in stderr, stderr


# --- configuration that is not UTF-8 -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["policy.yaml", "org.yaml"])
def test_a_configuration_file_that_is_not_utf8_is_bad_configuration(sqlite_cli: Cli, tmp_path: Path, name: str) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    original = (config / name).read_bytes()
    lines = original.split(b"\n")
    lines[2] += " # 备注".encode("gbk")  # a comment saved from a GBK editor, on line 3
    (config / name).write_bytes(b"\n".join(lines))
    result = Cli(sqlite_cli.db, tmp_path, config)("hazards")
    assert result.exit_code == 4, result.stderr
    assert f"{config / name}, line 3" in result.stderr and "UTF-8" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# --- output files --------------------------------------------------------------------------------------


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A small file system of its own at ``folder`` (a full disk, a read-only place): needs root."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        # lazy: a file left open by a failing writer must not keep the mount (and the test's folder) busy
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_report_out_onto_a_file_or_under_a_file_is_invalid_input(loaded: Cli, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me", encoding="utf-8")
    for target in (a_file, a_file / "report"):
        stderr = invalid(loaded, "report", "monthly", "--out", str(target))
        assert "'--out'" in stderr and "file" in stderr, stderr
    assert a_file.read_text(encoding="utf-8") == "keep me"


def test_ledger_out_onto_a_folder_or_under_a_file_is_invalid_input(loaded: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "ledger.xlsx"
    folder.mkdir()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me", encoding="utf-8")
    for target, words in ((folder, "folder"), (a_file / "ledger.xlsx", "file")):
        stderr = invalid(loaded, "ledger", "--out", str(target))
        assert "'--out'" in stderr and words in stderr, stderr
    assert a_file.read_text(encoding="utf-8") == "keep me" and files_in(folder) == []


def test_ledger_out_onto_an_existing_file_replaces_it_whole(loaded: Cli, tmp_path: Path) -> None:
    target = tmp_path / "ledger.xlsx"
    target.write_bytes(b"an old ledger")
    loaded.ok("ledger", "--out", str(target), now=NOW)
    assert target.read_bytes()[:2] == b"PK" and not target.is_symlink()
    assert files_in(tmp_path).count("ledger.xlsx") == 1 and not [n for n in files_in(tmp_path) if n.endswith(".part")]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_symbolic_link_planted_at_the_ledger_target_is_not_followed(loaded: Cli, tmp_path: Path) -> None:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious", encoding="utf-8")
    link = tmp_path / "ledger.xlsx"
    link.symlink_to(victim)
    stderr = invalid(loaded, "ledger", "--out", str(link))
    assert "'--out'" in stderr and "symbolic link" in stderr, stderr
    assert victim.read_text(encoding="utf-8") == "precious" and link.is_symlink()


def test_a_symbolic_link_planted_in_the_report_folder_is_not_followed(loaded: Cli, tmp_path: Path) -> None:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious", encoding="utf-8")
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "report.html").symlink_to(victim)
    stderr = invalid(loaded, "report", "monthly", "--out", str(folder), "--send")
    assert "'--out'" in stderr and "symbolic link" in stderr, stderr
    assert victim.read_text(encoding="utf-8") == "precious"
    assert files_in(folder) == ["report.html"]
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").iterdir()), "mailed before refusing"


def test_report_and_ledger_in_a_read_only_folder_are_invalid_input(loaded: Cli, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=64k") as folder:
        stderr = invalid(loaded, "report", "monthly", "--out", str(folder / "report"))
        assert "'--out'" in stderr and "read-only" in stderr, stderr
        stderr = invalid(loaded, "ledger", "--out", str(folder / "ledger.xlsx"))
        assert "'--out'" in stderr and "read-only" in stderr, stderr


def test_report_and_ledger_on_a_full_disk_say_so_and_leave_nothing_behind(loaded: Cli, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "size=8k") as folder:
        stderr = invalid(loaded, "ledger", "--out", str(folder / "ledger.xlsx"), code=1)
        assert "disk is full" in stderr, stderr
        assert files_in(folder) == []
        stderr = invalid(loaded, "report", "monthly", "--out", str(folder / "report"), code=1)
        assert "disk is full" in stderr, stderr
        assert files_in(folder / "report") == []


def test_a_ledger_date_outside_the_range_is_invalid_input(loaded: Cli, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        "ref,title,description,field,severity,township,detected_at,actor\n"
        "L-1,消防通道堵塞,楼道堆物,fire,general,府山街道,2025-03-04 08:00,SX-YC-FS\n"
        "L-2,消防通道堵塞,楼道堆物,fire,general,府山街道,0001-01-01 08:00,SX-YC-FS\n",
        encoding="utf-8",
    )
    stderr = invalid(loaded, "import", str(ledger))
    assert "line 3" in stderr and "'detected_at'" in stderr and "0001-01-01T08:00:00+08:00" in stderr, stderr
    assert "out of range" in stderr and "line 2" not in stderr, stderr
