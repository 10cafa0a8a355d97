"""hazards, transitions: drop indexes no query needs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 01:40:00.000000

Every index on ``hazards`` is written again whenever a hazard's next-action instant moves, which every sweep and
most events do (the instant is indexed, so PostgreSQL cannot update in place). ``ix_hazards_township_code`` repeats
the first column of ``ix_hazards_township_state``, which serves every look-up by township; ``ix_hazards_field``
serves no query (figures by field are grouped over whole periods, never looked up by field). Likewise
``ix_transitions_township_code``: a sweep appends two transitions per hazard it acts on, and the township's
transitions are only ever read for whole periods (by ``at``).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_hazards_township_code", table_name="hazards")
    op.drop_index("ix_hazards_field", table_name="hazards")
    op.drop_index("ix_transitions_township_code", table_name="transitions")


def downgrade() -> None:
    op.create_index("ix_transitions_township_code", "transitions", ["township_code"])
    op.create_index("ix_hazards_field", "hazards", ["field"])
    op.create_index("ix_hazards_township_code", "hazards", ["township_code"])
