"""Proving who acts: API tokens, console logins and sessions. Every check reads the database (an indexed look-up),
so a revoked token, an ended session or a disabled account stops working on the very next request in every
process; only the hashing of the secret is cheap by design (SHA-256 of a long random secret)."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import timedelta

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal, Via, account_principal, declared_principal
from hazardloop.models.store import accounts
from hazardloop.models.store.db import unit_of_work


def principal_of(app: App, credential: accounts.Credential, via: Via, client: str | None) -> Principal:
    a = credential.account
    return account_principal(
        app.tree,
        account_id=a.id,
        login=a.login,
        name=a.name,
        unit_code=a.unit_code,
        roles=a.roles,
        via=via,
        credential_id=credential.credential_id,
        client=client,
    )


def cli_principal(app: App, actor: str | None = None) -> Principal:
    """The operator at the server's shell: declared, not proven (``cli`` with the OS user and host)."""
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        who = "unknown"
    return declared_principal(app.tree, "cli", who[:200], actor)


def system_principal(app: App, who: str = "scheduler") -> Principal:
    """The engine itself (the embedded scheduler's jobs): declared, not proven, acting for the whole organisation."""
    return declared_principal(app.tree, "system", who)


def check_token(app: App, token: str, client: str | None) -> tuple[Principal, str | None] | None:
    """The principal a token proves (a read only), and the token id whose last-used time is due to be written."""
    now = app.clock.now()
    with unit_of_work(app.engine, write=False) as conn:
        found = accounts.authenticate_token(conn, token, now)
    if found is None:
        return None
    due = found.last_used_at is None or now - found.last_used_at >= accounts.LAST_USED_EVERY
    return principal_of(app, found, "token", client), (found.credential_id if due else None)


def touch_token(app: App, token_id: str) -> None:
    with unit_of_work(app.engine) as conn:
        accounts.touch_token(conn, token_id, app.clock.now())


def authenticate_token(app: App, token: str, client: str | None) -> Principal | None:
    checked = check_token(app, token, client)
    if checked is None:
        return None
    principal, due = checked
    if due is not None:
        touch_token(app, due)
    return principal


@dataclass(frozen=True)
class SessionPrincipal:
    principal: Principal
    csrf_token: str
    session_id: str


def resolve_session(app: App, cookie: str, client: str | None) -> SessionPrincipal | None:
    now = app.clock.now()
    with unit_of_work(app.engine, write=False) as conn:
        found = accounts.resolve_session(conn, cookie, now)
    if found is None:
        return None
    if found.last_used_at is None or now - found.last_used_at >= accounts.LAST_USED_EVERY:
        with unit_of_work(app.engine) as conn:
            accounts.touch_session(conn, found.credential_id, now)
    assert found.csrf_token is not None
    return SessionPrincipal(principal_of(app, found, "session", client), found.csrf_token, found.credential_id)


@dataclass(frozen=True)
class LoginResult:
    """``cookie`` and ``csrf_token`` when signed in; otherwise ``locked_for`` seconds (0: wrong login or password)."""

    cookie: str | None = None
    csrf_token: str | None = None
    session_id: str | None = None
    locked_for: int = 0

    @property
    def ok(self) -> bool:
        return self.cookie is not None


def login(app: App, login_name: str, password: str, client: str | None) -> LoginResult:
    now = app.clock.now()
    s = app.settings
    with unit_of_work(app.engine) as conn:
        outcome = accounts.authenticate_password(
            conn,
            login_name.strip(),
            password,
            now,
            max_failures=s.login_max_failures,
            lockout=timedelta(seconds=s.login_lockout_seconds),
        )
        if outcome.account is None:
            return LoginResult(locked_for=outcome.locked_for)
        session_id, cookie, csrf = accounts.create_session(
            conn, outcome.account, now, timedelta(hours=s.session_hours), client
        )
    return LoginResult(cookie, csrf, session_id)


def logout(app: App, session_id: str) -> None:
    with unit_of_work(app.engine) as conn:
        accounts.end_session(conn, session_id, app.clock.now())


def change_password(app: App, principal: Principal, current: str, new: str) -> bool:
    """False when ``current`` is wrong (counted as a failed login). Ends every session of the account."""
    now = app.clock.now()
    s = app.settings
    with unit_of_work(app.engine) as conn:
        outcome = accounts.authenticate_password(
            conn,
            principal.login,
            current,
            now,
            max_failures=s.login_max_failures,
            lockout=timedelta(seconds=s.login_lockout_seconds),
        )
        if outcome.account is None:
            return False
        accounts.set_password(conn, outcome.account, new, now)
    return True
