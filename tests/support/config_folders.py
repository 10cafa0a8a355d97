"""Configuration folders for tests: a copy of the shipped configuration, with edits."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.fixtures import CONFIG_DIR


def edited_config(
    tmp_path: Path, policy_edit: tuple[str, str] | None = None, org_edit: tuple[str, str] | None = None
) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    shutil.copy(CONFIG_DIR / "policy.yaml", folder / "policy.yaml")
    for name, edit in (("policy.yaml", policy_edit), ("org.yaml", org_edit)):
        if edit:
            text = (folder / name).read_text(encoding="utf-8")
            assert edit[0] in text, f"{edit[0]!r} not in {name}"
            (folder / name).write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    return folder
