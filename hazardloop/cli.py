"""The ``hazardloop`` command line (Typer + Rich). Thin: parse, call a service, print. Exit codes follow the
contract: 0 done, 2 invalid input, 3 refused, 4 bad configuration, 1 anything else."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from hazardloop.context import Options
from hazardloop.models.core.errors import HazardloopError, InvalidInput, Problem, Rejections
from hazardloop.models.core.event_json import numbered_lines
from hazardloop.models.core.text import json_safe
from hazardloop.terminal import SafeConsole, styled

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="hazardloop: closed-loop management of risk hazards (风险隐患闭环管理).",
)
# Piped output (cron logs, files) gets wide tables instead of 80-column wrapping.
# Every string printed is data: shown as text, never markup, with control characters made visible (terminal.py).
out = SafeConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 180)
err = SafeConsole(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 180)
F = TypeVar("F", bound=Callable[..., Any])


def opts(ctx: typer.Context) -> Options:
    return ctx.ensure_object(Options)


def handled(fn: F) -> F:
    """Turn the engine's typed errors into the contract's exit codes and plain messages on stderr."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = next((a for a in args if isinstance(a, typer.Context)), kwargs.get("ctx"))
        try:
            _refuse_undecodable(ctx, kwargs)
            return fn(*args, **kwargs)
        except (Rejections, InvalidInput) as exc:
            problems = exc.problems
            label = "refused" if isinstance(exc, Rejections) and exc.exit_code == 3 else "invalid input"
            err.print(styled((label, "bold red"), f": {len(problems)} problem(s); nothing was written."))
            for p in problems[:200]:
                err.print(f"  {p}")
            if len(problems) > 200:
                err.print(f"  … and {len(problems) - 200} more")
            raise typer.Exit(exc.exit_code) from None
        except SQLAlchemyError as exc:
            # A database that cannot be reached or opened is the operator's to fix, not a bug: say which and why.
            err.print(styled(("database error", "bold red"), ": ", _database_problem(exc, ctx)))
            raise typer.Exit(1) from None
        except HazardloopError as exc:
            kind = {3: "refused", 4: "configuration error"}.get(exc.exit_code, "error")
            err.print(styled((kind, "bold red"), ": ", str(exc)))
            if exc.exit_code == 3:
                err.print("Nothing was written.")
            raise typer.Exit(exc.exit_code) from None
        finally:
            if ctx is not None:
                opts(ctx).close()

    return wrapper  # type: ignore[return-value]


def _refuse_undecodable(ctx: typer.Context | None, kwargs: dict[str, Any]) -> None:
    """An argument that was not UTF-8 on the command line arrives holding lone surrogates, which no database
    driver can send: say which option, instead of failing on the way to the database."""
    for name, value in kwargs.items():
        if isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            params = {p.name: p for p in (ctx.command.params if ctx is not None else [])}
            param = params.get(name)
            shown = param.opts[0] if param is not None and param.param_type_name == "option" else name.upper()
            raise InvalidInput(
                [
                    Problem(
                        "is not valid text: it holds bytes that are not UTF-8 (check the terminal's encoding)",
                        field=shown,
                    )
                ]
            )


def _database_problem(exc: SQLAlchemyError, ctx: typer.Context | None) -> str:
    """One or two sentences: which database (password hidden) and the driver's own first line of explanation."""
    shown = opts(ctx).database_shown() if ctx is not None else "the database"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return f"{shown} cannot be used: {reason}. Nothing was written."


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="SQLAlchemy database URL (default $HAZARDLOOP_DATABASE_URL, else sqlite:///hazardloop.db)",
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="folder with policy.yaml and org.yaml")] = None,
    now: Annotated[str | None, typer.Option("--now", help="act as of this ISO 8601 instant")] = None,
) -> None:
    ctx.obj = Options(db=db, config=config, now_text=now)


def print_json(data: Any) -> None:
    """JSON on standard output. ``json`` escapes C0 controls itself; what else a terminal could act on (C1
    controls, DEL, bidirectional overrides, line separators) is escaped too, which JSON reads back the same."""
    sys.stdout.write(json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str)) + "\n")


def read_lines(path: str) -> tuple[str, list[tuple[int, str]]]:
    """The numbered lines of an events file (``-``: standard input), read as bytes so that nothing but LF and
    CRLF ends a line (see `numbered_lines`)."""
    source = "<stdin>" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidInput([Problem("file not found", source=path)]) from None
    except OSError as exc:
        raise InvalidInput([Problem(f"cannot be read ({exc.strerror or exc})", source=source)]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            [Problem("cannot be read: it is not UTF-8 text (save it as UTF-8)", source=source, line=line)]
        ) from None
    return source, numbered_lines(text)


from hazardloop import (  # noqa: E402,F401  (registers the commands)
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


def main() -> None:
    app()


if __name__ == "__main__":
    # Run as `python -m hazardloop.cli`: the commands register on the importable module's app, not on __main__'s.
    from hazardloop.cli import main as _main

    _main()
