"""the rungs of an office's own escalation ladder that have fired, per hazard

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:30:00.000000

The escalation ladder is data (``escalation.ladder`` in ``policy.yaml``). The standard rungs keep their records in
the columns they had (``reminded_seq``, ``supervised_seq`` and the verifier's and decider's); a rung an office adds
(a 约谈 after 15 working days overdue, say) fires once per deadline too, and ``rungs_fired`` remembers for which
deadline, as ``duty/rung=seq`` words. Existing rows get '' (no such rung has fired).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hazards") as batch:
        batch.add_column(sa.Column("rungs_fired", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("hazards") as batch:
        batch.drop_column("rungs_fired")
