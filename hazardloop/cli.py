"""The ``hazardloop`` command line (Typer + Rich): assembles the commands, grouped by topic in the
``commands_*`` modules, on the app of ``cli_app.py``. Each command is thin: parse, call one service, print."""

from __future__ import annotations

from hazardloop import (  # noqa: F401  (registers the commands)
    commands_admin,
    commands_audit,
    commands_core,
    commands_demo,
    commands_monitoring,
    commands_report,
    commands_serve,
    commands_users,
    commands_web,
)
from hazardloop.cli_app import app, err, handled, opts, out, print_json, read_lines  # noqa: F401  (the app; older imports)


def main() -> None:
    app()


if __name__ == "__main__":
    # Run as `python -m hazardloop.cli`: the commands register on the importable module's app, not on __main__'s.
    from hazardloop.cli import main as _main

    _main()
