"""hazards: the last step a person took, and when

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:00:00.000000

An event dated before a hazard's last step by a person is refused (its history would run backwards); the rules
read that step from the hazard itself instead of its transitions. Existing hazards take it from their
transitions: the latest one whose actor is not the engine (``system``), by instant and then by order of recording.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_LATEST = (
    "(SELECT t.{column} FROM transitions t WHERE t.hazard_id = hazards.id AND t.actor <> 'system' "
    "ORDER BY t.at DESC, t.id DESC LIMIT 1)"
)


def upgrade() -> None:
    with op.batch_alter_table("hazards") as batch:
        batch.add_column(sa.Column("last_step", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("last_step_at", sa.DateTime(), nullable=True))
    op.execute(
        f"UPDATE hazards SET last_step = {_LATEST.format(column='action')}, "
        f"last_step_at = {_LATEST.format(column='at')}"
    )


def downgrade() -> None:
    with op.batch_alter_table("hazards") as batch:
        batch.drop_column("last_step_at")
        batch.drop_column("last_step")
