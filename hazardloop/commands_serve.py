"""``hazardloop serve``: the distributed mode from one process — every deployment of ``flows/deployments.py``
registered on the Prefect server that ``PREFECT_API_URL`` names, its schedules, the supervisors' forms and the
event trigger, with this process running their flow runs (more processes may serve the same set)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hazardloop.cli_app import app, err, handled, opts, ready
from hazardloop.models.core.errors import ConfigError, InvalidInput


def _absolute_sqlite(url: str) -> str:
    """Flow runs execute in child processes whose working folder may differ: pin a relative SQLite path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(Path(url.removeprefix(prefix)).resolve())
    return url


@app.command()
@handled
def serve(
    ctx: typer.Context,
    window: Annotated[
        float, typer.Option(help="seconds of emitted events one intake run collects", min=0.5, max=3600)
    ] = 5.0,
    settle: Annotated[
        float,
        typer.Option(
            help="seconds the Prefect server takes to store an event "
            "(above its PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL)",
            min=0,
            max=600,
        ),
    ] = 6.0,
) -> None:
    """Register the deployments on the Prefect server (PREFECT_API_URL) and run their flow runs until stopped."""
    if opts(ctx).now_text is not None:
        # The Prefect server fires the schedules on its own clock and each flow run takes the real time: a --now
        # here would be silently ignored, against the contract's "the clock for every time-based decision".
        raise InvalidInput(
            "--now cannot be used with `serve`: the Prefect server runs the schedules on the real clock. "
            "To run the schedules from a chosen instant, use `hazardloop --now ... run`"
        )
    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError(
            "PREFECT_API_URL is not set: `serve` registers deployments on a Prefect server "
            "(start one with `prefect server start`, then export PREFECT_API_URL=http://127.0.0.1:4200/api)"
        )
    application = ready(ctx)
    settings = application.settings
    # The flow runs read their wiring from the environment, so they use what this command was given.
    os.environ["HAZARDLOOP_DATABASE_URL"] = _absolute_sqlite(settings.database_url)
    os.environ["HAZARDLOOP_CONFIG"] = str(Path(settings.config).resolve())
    os.environ["HAZARDLOOP_MAIL_DIR"] = str(Path(settings.mail_dir).resolve())
    os.environ["HAZARDLOOP_REPORT_DIR"] = str(Path(settings.report_dir).resolve())
    # A supervisor who starts `escalate` from the UI should not wait Prefect's default 10 s for the next poll.
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")

    from prefect import serve as prefect_serve

    from hazardloop.flows.deployments import build_deployments

    deployments = build_deployments(application.policy, window_seconds=window, settle_seconds=settle)
    err.print(f"serving {len(deployments)} deployment(s) on {os.environ['PREFECT_API_URL']}", highlight=False)
    prefect_serve(*deployments, print_starting_message=False)
