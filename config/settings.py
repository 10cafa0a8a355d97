"""Typed settings from the environment (``HAZARDLOOP_*``); command-line options override them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.url_text import shown_url


def default_config_dir() -> Path:
    return Path(str(resources.files("config")))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAZARDLOOP_", extra="ignore")

    database_url: str = "sqlite:///hazardloop.db"
    config: Path = Field(default_factory=default_config_dir)
    smtp_url: str | None = None
    mail_dir: Path = Path("outbox")
    templates: Path | None = None
    report_dir: Path = Path("reports")
    lease_seconds: int = Field(45, ge=2, le=3600, description="how long a scheduler's lease lasts unless renewed")

    @field_validator("database_url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                f"'{shown_url(value)}' is not a database URL (e.g. sqlite:///hazardloop.db or postgresql+psycopg://user@host/db)"
            )
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("smtp://", "smtps://")):
            raise ValueError(f"'{shown_url(value)}' must start with smtp:// or smtps://")
        return value or None
