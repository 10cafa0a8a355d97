"""The one place that wires things: settings → database engine, policy, organisation, rules, clock and mail
backend. Called by the command line, the flows and the scheduler; never at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from hazardloop.config.loading import load_indicators, load_org, load_policy
from hazardloop.config.settings import Settings
from hazardloop.models.core.errors import ConfigError
from hazardloop.models.core.indicators import IndicatorSet
from hazardloop.models.core.orgtree import OrgTree
from hazardloop.models.core.policy import Org, Policy
from hazardloop.models.core.rules import Rules
from hazardloop.models.store.db import make_engine

if TYPE_CHECKING:
    from hazardloop.notifications.dispatch import Delivery
    from hazardloop.notifications.mailers import MailBackend
    from hazardloop.notifications.rendering import NoticeRenderer


class Clock:
    """The only reader of the real time. ``fixed`` makes every decision act as of one instant (``--now``)."""

    def __init__(self, fixed: datetime | None = None, *, wall: Callable[[], datetime] | None = None) -> None:
        if fixed is not None and fixed.tzinfo is None:
            raise ValueError("--now needs a time zone offset, e.g. 2025-10-13T09:00:00+08:00")
        self.fixed = fixed
        self._wall = wall  # where the real time comes from (another clock's, for a clock derived from it)

    def now(self) -> datetime:
        """The instant decisions are taken at: ``fixed`` when given, else the real time."""
        return self.fixed if self.fixed is not None else self.wall_now()

    def wall_now(self) -> datetime:
        """The real time whatever ``fixed`` says, for what is about processes rather than rules: a scheduler's
        lease, when a job really started and ended, how long to wait for another server."""
        return self._wall() if self._wall is not None else datetime.now(UTC)

    def fixed_at(self, now: datetime) -> Clock:
        """A clock fixed at ``now`` that reads the real time where this one does."""
        return Clock(now, wall=self.wall_now)


@dataclass
class App:
    settings: Settings
    policy: Policy
    org: Org
    clock: Clock = field(default_factory=Clock)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def tree(self) -> OrgTree:
        return OrgTree(self.org)

    @cached_property
    def indicators(self) -> IndicatorSet:
        """``indicators.yaml`` of the config folder, read when a command first needs it (exit 4 when bad)."""
        return load_indicators(self.settings.config, self.policy, self.org)

    @cached_property
    def rules(self) -> Rules:
        return Rules.build(self.policy, self.tree)

    @cached_property
    def renderer(self) -> NoticeRenderer:
        from hazardloop.notifications.rendering import NoticeRenderer

        override = self.settings.templates
        if override is not None and not override.is_dir():
            raise ConfigError(f"HAZARDLOOP_TEMPLATES={override}: not a folder of templates")
        return NoticeRenderer(override)

    @cached_property
    def delivery(self) -> Delivery:
        """How the outbox is worked (``HAZARDLOOP_NOTICE_*``): handed to ``dispatch`` with the clock."""
        from hazardloop.notifications.dispatch import Delivery

        s = self.settings
        return Delivery(
            lease=timedelta(seconds=s.notice_lease_seconds),
            max_attempts=s.notice_max_attempts,
            backoff=tuple(timedelta(seconds=step) for step in s.notice_backoff_seconds),
            batch_size=s.notice_batch_size,
            record_group=s.notice_record_group,
        )

    def mail_backend(self) -> MailBackend:
        from hazardloop.notifications.mailers import backend_from_settings

        try:
            return backend_from_settings(self.settings.smtp_url, self.settings.mail_dir)
        except ValueError as exc:
            raise ConfigError(f"HAZARDLOOP_SMTP_URL: {exc}") from None

    def acting_at(self, now: datetime) -> App:
        """This app with a clock fixed at ``now`` (a job the scheduler fired at that instant), sharing the engine
        and everything already built; close the original, not the copy."""
        # built here once, so that no copy builds an engine (or the rules) of its own
        self.engine  # noqa: B018
        self.rules  # noqa: B018
        copy = App(self.settings, self.policy, self.org, self.clock.fixed_at(now))
        copy.__dict__.update({k: v for k, v in self.__dict__.items() if k in _SHARED})
        return copy

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


_SHARED = ("engine", "tree", "indicators", "rules", "renderer")


def bootstrap(
    *,
    db: str | None = None,
    config_dir: Path | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> App:
    settings = settings or Settings()
    updates: dict[str, object] = {}
    if db:
        updates["database_url"] = db
    if config_dir:
        updates["config"] = config_dir
    if updates:
        settings = settings.model_copy(update=updates)
    policy = load_policy(settings.config)
    org = load_org(settings.config, policy)
    return App(settings=settings, policy=policy, org=org, clock=Clock(now))
