"""hazards: a source reference is unique within its source; notices: what each recipient has received

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 08:00:00.000000

Two sources may use the same reference for different hazards (the 12345 hotline's "1001" and a grid patrol's
"1001"), so ``ref`` alone is no longer unique: the pair (``ref``, ``source``) is. A detection without a source
has the source ``''`` (not NULL, which a unique constraint would let repeat), so two such detections with one
reference are still one hazard. ``ref`` comes first in the constraint: its index also serves the look-ups by
bare reference (events and commands that name a hazard by its reference).

``notices.delivered_to`` maps each recipient address that accepted the notice to the instant it did, so that a
retry after a partial refusal goes only to the recipients still missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_on_ref_alone() -> str | None:
    """The name of the old unique constraint on ``hazards.ref`` (PostgreSQL names it; SQLite does not)."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("hazards"):
        if constraint["column_names"] == ["ref"]:
            return constraint["name"]
    return None


def upgrade() -> None:
    op.execute("UPDATE hazards SET source = '' WHERE source IS NULL")
    old = _unique_on_ref_alone()
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a constraint: batch mode copies the table; the naming convention names the
        # unnamed constraint of 0001 so that it can be left out of the copy
        with op.batch_alter_table("hazards", naming_convention=_NAMING) as batch:
            batch.alter_column("source", existing_type=sa.String(200), nullable=False, server_default="")
            batch.drop_constraint(old or "uq_hazards_ref", type_="unique")
            batch.create_unique_constraint("uq_hazards_ref_source", ["ref", "source"])
    else:
        op.alter_column("hazards", "source", existing_type=sa.String(200), nullable=False, server_default="")
        if old:
            op.drop_constraint(old, "hazards", type_="unique")
        op.create_unique_constraint("uq_hazards_ref_source", "hazards", ["ref", "source"])
    op.add_column("notices", sa.Column("delivered_to", sa.JSON(), nullable=True))


def downgrade() -> None:
    # fails, as it should, where two sources share a reference: the old schema cannot hold both hazards
    op.drop_column("notices", "delivered_to")
    with op.batch_alter_table("hazards") as batch:
        batch.drop_constraint("uq_hazards_ref_source", type_="unique")
        batch.create_unique_constraint("uq_hazards_ref", ["ref"])
        batch.alter_column("source", existing_type=sa.String(200), nullable=True, server_default=None)
    op.execute("UPDATE hazards SET source = NULL WHERE source = ''")
