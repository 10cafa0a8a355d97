"""the verifier's and the extension decider's deadlines; provisional listing deadlines

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 08:30:00.000000

Hazards get a verification deadline (set at each submission) and a decision deadline for a pending extension
request, each with the sequence numbers that make its reminder and supervision fire once. Listings keep whether
their deadline is provisional and how many working days it counts, so ``recompute-deadlines`` can move it once
the holidays are published. Existing rows get no new deadline (null): the new clocks start with the next
submission or request.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SEQS = (
    "verify_seq",
    "verify_reminded_seq",
    "verify_supervised_seq",
    "extension_reminded_seq",
    "extension_supervised_seq",
)


def upgrade() -> None:
    with op.batch_alter_table("hazards") as batch:
        batch.add_column(sa.Column("verify_due_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("extension_due_at", sa.DateTime(), nullable=True))
        for name in _SEQS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("deadline_provisional", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("deadline_days", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("deadline_days")
        batch.drop_column("deadline_provisional")
    with op.batch_alter_table("hazards") as batch:
        for name in reversed(_SEQS):
            batch.drop_column(name)
        batch.drop_column("extension_due_at")
        batch.drop_column("verify_due_at")
