"""Global command-line options and lazy wiring: a command asks for the app only when it needs it, so
``--help`` and bad options never touch the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.config.settings import Settings
from hazardloop.models.core.errors import ConfigError, InvalidInput, Problem
from hazardloop.models.core.instants import instant_in_range, out_of_range_words
from hazardloop.models.store.url_text import shown_url


@dataclass
class Options:
    db: str | None = None
    config: Path | None = None
    now_text: str | None = None
    _app: App | None = field(default=None, repr=False)

    def app(self) -> App:
        if self._app is None:
            try:
                settings = Settings()
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                key = "HAZARDLOOP_" + str(err["loc"][0]).upper() if err["loc"] else "HAZARDLOOP_*"
                raise ConfigError(f"environment variable {key}: {err['msg'].removeprefix('Value error, ')}") from None
            if self.config is not None and not self.config.is_dir():
                raise ConfigError(f"--config {self.config}: not a folder (it must hold policy.yaml and org.yaml)")
            self._app = bootstrap(db=self.db, config_dir=self.config, settings=settings)
            self._app.clock.fixed = parse_now(self.now_text, self._app) if self.now_text else None
        return self._app

    def database_shown(self) -> str:
        """The database this command uses, as a message may show it: the URL with its password hidden."""
        url = self._app.settings.database_url if self._app is not None else self.db
        return shown_url(url) if url else "the database"

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def parse_now(text: str, app: App) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T", 1) if "T" not in text else text.strip())
    except ValueError:
        raise InvalidInput(
            [Problem(f"'{text}' is not an ISO 8601 instant (e.g. 2025-10-13T09:00:00+08:00)", field="--now")]
        ) from None
    if value.tzinfo is None:  # a local time in the policy's zone, as an office would write it
        value = value.replace(tzinfo=app.policy.tz)
    if not instant_in_range(value):
        raise InvalidInput([Problem(out_of_range_words(f"'{text}'"), field="--now")])
    return value
