"""Hardening that every response goes through: a request body limit (413), security headers, and the in-process
rate limit on failed credentials (429). Pure ASGI middleware: cheaper per request than ``BaseHTTPMiddleware``."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console's pages: everything from this server, nothing inline from elsewhere, never framed.
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The interactive API docs load their scripts from the page itself plus the bundled CDN defaults of FastAPI.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https:; "
    "script-src 'self' 'unsafe-inline' https:; frame-ancestors 'none'"
)


def _problem(status: int, title: str, detail: str, extra: dict[str, str] | None = None) -> tuple[bytes, list[Any]]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    for k, v in (extra or {}).items():
        headers.append((k.encode(), v.encode()))
    return body, headers


def _too_large_page(limit: int) -> tuple[bytes, list[Any]]:
    """413 for the console's forms as a page a person can read (the API's clients get problem JSON)."""
    megabytes = max(1, limit // 1048576)
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>提交的内容过大</title></head><body>'
        f"<h1>提交的内容过大</h1><p>一次提交的内容（含照片和PDF文件）不能超过{megabytes} MB。"
        '请压缩照片或分几次提交。</p><p><a href="/">返回工作台</a></p></body></html>'
    ).encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    return body, headers


class Hardening:
    """Security headers on every response; bodies above ``limit`` bytes refused with 413 (by Content-Length before
    reading, and while reading for a body sent without one)."""

    def __init__(self, app: ASGIApp, *, limit: int, hsts: bool) -> None:
        self.app, self.limit, self.hsts = app, limit, hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path.startswith("/api/v1/docs") else (API_CSP if path.startswith("/api/") else CONSOLE_CSP)
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"content-security-policy", csp.encode()),
        ]
        if self.hsts:
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        too_large = f"the request body is larger than the server accepts ({self.limit:,} bytes)"

        def too_large_answer() -> tuple[bytes, list[Any]]:
            if path.startswith("/api/"):
                return _problem(413, "Request too large", too_large)
            return _too_large_page(self.limit)

        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = 0
            if size > self.limit:
                body, headers = too_large_answer()
                await send({"type": "http.response.start", "status": 413, "headers": headers + extra})
                await send({"type": "http.response.body", "body": body})
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in names]
            await send(message)

        try:
            await self.app(scope, counted_receive, with_headers)
        except _TooLarge:
            if started:
                raise
            body, headers = too_large_answer()
            await send({"type": "http.response.start", "status": 413, "headers": headers + extra})
            await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class FailureLimiter:
    """Failed logins and failed token checks per client address in a sliding minute: past ``per_minute`` the client
    gets 429 with Retry-After until the window has room again. In-process (each ``web`` process counts its own);
    the per-account lockout (``models.accounts``) is in the database and holds across processes."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute, self.window = per_minute, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds the client must wait, or 0 when it may try."""
        with self._lock:
            times = self._failures.get(client)
            if not times:
                return 0
            now = time.monotonic()
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.per_minute:
                return 0
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) > 100_000:  # bound the memory a flood of addresses can take
                self._failures.clear()
            self._failures.setdefault(client, deque()).append(time.monotonic())

    def clear(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
