"""The entry points are adapters over the services: the command modules never import ``hazardloop/cli.py`` (which
only assembles them), neither they nor the flows hold SQL or dialect branches, and only the clock reads the real
time. Read from the source, so that a new shortcut fails here rather than in review."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the demo is its own package's business (hazardloop/commands_demo.py, hazardloop/demo/)
DEMO = re.compile(r"(^|/)(commands_demo|demo\w*)\.py$")


def _adapters() -> list[Path]:
    files = [*sorted((ROOT / "hazardloop").glob("*.py")), *sorted((ROOT / "flows").glob("*.py"))]
    return [f for f in files if not DEMO.search(f.as_posix())]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_command_module_imports_the_module_that_assembles_them() -> None:
    commands = sorted((ROOT / "hazardloop").glob("commands_*.py"))
    assert len(commands) >= 8
    offenders = [c.name for c in commands if "hazardloop.cli" in _imports(c)]
    assert offenders == []
    assert "hazardloop.cli" not in _imports(ROOT / "hazardloop" / "cli_app.py")


def test_the_command_line_and_the_flows_hold_no_sql_and_no_dialect_branch() -> None:
    offenders: list[str] = []
    for path in _adapters():
        text = path.read_text(encoding="utf-8")
        sql = {m for m in _imports(path) if m.startswith("sqlalchemy") and not m.startswith("sqlalchemy.exc")}
        store = {m for m in _imports(path) if m.startswith("hazardloop.models.store.db")}
        if sql or store or "dialect.name" in text:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(sql | store)}")
    assert offenders == []


def test_only_the_clock_reads_the_real_time_in_the_entry_points_and_services() -> None:
    reads = re.compile(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(\)|date\.today\(")
    files = [*_adapters(), *sorted((ROOT / "hazardloop" / "services").glob("*.py"))]
    offenders = [str(p.relative_to(ROOT)) for p in files if reads.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    assert reads.search((ROOT / "config" / "bootstrap.py").read_text(encoding="utf-8"))  # the one reader


def test_the_services_hold_no_sql_either_the_store_does() -> None:
    allowed = {"sqlalchemy", "sqlalchemy.Engine"}  # the engine as a type; errors come from sqlalchemy.exc
    offenders: list[str] = []
    for path in sorted((ROOT / "hazardloop" / "services").glob("*.py")):
        imported = _imports(path)
        sql = {m for m in imported if m.startswith("sqlalchemy") and not m.startswith("sqlalchemy.exc")} - allowed
        tables = {m for m in imported if m.startswith("hazardloop.models.store.tables")}
        if sql or tables or "dialect.name" in path.read_text(encoding="utf-8"):
            offenders.append(f"{path.name}: {sorted(sql | tables)}")
    assert offenders == []
