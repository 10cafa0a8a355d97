"""hazards: the due set in sweep order from one index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 01:30:00.000000

The sweep reads due hazards ``ORDER BY next_action_at, id`` in batches. Hazards whose deadlines fall on the same
day share one next-action instant; with an index on ``next_action_at`` alone each batch had to read and sort every
tied hazard to return the first few thousand. With ``id`` in the index the batch is read in order and stops.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hazards_next_action", "hazards", ["next_action_at", "id"])
    op.drop_index("ix_hazards_next_action_at", table_name="hazards")


def downgrade() -> None:
    op.create_index("ix_hazards_next_action_at", "hazards", ["next_action_at"])
    op.drop_index("ix_hazards_next_action", table_name="hazards")
