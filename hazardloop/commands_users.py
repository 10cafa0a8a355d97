"""``users`` and ``tokens``: accounts and API tokens, managed by the operator on the server. Passwords and tokens
are shown once, when made, and stored only as hashes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from hazardloop.cli_app import app, handled, out, print_json, ready
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.services import accounts as service
from hazardloop.services.identity import cli_principal

users = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="accounts: people who act as themselves")
tokens = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="API tokens of accounts")
app.add_typer(users, name="users")
app.add_typer(tokens, name="tokens")


@users.command("add")
@handled
def users_add(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="the login name")],
    unit: Annotated[str, typer.Option("--unit", help="unit code (or name) from org.yaml")],
    role: Annotated[str, typer.Option("--role", help="staff, verifier, supervisor, viewer, admin (comma-separated)")],
    name: Annotated[str, typer.Option("--name", help="the person's name, as the audit trail shows it")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input (else one is generated)")
    ] = False,
) -> None:
    """Create an account; without --password-stdin a password is generated and printed once."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput([Problem("no password on standard input", field="--password-stdin")])
    application = ready(ctx)
    made = service.add_user(
        application, cli_principal(application), login=login, unit=unit, roles=role, name=name, password=password
    )
    a = made.account
    out.print(f"account {a.login} ({a.unit_code}/{a.name}, roles {','.join(a.roles)}) created", highlight=False)
    if made.generated_password:
        out.print(f"password (shown once): {made.generated_password}", markup=False, highlight=False)


@users.command("list")
@handled
def users_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List accounts."""
    application = ready(ctx)
    rows = [a.as_dict(application.tree) for a in service.list_users(application, cli_principal(application))]
    if as_json:
        print_json(rows)
        return
    table = Table(header_style="bold")
    for col in ("login", "name", "unit", "roles", "active", "locked until"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["login"],
            r["name"],
            f"{r['unit_name']} ({r['unit']})",
            ",".join(r["roles"]),
            "yes" if r["active"] else "[red]disabled[/]",
            r["locked_until"] or "",
        )
    out.print(table)
    out.print(f"{len(rows)} account(s)", highlight=False)


@users.command("disable")
@handled
def users_disable(ctx: typer.Context, login: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: its sessions and tokens stop working on their next request."""
    application = ready(ctx)
    service.set_active(application, cli_principal(application), login, False)
    out.print(f"account {login} disabled", highlight=False)


@users.command("enable")
@handled
def users_enable(ctx: typer.Context, login: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled account again (its tokens work again; it signs in anew)."""
    application = ready(ctx)
    service.set_active(application, cli_principal(application), login, True)
    out.print(f"account {login} enabled", highlight=False)


@users.command("unlock")
@handled
def users_unlock(ctx: typer.Context, login: Annotated[str, typer.Argument()]) -> None:
    """Lift the lockout that failed logins put on an account."""
    application = ready(ctx)
    service.unlock_user(application, cli_principal(application), login)
    out.print(f"account {login} unlocked", highlight=False)


@tokens.command("create")
@handled
def tokens_create(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument()],
    days: Annotated[
        int | None, typer.Option("--days", help="valid for this many days (default: until revoked)")
    ] = None,
) -> None:
    """Print a new API token once (it is stored only as a hash)."""
    application = ready(ctx)
    token_id, token = service.create_token(application, cli_principal(application), login, days)
    out.print(f"token {token_id} for {login} (shown once; send it as 'Authorization: Bearer TOKEN'):", highlight=False)
    out.print(token, markup=False, highlight=False)


@tokens.command("revoke")
@handled
def tokens_revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID")]) -> None:
    """Revoke a token: it stops working on its next request."""
    application = ready(ctx)
    info = service.revoke_token(application, cli_principal(application), token_id.split(".")[0])
    out.print(f"token {info.id} of {info.login} revoked", highlight=False)


@tokens.command("list")
@handled
def tokens_list(
    ctx: typer.Context,
    login: Annotated[str | None, typer.Option("--login", help="only this account's tokens")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List tokens (ids, owners, expiry, last use; never the secrets)."""
    application = ready(ctx)
    rows = [t.as_dict() for t in service.list_tokens(application, cli_principal(application), login)]
    if as_json:
        print_json(rows)
        return
    table = Table(header_style="bold")
    for col in ("id", "login", "created", "expires", "last used", "revoked"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["id"],
            r["login"],
            r["created_at"][:19],
            (r["expires_at"] or "")[:19],
            (r["last_used_at"] or "")[:19],
            (r["revoked_at"] or "")[:19],
        )
    out.print(table)
    out.print(f"{len(rows)} token(s)", highlight=False)
