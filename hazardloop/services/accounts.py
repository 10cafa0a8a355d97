"""Managing accounts and API tokens: an admin for its unit and the units below, the operator on the server's shell
for everyone. Secrets are returned once by the functions that create them and never stored."""

from __future__ import annotations

from dataclasses import dataclass

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Action, Decision, Principal, UnitTarget, decide
from hazardloop.models.core.errors import InvalidInput, NotFound, Problem, Refused
from hazardloop.models.store import accounts
from hazardloop.models.store.db import unit_of_work


def _may_manage(principal: Principal, unit_code: str, what: str, field: str = "login") -> None:
    decision = decide(principal, Action.MANAGE_ACCOUNTS, UnitTarget(unit_code))
    if decision is Decision.NOT_FOUND:
        raise NotFound([Problem(f"there is no {what} in this account's jurisdiction", field=field)])
    if decision is Decision.FORBIDDEN:
        raise Refused(f"the account '{principal.login}' may not manage accounts (it is not an admin)", field="actor")


@dataclass
class NewAccount:
    account: accounts.Account
    generated_password: str | None  # shown once when no password was given


def add_user(
    app: App,
    principal: Principal,
    *,
    login: str,
    unit: str,
    roles: str,
    name: str,
    password: str | None,
) -> NewAccount:
    found = app.tree.find(unit.strip(), "--unit", where=lambda u: principal.jurisdiction.sees_unit(u.code))
    if found is None:
        raise InvalidInput([Problem(f"'{unit}' is not a unit in org.yaml", field="--unit")])
    parsed = accounts.parse_roles(roles)
    _may_manage(principal, found.code, f"unit '{unit}'", field="--unit")
    generated = None
    if password is None:
        generated = password = accounts.generate_password()
    with unit_of_work(app.engine) as conn:
        account = accounts.add_account(
            conn,
            app.tree,
            login=login,
            name=name,
            unit_code=found.code,
            roles=parsed,
            password=password,
            now=app.clock.now(),
        )
    return NewAccount(account, generated)


def list_users(app: App, principal: Principal) -> list[accounts.Account]:
    if not principal.may(Action.MANAGE_ACCOUNTS):
        raise Refused(f"the account '{principal.login}' may not manage accounts (it is not an admin)", field="actor")
    units = None if principal.jurisdiction.everything else principal.jurisdiction.units
    with unit_of_work(app.engine, write=False) as conn:
        return accounts.list_accounts(conn, units)


def _managed(app: App, principal: Principal, conn: object, login: str) -> accounts.Account:
    account = accounts.find_account(conn, login)  # type: ignore[arg-type]
    if account is None:
        raise NotFound([Problem(f"there is no account with the login '{login}'", field="LOGIN")])
    _may_manage(principal, account.unit_code, f"account '{login}'")
    return account


def set_active(app: App, principal: Principal, login: str, active: bool) -> accounts.Account:
    """Disabling takes effect on the account's very next request: its sessions end, its tokens are refused."""
    with unit_of_work(app.engine) as conn:
        account = _managed(app, principal, conn, login)
        accounts.set_active(conn, account, active, app.clock.now())
        updated = accounts.find_account(conn, login)
    assert updated is not None
    return updated


def unlock_user(app: App, principal: Principal, login: str) -> accounts.Account:
    with unit_of_work(app.engine) as conn:
        account = _managed(app, principal, conn, login)
        accounts.unlock(conn, account, app.clock.now())
        updated = accounts.find_account(conn, login)
    assert updated is not None
    return updated


def create_token(app: App, principal: Principal, login: str, days: int | None) -> tuple[str, str]:
    """``(token id, token)``: the token is shown once."""
    if days is not None and not 1 <= days <= 3650:
        raise InvalidInput([Problem("a token lasts 1 to 3,650 days", field="--days")])
    with unit_of_work(app.engine) as conn:
        account = _managed(app, principal, conn, login)
        if not account.active:
            raise Refused(f"the account '{login}' is disabled; enable it before giving it a token", field="LOGIN")
        return accounts.create_token(conn, account, app.clock.now(), days)


def revoke_token(app: App, principal: Principal, token_id: str) -> accounts.TokenInfo:
    """Revoking takes effect on the token's very next request."""
    with unit_of_work(app.engine) as conn:
        owner = accounts.token_account(conn, token_id)
        if owner is None:
            raise NotFound([Problem(f"there is no token with the id '{token_id}'", field="TOKEN_ID")])
        _may_manage(principal, owner.unit_code, f"token '{token_id}'")
        return accounts.revoke_token(conn, token_id, app.clock.now())


def list_tokens(app: App, principal: Principal, login: str | None = None) -> list[accounts.TokenInfo]:
    if not principal.may(Action.MANAGE_ACCOUNTS):
        raise Refused(f"the account '{principal.login}' may not manage accounts (it is not an admin)", field="actor")
    units = None if principal.jurisdiction.everything else principal.jurisdiction.units
    with unit_of_work(app.engine, write=False) as conn:
        return accounts.list_tokens(conn, units, login)
