"""units: a name is unique among the units of one parent, no longer in the whole organisation

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:00:00.000000

Two counties may each have a 城关镇, and two townships each a 东村: org.yaml refuses a name twice only under one
parent (``models.core.policy.Org``), and events and commands tell same-named units apart by code or by the county
they give. The database's unique constraint on ``units.name`` of 0001 goes; nothing looks a unit up by name in SQL
(the organisation is read into memory), so no index takes its place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_on_name() -> str | None:
    """The name of 0001's unique constraint on ``units.name`` (PostgreSQL names it; SQLite does not)."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("units"):
        if constraint["column_names"] == ["name"]:
            return constraint["name"]
    return None


def upgrade() -> None:
    old = _unique_on_name()
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a constraint: batch mode copies the table without it (``models.store.db.upgrade``
        # checks the foreign keys of the tables referring to it once the copy is in place)
        with op.batch_alter_table("units", naming_convention=_NAMING) as batch:
            batch.drop_constraint(old or "uq_units_name", type_="unique")
    elif old:
        op.drop_constraint(old, "units", type_="unique")


def downgrade() -> None:
    # fails, as it should, where two units share a name: the old schema cannot hold both
    with op.batch_alter_table("units") as batch:
        batch.create_unique_constraint("uq_units_name", ["name"])
