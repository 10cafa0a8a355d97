"""The store of identities on SQLite and PostgreSQL: no secret is stored, tokens expire and are revoked, a disabled
account proves nothing and loses its sessions, a new password ends the sessions, an unknown login costs a hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from hazardloop.models.core.errors import InvalidInput
from hazardloop.models.store import accounts
from hazardloop.models.store.db import unit_of_work

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOCK = {"max_failures": 3, "lockout": timedelta(minutes=15)}


def _account(app: Any, login: str = "fs", password: str = "correct horse battery") -> accounts.Account:
    with unit_of_work(app.engine) as conn:
        return accounts.add_account(
            conn, app.tree, login=login, name="张三", unit_code="SX-YC-FS", roles=("staff",), password=password, now=NOW
        )


def test_passwords_and_token_secrets_are_stored_only_as_hashes(app: Any) -> None:
    account = _account(app)
    with unit_of_work(app.engine) as conn:
        token_id, token = accounts.create_token(conn, account, NOW, 30)
        stored = " ".join(
            str(v)
            for table in ("accounts", "api_tokens")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
            for v in row
        )
    assert "correct horse battery" not in stored and token.split(".", 1)[1] not in stored
    assert "$argon2" in stored
    with unit_of_work(app.engine, write=False) as conn:
        found = accounts.authenticate_token(conn, token, NOW)
        assert found is not None and found.account.login == "fs" and found.credential_id == token_id
        assert accounts.authenticate_token(conn, token_id + ".not-the-secret", NOW) is None
        assert accounts.authenticate_token(conn, "tok_unknown.secret", NOW) is None
        assert accounts.authenticate_token(conn, "nonsense", NOW) is None


def test_a_token_stops_at_its_expiry_and_at_its_revocation(app: Any) -> None:
    account = _account(app)
    with unit_of_work(app.engine) as conn:
        token_id, token = accounts.create_token(conn, account, NOW, 2)
        assert accounts.authenticate_token(conn, token, NOW + timedelta(days=1)) is not None
        assert accounts.authenticate_token(conn, token, NOW + timedelta(days=2)) is None
        accounts.revoke_token(conn, token_id, NOW)
        assert accounts.authenticate_token(conn, token, NOW) is None
        with pytest.raises(InvalidInput, match="no token"):
            accounts.revoke_token(conn, "tok_nope", NOW)


def test_a_disabled_account_proves_nothing_and_loses_its_sessions(app: Any) -> None:
    account = _account(app)
    with unit_of_work(app.engine) as conn:
        _tid, token = accounts.create_token(conn, account, NOW, None)
        _sid, cookie, _csrf = accounts.create_session(conn, account, NOW, timedelta(hours=8), "127.0.0.1")
        accounts.set_active(conn, account, False, NOW)
        assert accounts.authenticate_token(conn, token, NOW) is None
        assert accounts.resolve_session(conn, cookie, NOW) is None
        accounts.set_active(conn, account, True, NOW)
        assert accounts.authenticate_token(conn, token, NOW) is not None
        assert accounts.resolve_session(conn, cookie, NOW) is None  # ended, not suspended
        outcome = accounts.authenticate_password(conn, "fs", "correct horse battery", NOW, **LOCK)
        assert outcome.account is not None


def test_a_session_ends_at_logout_at_expiry_and_at_a_new_password(app: Any) -> None:
    account = _account(app)
    with unit_of_work(app.engine) as conn:
        sid, cookie, csrf = accounts.create_session(conn, account, NOW, timedelta(hours=8), None)
        found = accounts.resolve_session(conn, cookie, NOW)
        assert found is not None and found.csrf_token == csrf
        assert accounts.resolve_session(conn, cookie, NOW + timedelta(hours=8)) is None
        assert accounts.resolve_session(conn, sid + ".wrong", NOW) is None
        accounts.set_password(conn, account, "another long password", NOW)
        assert accounts.resolve_session(conn, cookie, NOW) is None
        _sid2, cookie2, _ = accounts.create_session(conn, account, NOW, timedelta(hours=8), None)
        accounts.end_session(conn, _sid2, NOW)
        assert accounts.resolve_session(conn, cookie2, NOW) is None


def test_wrong_passwords_lock_the_account_and_an_unlock_lifts_it(app: Any) -> None:
    account = _account(app)
    with unit_of_work(app.engine) as conn:
        outcomes = [accounts.authenticate_password(conn, "fs", f"guess {n}", NOW, **LOCK) for n in range(3)]
        assert [o.locked_for for o in outcomes] == [0, 0, 900]
        right = accounts.authenticate_password(conn, "fs", "correct horse battery", NOW, **LOCK)
        assert right.account is None and right.locked_for > 0
        later = accounts.authenticate_password(conn, "fs", "correct horse battery", NOW + timedelta(minutes=16), **LOCK)
        assert later.account is not None
        accounts.authenticate_password(conn, "fs", "guess", NOW, **LOCK)
        accounts.unlock(conn, account, NOW)
        assert accounts.find_account(conn, "fs").failed_logins == 0  # type: ignore[union-attr]
        assert accounts.authenticate_password(conn, "nobody", "x", NOW, **LOCK).account is None


def test_bad_account_details_are_named(app: Any) -> None:
    _account(app)
    with unit_of_work(app.engine) as conn:
        for kwargs, field in (
            ({"login": "fs"}, "LOGIN"),
            ({"login": "has space"}, "LOGIN"),
            ({"unit_code": "NOWHERE"}, "--unit"),
            ({"password": "short"}, "password"),
            ({"name": "A/B"}, "--name"),
        ):
            args = {
                "login": "new",
                "name": "李四",
                "unit_code": "SX",
                "roles": ("viewer",),
                "password": "long enough password",
                **kwargs,
            }
            with pytest.raises(InvalidInput) as raised:
                accounts.add_account(conn, app.tree, now=NOW, **args)
            assert raised.value.problems[0].field == field
    with pytest.raises(InvalidInput, match="'boss' is not a role"):
        accounts.parse_roles("staff,boss")


def test_the_migration_keeps_the_audit_trail_of_a_database_that_holds_data(db_url: str) -> None:
    """0005 → 0007 on a database with transitions and events: they stay, with no principal (NULL)."""
    from alembic import command

    from hazardloop.models.store.db import SCHEMA_HEAD, _alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    try:
        cfg = _alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO transitions (hazard_id, action, at, recorded_at, actor, details) "
                    "VALUES ('HZ-2025-000001', 'hazard.detected', :at, :at, 'SX-YC-FS/张三', '{}')"
                ),
                {"at": datetime(2025, 3, 3, 1, 0)},
            )
            conn.execute(
                text(
                    "INSERT INTO events (event_id, type, at, actor, digest, outcome, applied_at, payload) "
                    "VALUES ('e-1', 'hazard.detected', :at, 'SX-YC-FS/张三', 'd', 'applied', :at, '{}')"
                ),
                {"at": datetime(2025, 3, 3, 1, 0)},
            )
        before, after = upgrade(engine)
        assert (before, after) == ("0005", SCHEMA_HEAD)
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT actor, principal_via FROM transitions")).all()
            events = conn.execute(text("SELECT event_id, principal_account FROM events")).all()
            assert conn.execute(text("SELECT count(*) FROM accounts")).scalar_one() == 0
        assert [tuple(r) for r in kept] == [("SX-YC-FS/张三", None)]
        assert [tuple(r) for r in events] == [("e-1", None)]
    finally:
        engine.dispose()
