"""Typed settings from the environment (``HAZARDLOOP_*``); command-line options override them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hazardloop.models.core.url_text import shown_url


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
