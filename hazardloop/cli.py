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
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from hazardloop.context import Options
from models.errors import HazardloopError, InvalidInput, Problem, Rejections

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="hazardloop: closed-loop management of risk hazards (风险隐患闭环管理).",
)
# Piped output (cron logs, files) gets wide tables instead of 80-column wrapping.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 180)
F = TypeVar("F", bound=Callable[..., Any])


def opts(ctx: typer.Context) -> Options:
    return ctx.ensure_object(Options)


def handled(fn: F) -> F:
    """Turn the engine's typed errors into the contract's exit codes and plain messages on stderr."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = next((a for a in args if isinstance(a, typer.Context)), kwargs.get("ctx"))
        try:
            return fn(*args, **kwargs)
        except (Rejections, InvalidInput) as exc:
            problems = exc.problems
            label = "refused" if isinstance(exc, Rejections) and exc.exit_code == 3 else "invalid input"
            err.print(f"[bold red]{label}[/]: {len(problems)} problem(s); nothing was written.", highlight=False)
            for p in problems[:200]:
                err.print(f"  {p}", markup=False, highlight=False)
            if len(problems) > 200:
                err.print(f"  … and {len(problems) - 200} more", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except SQLAlchemyError as exc:
            # A database that cannot be reached or opened is the operator's to fix, not a bug: say which and why.
            err.print("[bold red]database error[/]: ", end="", highlight=False)
            err.print(_database_problem(exc, ctx), markup=False, highlight=False)
            raise typer.Exit(1) from None
        except HazardloopError as exc:
            kind = {3: "refused", 4: "configuration error"}.get(exc.exit_code, "error")
            err.print(f"[bold red]{kind}[/]: ", end="", highlight=False)
            err.print(str(exc), markup=False, highlight=False)
            if exc.exit_code == 3:
                err.print("Nothing was written.", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        finally:
            if ctx is not None:
                opts(ctx).close()

    return wrapper  # type: ignore[return-value]


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
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def read_lines(path: str) -> tuple[str, list[tuple[int, str]]]:
    # utf-8-sig: editors on Windows start UTF-8 files with a byte-order mark, which is not part of line 1's JSON
    if path == "-":
        return "<stdin>", list(enumerate(sys.stdin.read().removeprefix("\ufeff").splitlines(), start=1))
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput([Problem("file not found", source=path)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput([Problem(f"cannot be read ({exc})", source=path)]) from None
    return path, list(enumerate(text.splitlines(), start=1))


from hazardloop import (  # noqa: E402,F401  (registers the commands)
    commands_admin,
    commands_core,
    commands_demo,
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
