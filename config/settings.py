"""Typed settings from the environment (``HAZARDLOOP_*``); command-line options override them."""

from __future__ import annotations

from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hazardloop.models.store.url_text import shown_url


def default_config_dir() -> Path:
    return Path(str(resources.files("hazardloop.config")))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAZARDLOOP_", extra="ignore")

    database_url: str = "sqlite:///hazardloop.db"
    config: Path = Field(default_factory=default_config_dir)
    smtp_url: str | None = None
    mail_dir: Path = Path("outbox")
    templates: Path | None = None
    report_dir: Path = Path("reports")
    lease_seconds: int = Field(45, ge=2, le=3600, description="how long a scheduler's lease lasts unless renewed")
    misfire_grace_seconds: int = Field(
        3600, ge=1, le=7 * 86400, description="how late a scheduled job may still start (a laptop woken up)"
    )
    # --- working the outbox, the sweep and event files ---
    notice_lease_seconds: int = Field(
        600,
        ge=1,
        le=86400,
        description="how long a dispatcher holds the notices it claimed before others may take them",
    )
    notice_max_attempts: int = Field(6, ge=1, le=100, description="sends of a notice before it is given up on (dead)")
    notice_backoff_seconds: Annotated[tuple[int, ...], NoDecode] = Field(
        (60, 300, 900, 3600, 14400),
        description="seconds to wait before the 1st, 2nd, … retry of a notice, the last repeating: 60,300,900",
    )
    notice_batch_size: int = Field(200, ge=1, le=100_000, description="notices claimed by a dispatcher at a time")
    notice_record_group: int = Field(
        100, ge=1, le=100_000, description="outcomes written together where a resend is harmless (mail files)"
    )
    sweep_batch_size: int = Field(2000, ge=1, le=1_000_000, description="hazards swept in one transaction")
    intake_chunk_lines: int = Field(5000, ge=1, le=1_000_000, description="lines of an event file applied at a time")
    # --- the HTTP API and console (``hazardloop web``) ---
    public_url: str | None = Field(None, description="the URL people reach the server at (https://… behind TLS)")
    body_limit: int = Field(10 * 1024 * 1024, ge=1024, description="largest request body accepted, in bytes (413)")
    login_max_failures: int = Field(5, ge=1, le=100, description="wrong passwords in a row before a lockout")
    login_lockout_seconds: int = Field(900, ge=1, description="how long a lockout lasts unless an admin lifts it")
    auth_failures_per_minute: int = Field(
        30, ge=1, description="failed logins or token checks from one client address per minute before 429"
    )
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (none: CORS off)")
    session_hours: float = Field(12, gt=0, le=24 * 30, description="how long a console session lasts")
    console: bool = Field(True, description="serve the web console beside the API (false: the API alone)")
    evidence_dir: Path | None = Field(None, description="folder of evidence files (default: beside the SQLite file)")
    audit_anchor_file: Path | None = Field(
        None, description="the daily audit roots, one JSON line a day (default: audit-anchors.jsonl beside mail_dir)"
    )

    @field_validator("database_url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                f"'{shown_url(value)}' is not a database URL (e.g. sqlite:///hazardloop.db or postgresql+psycopg://user@host/db)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"'{value}' must start with https:// (or http://)")
        return value.rstrip("/") if value else None

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("smtp://", "smtps://")):
            raise ValueError(f"'{shown_url(value)}' must start with smtp:// or smtps://")
        return value or None

    @field_validator("notice_backoff_seconds", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # the environment gives "60,300,900" (or "[60, 300, 900]"); a number that is not one is said by pydantic
        if isinstance(value, str):
            return tuple(part.strip() for part in value.strip().strip("[]").split(",") if part.strip())
        return value

    @field_validator("notice_backoff_seconds")
    @classmethod
    def _backoff_steps(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one wait is needed, e.g. 60,300,900")
        if any(step < 1 or step > 7 * 86400 for step in value):
            raise ValueError(f"each wait is between 1 second and 7 days, not {list(value)}")
        if any(later < earlier for earlier, later in pairwise(value)):
            raise ValueError(f"the waits must not shrink from one retry to the next: {list(value)}")
        return value
