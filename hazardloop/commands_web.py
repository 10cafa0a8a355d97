"""``hazardloop web``: the HTTP API and the web console under uvicorn; ``requeue``: send a notice again."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from hazardloop.cli_app import app, err, handled, opts, ready
from hazardloop.models.core.errors import ConfigError, InvalidInput


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
@handled
def web(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option("--host", help="address to listen on (default 127.0.0.1; another needs HAZARDLOOP_PUBLIC_URL)"),
    ] = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="server processes")] = 1,
) -> None:
    """Serve the HTTP API (/api/v1) and the web console (/) until stopped."""
    if opts(ctx).now_text is not None:
        raise InvalidInput("--now cannot be used with `web`: people act at the real time, which the audit records")
    application = ready(ctx)
    chosen = host or "127.0.0.1"
    if not is_loopback(chosen) and not application.settings.public_url:
        raise ConfigError(
            f"--host {chosen} would serve beyond this machine: set HAZARDLOOP_PUBLIC_URL to the address people "
            "use (e.g. https://hazards.example.org behind a TLS proxy), or listen on 127.0.0.1"
        )
    import uvicorn

    url = f"http://{chosen}:{port}"
    err.print(f"serving the API at {url}/api/v1 and the console at {url}/ (Ctrl+C stops)", highlight=False)
    if workers == 1:
        from hazardloop.web.app import create_app

        uvicorn.run(create_app(application), host=chosen, port=port, log_level="warning", server_header=False)
        return
    # Worker processes build their app from the environment: hand them what this command was given.
    settings = application.settings
    os.environ["HAZARDLOOP_DATABASE_URL"] = _absolute_sqlite(settings.database_url)
    os.environ["HAZARDLOOP_CONFIG"] = str(Path(settings.config).resolve())
    application.close()
    uvicorn.run(
        "hazardloop.web.app:from_environment",
        factory=True,
        host=chosen,
        port=port,
        workers=workers,
        log_level="warning",
        server_header=False,
        # a worker imports the whole engine before it answers the supervisor's first ping: on a busy machine that
        # takes longer than uvicorn's 5 s, and the supervisor would restart it for ever
        timeout_worker_healthcheck=120,
    )


def _absolute_sqlite(url: str) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(Path(url.removeprefix(prefix)).resolve())
    return url
