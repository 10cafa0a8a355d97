"""The web console (控制台): server-rendered pages for the people in the loop, served by ``hazardloop web`` beside
the HTTP API. ``router`` is included by ``hazardloop.web.app.create_app`` with no prefix: pages at ``/``, the login
page at ``/login``, the package's own CSS and JavaScript at ``/static/…``.

Pages are adapters like the API's routes: they read the signed-in account, call one application service and render
a template. Their errors are pages too (``ConsoleRoute``): a stranger's hazard is the same 404 page as a hazard that
does not exist, a form without its CSRF token is a 403 page, and no traceback ever reaches a browser.
"""

from __future__ import annotations

from importlib import resources

from fastapi import Response

from hazardloop.web.evidence import MEDIA_TYPES

from .routing import console_router
from .session import NotFound

_STATIC_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", **MEDIA_TYPES}
router = console_router()


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The console's CSS, JavaScript and images, from the package itself (no CDN, no build step)."""
    folder = resources.files("hazardloop.web") / "static"
    ext = name.rsplit(".", 1)[-1]
    if "/" in name or name.startswith(".") or ext not in _STATIC_TYPES:
        raise NotFound()
    target = folder / name
    if not target.is_file():
        raise NotFound()
    return Response(
        target.read_bytes(),
        media_type=_STATIC_TYPES[ext],
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


from . import admin_pages, auth_pages, hazard_pages, notice_pages, supervision_pages  # noqa: E402

for _module in (auth_pages, hazard_pages, supervision_pages, notice_pages, admin_pages):
    router.include_router(_module.router)
