"""accounts, API tokens and sessions; the principal on transitions and events

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 08:00:00.000000

People act as themselves (HTTP API): an account belongs to one unit and has roles; API tokens and console sessions
are stored only as SHA-256 hashes of their secrets. Every transition and event records the principal that caused
it: the account, the credential (token or session id), how it came in (token, session, cli, flow) and the client
address (or the operator's OS user for the command line). Rows written before this revision keep NULL there.

``ix_hazards_detected`` (detected_at, id) serves the API's and the console's hazard pages, which are keyset pages in
detection order: without it every page sorts every hazard of the scope. A hazard's detection instant never changes,
so the index costs one entry per new hazard and nothing on the updates the sweep makes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PRINCIPAL = (
    ("principal_account", sa.Integer()),
    ("principal_credential", sa.String(length=64)),
    ("principal_via", sa.String(length=16)),
    ("principal_client", sa.String(length=200)),
)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login", name="uq_accounts_login"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_tokens_account_id", "api_tokens", ["account_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sessions_account_id", "sessions", ["account_id"])
    for table in ("transitions", "events"):
        with op.batch_alter_table(table) as batch:
            for name, kind in _PRINCIPAL:
                batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_hazards_detected", "hazards", ["detected_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_hazards_detected", table_name="hazards")
    for table in ("events", "transitions"):
        with op.batch_alter_table(table) as batch:
            for name, _kind in reversed(_PRINCIPAL):
                batch.drop_column(name)
    op.drop_index("ix_sessions_account_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_api_tokens_account_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("accounts")
