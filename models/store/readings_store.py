"""The tables of the indicator system: every reading received, each monitoring point's running state (the row
a batch locks, so two writers of the same point queue), and the breach episodes with the hazard each raised.
Alembic owns the schema (migration 0008); these classes describe it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hazardloop.models.store.tables import Base


class ReadingRow(Base):
    """One reading of a monitoring point; a point has at most one reading per instant (the idempotency key)."""

    __tablename__ = "readings"

    point_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))  # normal, warning or breach, as the thresholds stood
    indicator_code: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]

    # the analysis reads whole periods across points
    __table_args__ = (Index("ix_readings_at", "at"),)


class MonitoringPointRow(Base):
    """Where a point stands after its latest reading: the level, the open breach episode, the warning spell."""

    __tablename__ = "monitoring_points"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_at: Mapped[datetime | None]
    last_value: Mapped[float | None] = mapped_column(Float)
    last_level: Mapped[str | None] = mapped_column(String(8))
    episode_started_at: Mapped[datetime | None]
    warning_since: Mapped[datetime | None]


class BreachEpisodeRow(Base):
    """One spell of a point past its breach threshold, from the first reading past it to the first back within
    the warning threshold, and the hazard it raised."""

    __tablename__ = "breach_episodes"

    point_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(primary_key=True)
    indicator_code: Mapped[str] = mapped_column(String(64))
    hazard_ref: Mapped[str] = mapped_column(String(200), unique=True)
    ended_at: Mapped[datetime | None]
    readings: Mapped[int] = mapped_column(Integer, default=0)
    peak: Mapped[float] = mapped_column(Float)
    last_at: Mapped[datetime]
    last_value: Mapped[float] = mapped_column(Float)
