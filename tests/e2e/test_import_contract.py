"""The import contracts in pyproject.toml ([tool.importlinter]: the layers, the pure core, notifications without SQL,
no cycles inside models and notifications) hold for this checkout, as `make lint` checks them with `lint-imports`.

import-linter reads a package from its folder, and the checkout maps models/, flows/, notifications/ and config/
into `hazardloop` (pyproject's package-dir): the graph is read from a tree of links laid out as the wheel installs
the package, built from that mapping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"


def _installed_layout(target: Path, *, copied: tuple[str, ...] = ()) -> Path:
    """``target/hazardloop`` as the wheel lays it out, each entry a link into the checkout (or a copy, for the
    mapped folders named in ``copied``)."""
    mapping = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    package = target / "hazardloop"
    package.mkdir(parents=True)
    for entry in (ROOT / mapping["hazardloop"]).iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name.count(".") == 1:  # hazardloop.models -> models/
            inside = package / name.split(".", 1)[1]
            if inside.name in copied:
                shutil.copytree(ROOT / folder, inside, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                inside.symlink_to(ROOT / folder)
    return target


def _lint_imports(layout: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(lint), "--config", str(PYPROJECT), "--no-cache"],
        cwd=layout,
        env={**os.environ, "PYTHONPATH": str(layout)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_import_contracts_are_kept(tmp_path: Path) -> None:
    result = _lint_imports(_installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    # the mapped folders were read: the contracts did not pass on an empty graph
    assert "hazardloop.models.core" not in result.stderr


def test_a_core_module_that_reaches_for_the_database_breaks_the_contracts(tmp_path: Path) -> None:
    layout = _installed_layout(tmp_path, copied=("models",))
    probe = layout / "hazardloop" / "models" / "core" / "leaky.py"
    probe.write_text(
        "import sqlalchemy\n\nfrom hazardloop.models.store.tables import HazardRow\n\nROWS = (sqlalchemy, HazardRow)\n",
        encoding="utf-8",
    )
    result = _lint_imports(layout)
    assert result.returncode != 0
    assert "hazardloop.models.core.leaky -> sqlalchemy" in result.stdout
    assert "hazardloop.models.core.leaky -> hazardloop.models.store.tables" in result.stdout
