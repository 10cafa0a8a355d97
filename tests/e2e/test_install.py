"""The package as users get it: build a wheel from a copy of the source, check that it carries its data files
(configuration, notice templates, migrations), install it non-editable into a bare folder and run the
command line from somewhere else, with the source tree out of reach."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
DATA_FILES = (
    "hazardloop/config/policy.yaml",
    "hazardloop/config/org.yaml",
    "hazardloop/demo/phrases.yaml",
    "hazardloop/notifications/templates/assignment.html",
    "hazardloop/notifications/templates/assignment.txt",
    "hazardloop/notifications/templates/assignment.subject.txt",
    "hazardloop/models/store/migrations/env.py",
    "hazardloop/models/store/migrations/script.py.mako",
    "hazardloop/models/store/migrations/versions/0001_initial_schema.py",
)
SOURCE_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache",
    "outbox", "reports", "*.db", "*.db-*", "demo-output", ".prefect",
)  # fmt: skip

# Runs the installed command line: the install folder first on the path, and setuptools' editable-install
# finder (which would map the packages to the source tree) taken out.
BOOT = """
import sys
target = sys.argv.pop(1)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
sys.path[:] = [target] + [p for p in sys.path if "editable" not in p and p not in ("", ".")]
sys.argv[0] = "hazardloop"
if sys.argv[1:] == ["--where"]:  # where each package is imported from
    import importlib, json
    packages = ("hazardloop", "hazardloop.models", "hazardloop.config", "hazardloop.notifications", "hazardloop.flows")
    print(json.dumps({name: importlib.import_module(name).__file__ for name in packages}))
    raise SystemExit(0)
from hazardloop.cli import main
main()
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("build")
    source = build / "src"
    shutil.copytree(ROOT, source, ignore=SOURCE_IGNORE)
    result = subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(build / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    wheels = list((build / "dist").glob("hazardloop-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            str(VENV_PYTHON),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return target


def test_the_wheel_carries_configuration_templates_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in DATA_FILES if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    for kind in ("assignment", "reminder", "supervision", "elevation", "listing", "return", "extension_decision",
                 "clearance", "delisting"):  # fmt: skip
        assert f"hazardloop/notifications/templates/{kind}.html" in names, kind
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "hazardloop = hazardloop.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(name.startswith("tests/") for name in names), "the tests should not be installed"


def test_the_wheel_installs_one_top_level_package(wheel: Path) -> None:
    """Folders named models, config or flows in site-packages would collide with any other package of those
    names: the wheel maps them all into `hazardloop`."""
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"hazardloop"}, top_level
    for package in ("models", "flows", "notifications", "config", "services", "web"):
        assert f"hazardloop/{package}/__init__.py" in names, package


def run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAZARDLOOP_", "PYTHON"))}
    env["HAZARDLOOP_MAIL_DIR"] = str(cwd / "outbox")
    return subprocess.run(
        [sys.executable, "-c", BOOT, str(installed), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_installed_package_runs_from_elsewhere_without_the_source_tree(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()

    where = run_installed(installed, work, "--where")
    assert where.returncode == 0, where.stderr
    for name, file in json.loads(where.stdout).items():
        assert Path(file).is_relative_to(installed), f"{name} was imported from {file}, not the installed copy"

    helped = run_installed(installed, work, "--help")
    assert helped.returncode == 0, helped.stderr
    for command in ("init", "apply", "sweep", "dispatch"):
        assert command in helped.stdout

    db = f"sqlite:///{work / 'hazardloop.db'}"
    now = "2025-03-04T09:00:00+08:00"
    init = run_installed(installed, work, "--db", db, "init")
    assert init.returncode == 0, init.stderr  # migrations and org.yaml from the installed package
    listed = run_installed(installed, work, "--db", db, "hazards", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []

    detection = {
        "type": "hazard.detected",
        "event_id": "install-1",
        "at": "2025-03-03T08:00:00+08:00",
        "actor": "SX-YC-FS/网格员",
        "hazard": {
            "ref": "INST-1",
            "title": "灭火器过期",
            "description": "小区3号楼灭火器过期",
            "field": "fire",
            "severity": "general",
            "township": "府山街道",
        },
    }
    (work / "events.jsonl").write_text(json.dumps(detection, ensure_ascii=False) + "\n", encoding="utf-8")
    applied = run_installed(installed, work, "--db", db, "--now", now, "apply", "events.jsonl")
    assert applied.returncode == 0, applied.stderr
    [hazard] = json.loads(run_installed(installed, work, "--db", db, "--now", now, "hazards", "--json").stdout)
    assert (hazard["unit"], hazard["due_at"]) == ("SX-YC-XF", "2025-03-12T23:59:59+08:00")  # policy + org

    dispatched = run_installed(installed, work, "--db", db, "--now", now, "dispatch", "--json")
    assert dispatched.returncode == 0, dispatched.stderr
    assert json.loads(dispatched.stdout)["sent"] == 1  # rendered from the installed templates
    [eml] = list((work / "outbox").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    bodies = {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}
    assert {"text/plain", "text/html"} <= set(bodies)
    assert all("灭火器过期" in body for body in bodies.values())
