"""The store of identities: accounts, API tokens and console sessions (tables of migration 0007).

Secrets are never stored: passwords as Argon2 hashes (argon2-cffi), token and session secrets as SHA-256 hashes
(they are long random strings, so a fast hash is enough and keeps every request cheap). A token reads
``tok_<public id>.<secret>``; it is looked up by its public id and its hash compared in constant time
(``hmac.compare_digest``). A session cookie reads ``ses_<id>.<secret>`` likewise. Every credential is checked
against the database on every request, with the account's ``active`` flag, so a disabled account or a revoked
token stops working on the very next request, whichever process serves it.

Every function takes the caller's connection: the unit of work decides when it commits.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, func, select, update

from hazardloop.models.core.authz import ROLE_NAMES
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.text import text_problem
from hazardloop.models.store.tables import AccountRow, ApiTokenRow, SessionRow

_A, _K, _S = AccountRow.__table__, ApiTokenRow.__table__, SessionRow.__table__
_HASHER = PasswordHasher()
LOGIN_MAX = 100
LAST_USED_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often per token (a write per read
# request would serialise every reader on SQLite)


@dataclass(frozen=True)
class Account:
    id: int
    login: str
    name: str
    unit_code: str
    roles: tuple[str, ...]
    active: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    changed_at: datetime

    def as_dict(self, tree: OrgTree | None = None) -> dict[str, Any]:
        unit = tree.units.get(self.unit_code) if tree else None
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "unit": self.unit_code,
            "unit_name": unit.name if unit else None,
            "roles": list(self.roles),
            "active": self.active,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "failed_logins": self.failed_logins,
            "created_at": self.created_at.isoformat(),
        }


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        login=row.login,
        name=row.name,
        unit_code=row.unit_code,
        roles=tuple(r for r in row.roles.split(",") if r),
        active=bool(row.active),
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        created_at=row.created_at,
        changed_at=row.changed_at,
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


# --- validation ---------------------------------------------------------------------------------------------


def parse_roles(text: str, field: str = "--role") -> tuple[str, ...]:
    roles = tuple(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))
    bad = [r for r in roles if r not in ROLE_NAMES]
    if bad or not roles:
        shown = ", ".join(repr(r) for r in bad) or "no role"
        raise InvalidInput(
            [Problem(f"{shown} is not a role; roles are {', '.join(ROLE_NAMES)} (comma-separated)", field=field)]
        )
    return roles


def check_login(login: str, field: str = "LOGIN") -> str:
    login = login.strip()
    # text_problem: no control character of any kind (C0, DEL, C1), no line separator, no lone surrogate
    if not login or len(login) > LOGIN_MAX or any(c.isspace() for c in login) or text_problem(login, multi_line=False):
        raise InvalidInput(
            [Problem(f"a login is 1 to {LOGIN_MAX} characters without spaces or control characters", field=field)]
        )
    return login


def check_name(name: str, field: str = "--name") -> str:
    name = name.strip()
    if not name or len(name) > 100 or "/" in name or text_problem(name, multi_line=False):
        raise InvalidInput([Problem("a name is 1 to 100 characters, without '/' or control characters", field=field)])
    return name


def check_password(password: str, field: str = "password") -> str:
    if len(password) < 8:
        raise InvalidInput([Problem("a password needs at least 8 characters", field=field)])
    if len(password) > 1000:
        raise InvalidInput([Problem("a password may have at most 1,000 characters", field=field)])
    return password


# --- accounts ------------------------------------------------------------------------------------------------


def add_account(
    conn: Connection,
    tree: OrgTree,
    *,
    login: str,
    name: str,
    unit_code: str,
    roles: tuple[str, ...],
    password: str,
    now: datetime,
) -> Account:
    login, name = check_login(login), check_name(name)
    unit = tree.find(unit_code, "--unit")
    if unit is None:
        raise InvalidInput([Problem(f"'{unit_code}' is not a unit in org.yaml", field="--unit")])
    check_password(password)
    if find_account(conn, login) is not None:
        raise InvalidInput([Problem(f"an account with the login '{login}' exists already", field="LOGIN")])
    conn.execute(
        _A.insert().values(
            login=login,
            name=name,
            unit_code=unit.code,
            roles=",".join(roles),
            password_hash=hash_password(password),
            active=True,
            failed_logins=0,
            locked_until=None,
            created_at=now,
            changed_at=now,
        )
    )
    account = find_account(conn, login)
    assert account is not None
    return account


def find_account(conn: Connection, login: str) -> Account | None:
    if "\x00" in login:  # no login holds NUL (PostgreSQL text cannot): nothing to look up
        return None
    row = conn.execute(select(_A).where(_A.c.login == login)).first()
    return _account(row) if row else None


def account_by_id(conn: Connection, account_id: int) -> Account | None:
    row = conn.execute(select(_A).where(_A.c.id == account_id)).first()
    return _account(row) if row else None


def require_account(conn: Connection, login: str, field: str = "LOGIN") -> Account:
    account = find_account(conn, login)
    if account is None:
        raise InvalidInput([Problem(f"there is no account with the login '{login}'", field=field)])
    return account


def list_accounts(conn: Connection, units: frozenset[str] | None = None) -> list[Account]:
    """Every account, or those of ``units`` (an admin's subtree), in SQL."""
    stmt = select(_A).order_by(_A.c.unit_code, _A.c.login)
    if units is not None:
        stmt = stmt.where(_A.c.unit_code.in_(sorted(units)))
    return [_account(r) for r in conn.execute(stmt)]


def set_active(conn: Connection, account: Account, active: bool, now: datetime) -> None:
    """Disabling ends the account's sessions too (its tokens are refused while it is disabled)."""
    conn.execute(update(_A).where(_A.c.id == account.id).values(active=active, changed_at=now))
    if not active:
        conn.execute(update(_S).where(_S.c.account_id == account.id, _S.c.ended_at.is_(None)).values(ended_at=now))


def unlock(conn: Connection, account: Account, now: datetime) -> None:
    conn.execute(update(_A).where(_A.c.id == account.id).values(failed_logins=0, locked_until=None, changed_at=now))


def set_password(conn: Connection, account: Account, password: str, now: datetime) -> None:
    """A new password ends every session of the account but keeps its API tokens."""
    check_password(password)
    conn.execute(
        update(_A)
        .where(_A.c.id == account.id)
        .values(password_hash=hash_password(password), failed_logins=0, locked_until=None, changed_at=now)
    )
    conn.execute(update(_S).where(_S.c.account_id == account.id, _S.c.ended_at.is_(None)).values(ended_at=now))


@dataclass(frozen=True)
class LoginOutcome:
    account: Account | None  # set when the password was right and the account may sign in
    locked_for: int = 0  # seconds left of a lockout (too many failed attempts)


def authenticate_password(
    conn: Connection, login: str, password: str, now: datetime, *, max_failures: int, lockout: timedelta
) -> LoginOutcome:
    """Check a password. ``max_failures`` wrong passwords in a row lock the account for ``lockout`` (an admin can
    lift it with ``users unlock``); a disabled, locked or unknown account never signs in, whatever the password."""
    plausible = len(login) <= LOGIN_MAX and "\x00" not in login  # PostgreSQL text cannot hold NUL
    row = conn.execute(select(_A).where(_A.c.login == login)).first() if plausible else None
    if row is None:
        _verify(_dummy_hash(), password)  # the same time as a wrong password: logins do not leak
        return LoginOutcome(None)
    account = _account(row)
    if account.locked_until is not None and account.locked_until > now:
        return LoginOutcome(None, max(1, int((account.locked_until - now).total_seconds())))
    if not _verify(row.password_hash or _dummy_hash(), password) or not row.password_hash:
        failures = account.failed_logins + 1
        locked = now + lockout if failures >= max_failures else None
        conn.execute(
            update(_A).where(_A.c.id == account.id).values(failed_logins=0 if locked else failures, locked_until=locked)
        )
        return LoginOutcome(None, int(lockout.total_seconds()) if locked else 0)
    if not account.active:
        return LoginOutcome(None)
    if account.failed_logins or account.locked_until:
        conn.execute(update(_A).where(_A.c.id == account.id).values(failed_logins=0, locked_until=None))
    return LoginOutcome(account)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the login is unknown, so an unknown login costs as long as a wrong password. Made on
    first use, not at import: hashing costs a third of a second, which every command and server start would pay."""
    return _HASHER.hash("hazardloop: no such account")


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- API tokens ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    id: str
    login: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def create_token(conn: Connection, account: Account, now: datetime, days: int | None) -> tuple[str, str]:
    """A new token: ``(public id, the whole token)``. The whole token is shown once and never stored."""
    token_id = "tok_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        _K.insert().values(
            id=token_id,
            account_id=account.id,
            secret_hash=sha256(secret),
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
            last_used_at=None,
            revoked_at=None,
        )
    )
    return token_id, f"{token_id}.{secret}"


def revoke_token(conn: Connection, token_id: str, now: datetime) -> TokenInfo:
    info = token_info(conn, token_id)
    if info is None:
        raise InvalidInput([Problem(f"there is no token with the id '{token_id}'", field="TOKEN_ID")])
    if info.revoked_at is None:
        conn.execute(update(_K).where(_K.c.id == token_id).values(revoked_at=now))
    return info


def _token_select() -> Any:
    return select(_K, _A.c.login).join(_A, _A.c.id == _K.c.account_id)


def _token_info(row: Any) -> TokenInfo:
    return TokenInfo(row.id, row.login, row.created_at, row.expires_at, row.last_used_at, row.revoked_at)


def token_info(conn: Connection, token_id: str) -> TokenInfo | None:
    row = conn.execute(_token_select().where(_K.c.id == token_id)).first()
    return _token_info(row) if row else None


def list_tokens(conn: Connection, units: frozenset[str] | None = None, login: str | None = None) -> list[TokenInfo]:
    stmt = _token_select().order_by(_A.c.login, _K.c.created_at, _K.c.id)
    if units is not None:
        stmt = stmt.where(_A.c.unit_code.in_(sorted(units)))
    if login is not None:
        stmt = stmt.where(_A.c.login == login)
    return [_token_info(r) for r in conn.execute(stmt)]


def token_account(conn: Connection, token_id: str) -> Account | None:
    row = conn.execute(select(_A).join(_K, _K.c.account_id == _A.c.id).where(_K.c.id == token_id)).first()
    return _account(row) if row else None


@dataclass(frozen=True)
class Credential:
    """An account proven by a token or a session, as of one request."""

    account: Account
    credential_id: str  # the token's or the session's public id
    last_used_at: datetime | None
    csrf_token: str | None = None  # sessions only


def _split(text: str, prefix: str) -> tuple[str, str] | None:
    public, dot, secret = text.strip().partition(".")
    if not dot or not public.startswith(prefix) or len(public) > 40 or not secret or len(secret) > 200:
        return None
    return public, secret


def authenticate_token(conn: Connection, token: str, now: datetime) -> Credential | None:
    """The account a token proves, or None (unknown, wrong secret, expired, revoked, or the account disabled)."""
    parts = _split(token, "tok_")
    if parts is None:
        return None
    public, secret = parts
    row = conn.execute(
        select(_A, _K.c.secret_hash, _K.c.expires_at, _K.c.revoked_at, _K.c.last_used_at.label("token_used"))
        .join(_K, _K.c.account_id == _A.c.id)
        .where(_K.c.id == public)
    ).first()
    if row is None:
        hmac.compare_digest(sha256(secret), sha256(""))  # the same work as a wrong secret
        return None
    if not hmac.compare_digest(sha256(secret), row.secret_hash):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now) or not row.active:
        return None
    return Credential(_account(row), public, row.token_used)


def touch_token(conn: Connection, token_id: str, now: datetime) -> None:
    conn.execute(update(_K).where(_K.c.id == token_id).values(last_used_at=now))


# --- sessions ------------------------------------------------------------------------------------------------


def create_session(
    conn: Connection, account: Account, now: datetime, lifetime: timedelta, client: str | None
) -> tuple[str, str, str]:
    """A new console session: ``(session id, cookie value, CSRF token)``."""
    session_id = "ses_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        _S.insert().values(
            id=session_id,
            account_id=account.id,
            secret_hash=sha256(secret),
            csrf_token=csrf,
            created_at=now,
            expires_at=now + lifetime,
            last_seen_at=now,
            client=(client or "")[:200] or None,
            ended_at=None,
        )
    )
    return session_id, f"{session_id}.{secret}", csrf


def resolve_session(conn: Connection, cookie: str, now: datetime) -> Credential | None:
    parts = _split(cookie, "ses_")
    if parts is None:
        return None
    public, secret = parts
    row = conn.execute(
        select(_A, _S.c.secret_hash, _S.c.expires_at, _S.c.ended_at, _S.c.csrf_token, _S.c.last_seen_at.label("seen"))
        .join(_S, _S.c.account_id == _A.c.id)
        .where(_S.c.id == public)
    ).first()
    if row is None or not hmac.compare_digest(sha256(secret), row.secret_hash):
        return None
    if row.ended_at is not None or row.expires_at <= now or not row.active:
        return None
    return Credential(_account(row), public, row.seen, row.csrf_token)


def touch_session(conn: Connection, session_id: str, now: datetime) -> None:
    conn.execute(update(_S).where(_S.c.id == session_id).values(last_seen_at=now))


def end_session(conn: Connection, session_id: str, now: datetime) -> None:
    conn.execute(update(_S).where(_S.c.id == session_id, _S.c.ended_at.is_(None)).values(ended_at=now))


def count_accounts(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(_A)).scalar_one())
