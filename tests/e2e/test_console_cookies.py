"""Behind TLS (a public URL that is https) the console's cookies are Secure as well as HttpOnly and SameSite=Lax,
and its pages carry the security headers; checked over HTTP against a running ``hazardloop web``."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.console_browser import PASSWORD, console_server


def test_behind_https_the_session_cookie_is_secure_httponly_and_lax(tmp_path: Path) -> None:
    env = {"HAZARDLOOP_PUBLIC_URL": "https://hazards.example.org"}
    with console_server(f"sqlite:///{tmp_path / 'hazardloop.db'}", tmp_path, env=env) as console:
        console.add_account("liqiang", "SX-YC-FS", "staff", "李强")
        with httpx.Client(base_url=console.base) as client:
            form = client.get("/login")
            assert form.status_code == 200
            assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
            login_cookie = form.headers["set-cookie"].lower()
            assert "secure" in login_cookie and "httponly" in login_cookie and "samesite=lax" in login_cookie
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
            # a Secure cookie is not sent back over plain http: hand it back as the browser behind TLS would
            client.cookies.set("hazardloop_login_csrf", form.cookies["hazardloop_login_csrf"])
            signed_in = client.post("/login", data={"login": "liqiang", "password": PASSWORD, "csrf_token": token})
            assert signed_in.status_code == 303
            session = next(v for k, v in signed_in.headers.multi_items() if k == "set-cookie" and "session" in v)
            words = [w.strip().lower() for w in session.split(";")]
            assert "secure" in words and "httponly" in words and "samesite=lax" in words
