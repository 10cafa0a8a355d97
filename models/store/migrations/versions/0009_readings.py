"""readings, monitoring_points, breach_episodes: the indicator system's readings and breach episodes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readings",
        sa.Column("point_code", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("point_code", "at"),
    )
    op.create_index("ix_readings_at", "readings", ["at"])
    op.create_table(
        "monitoring_points",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_level", sa.String(length=8), nullable=True),
        sa.Column("episode_started_at", sa.DateTime(), nullable=True),
        sa.Column("warning_since", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "breach_episodes",
        sa.Column("point_code", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("hazard_ref", sa.String(length=200), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Float(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("point_code", "started_at"),
        sa.UniqueConstraint("hazard_ref"),
    )


def downgrade() -> None:
    op.drop_table("breach_episodes")
    op.drop_table("monitoring_points")
    op.drop_index("ix_readings_at", table_name="readings")
    op.drop_table("readings")
