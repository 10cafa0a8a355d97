"""The web console's browser harness: Debian's chromium driven by Playwright, and ``hazardloop web`` on a free
loopback port against a real database whose accounts are made through the command line.

One browser per test session, one server per test module. Where chromium cannot be found (and ``make test`` could
not install it), the browser tests are skipped with the reason in the pytest header, never silently.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fixtures import CONFIG_DIR, Cli

CHROMIUM = os.environ.get("HAZARDLOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("HAZARDLOOP_SCREENSHOTS", REPO / "build" / "console-screenshots"))
PASSWORD = "Passw0rd-for-tests"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"the Python package playwright is not installed ({exc})"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (run `make test`, which installs Debian's chromium with apt-get where it can)"
    return None


BROWSER_PROBLEM = _browser_problem()


def browser_header() -> str:
    if BROWSER_PROBLEM:
        return f"!!! console browser tests will be SKIPPED: {BROWSER_PROBLEM}"
    return f"console browser tests: {CHROMIUM} through Playwright; screenshots in {SCREENSHOTS}"


def launch_browser() -> Iterator[Any]:
    """The body of the session-wide ``browser`` fixture (tests/support/fixtures.py)."""
    if BROWSER_PROBLEM:
        pytest.skip(f"no browser for the console tests: {BROWSER_PROBLEM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Console:
    """A running ``hazardloop web`` and the command line on the same database."""

    base: str
    cli: Cli
    workdir: Path
    accounts: dict[str, str] = field(default_factory=dict)  # login -> unit code

    def add_account(self, login: str, unit: str, roles: str, name: str) -> None:
        self.cli.ok(
            "users",
            "add",
            login,
            "--unit",
            unit,
            "--role",
            roles,
            "--name",
            name,
            "--password-stdin",
            input=PASSWORD + "\n",
        )
        self.accounts[login] = unit

    def show(self, hazard: str) -> dict[str, Any]:
        return self.cli.json("show", hazard)

    def login(self, browser: Any, login: str, *, viewport: dict[str, int] | None = None) -> Any:
        """A fresh browser context signed in as ``login`` (its own cookies), on its 工作台."""
        context = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN")
        page = context.new_page()
        page.goto(self.base + "/login")
        page.fill("#login", login)
        page.fill("#password", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(self.base + "/")
        return page


@contextmanager
def console_server(db_url: str, workdir: Path, *, env: dict[str, str] | None = None) -> Iterator[Console]:
    """``hazardloop web`` in its own process on a free port, the database initialised through the command line."""
    workdir.mkdir(parents=True, exist_ok=True)
    cli = Cli(db_url, workdir)
    saved = {k: os.environ.get(k) for k in ("HAZARDLOOP_MAIL_DIR", "HAZARDLOOP_SMTP_URL")}
    os.environ["HAZARDLOOP_MAIL_DIR"] = str(workdir / "outbox")
    os.environ.pop("HAZARDLOOP_SMTP_URL", None)
    cli.ok("init")
    port = free_port()
    server_env = {
        **os.environ,
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "HAZARDLOOP_MAIL_DIR": str(workdir / "outbox"),
        **(env or {}),
    }
    log = (workdir / "web.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hazardloop.cli",
            "--db",
            db_url,
            "--config",
            str(CONFIG_DIR),
            "web",
            "--port",
            str(port),
        ],
        cwd=workdir,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"hazardloop web exited ({process.returncode}):\n{(workdir / 'web.log').read_text()}"
                )
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"hazardloop web did not get ready:\n{(workdir / 'web.log').read_text()}")
            time.sleep(0.05)
        yield Console(base, cli, workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def copy_to_docs(name: str, target: str) -> None:
    """A screenshot the README shows, copied into docs/ when ``HAZARDLOOP_UPDATE_DOCS=1`` (docs/ is in the
    repository: an ordinary test run leaves it alone; the screenshots folder is not)."""
    if os.environ.get("HAZARDLOOP_UPDATE_DOCS") == "1":
        shutil.copyfile(SCREENSHOTS / f"{name}.png", REPO / "docs" / target)


def jpeg_bytes(colour: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (640, 480)) -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], outline=(255, 255, 255), width=8)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def png_bytes(colour: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "PNG")
    return out.getvalue()


def form_csrf(page: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def sign_in_over_http(client: httpx.Client, login: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the console's own form, as a browser does; returns the session's CSRF token."""
    signed = client.post(
        "/login", data={"login": login, "password": password, "csrf_token": form_csrf(client.get("/login").text)}
    )
    assert signed.status_code == 303, signed.text[:500]
    return form_csrf(client.get("/").text)
