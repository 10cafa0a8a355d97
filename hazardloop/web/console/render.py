"""The console's one Jinja environment and the helpers every page uses.

The environment has the notices' settings (autoescape on, ``StrictUndefined`` so a missing value fails instead of
printing nothing, the same Chinese filters), built once per process. Templates live in the package
(``hazardloop/web/templates/console``), so the console works with no internet access and no build step.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from hazardloop.notifications.rendering import (
    cn_date,
    cn_datetime,
    level_name,
    nl2br,
    percent,
    severity_name,
    state_name,
)

FLASH_COOKIE = "hazardloop_flash"
CSRF_FIELD = "csrf_token"


# What no page may carry even escaped: control characters but tab and line breaks (an HTML parse error at best, a
# terminal's escape sequence in a saved page or a log at worst) and lone surrogates (no UTF-8 can hold them).
_UNSHOWABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _showable(value: Any) -> Any:
    """Every value a template prints: what a page may not carry becomes U+FFFD (�), so a person sees that something
    was there (a form shown again with what was sent, a message quoting it) and nothing raw reaches the page."""
    if isinstance(value, str) and _UNSHOWABLE.search(value):
        cleaned = _UNSHOWABLE.sub("\ufffd", value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hazardloop.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_showable,
    )
    env.filters.update(
        cn_date=cn_date,
        cn_datetime=cn_datetime,
        level_name=level_name,
        severity_name=severity_name,
        state_name=state_name,
        percent=percent,
        nl2br=nl2br,
    )
    env.globals["static"] = static_url
    return env


@cache
def _static_digest(name: str) -> str:
    data = (resources.files("hazardloop.web") / "static" / name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


def static_url(name: str) -> str:
    """A file of the package's static folder, named with its digest so that browsers may cache it for good."""
    return f"/static/{name}?v={_static_digest(name)}"


def local_text(iso: str | None, *, with_time: bool = True) -> str:
    """An ISO instant already in the policy's zone (``Rules.local_iso``) as "2025年10月13日 14:30"; "—" for none."""
    if not iso:
        return "—"
    value = datetime.fromisoformat(iso)
    return cn_datetime(value) if with_time else cn_date(value)


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    me: Any = None,
    csrf: str = "",
) -> HTMLResponse:
    """Render a console page. ``me`` is the signed-in account's menu view (None on the login page)."""
    flashes = list(context.get("flashes", ())) + take_flashes(request)
    token = csrf

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)

    values = {"title": "", "section": "", **context, "me": me, "flashes": flashes, "csrf_field": csrf_field}
    values["once_field"] = _once_field
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def _once_field() -> Markup:
    """A fresh event id in each form: the same form sent twice (a double tap, a resend after a timeout) is one
    event, answered as a duplicate the second time."""
    return Markup('<input type="hidden" name="event_id" value="console:{}">').format(uuid.uuid4())


def take_flashes(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = json.loads(unquote(raw))
        return [(str(k), str(t)) for k, t in items if k in ("ok", "error", "warn")][:5]
    except (ValueError, TypeError):
        return []


def redirect(url: str, *, flash: tuple[str, str] | None = None, secure: bool = False) -> RedirectResponse:
    """After a form: 303 to the page to show, with a one-time message for it."""
    response = RedirectResponse(safe_local(url), status_code=303)
    if flash is not None:
        response.set_cookie(
            FLASH_COOKIE,
            quote(json.dumps([list(flash)], ensure_ascii=False)),
            max_age=60,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    return response


def safe_local(url: str | None, default: str = "/") -> str:
    """Only a path of this site: a ``next`` or ``back`` field must never send a person to another site."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url or "\n" in url or "\r" in url:
        return default
    return url


def plain(value: object) -> str:
    return str(escape(value))
