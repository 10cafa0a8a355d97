"""The outbox's lease, retries and batch sizes, the sweep's and the intake's batch sizes are settings
(``HAZARDLOOP_*``) that refuse nonsense, handed down by the App, not module constants."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from hazardloop.config.settings import Settings
from hazardloop.models.store.outbox import SqlOutbox
from tests.support.factories import detected
from tests.support.fixtures import Cli, ready_app

NOW = datetime.fromisoformat("2025-03-03T12:00:00+08:00")


def test_the_defaults_are_the_outbox_the_sweep_and_the_intake_as_they_were() -> None:
    s = Settings()
    assert (s.notice_lease_seconds, s.notice_max_attempts, s.notice_batch_size, s.notice_record_group) == (
        600,
        6,
        200,
        100,
    )
    assert s.notice_backoff_seconds == (60, 300, 900, 3600, 14400)
    assert (s.sweep_batch_size, s.intake_chunk_lines, s.misfire_grace_seconds) == (2000, 5000, 3600)


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZARDLOOP_NOTICE_BACKOFF_SECONDS", "30, 120")
    monkeypatch.setenv("HAZARDLOOP_NOTICE_LEASE_SECONDS", "90")
    monkeypatch.setenv("HAZARDLOOP_SWEEP_BATCH_SIZE", "500")
    s = Settings()
    assert s.notice_backoff_seconds == (30, 120) and s.notice_lease_seconds == 90 and s.sweep_batch_size == 500


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("notice_backoff_seconds", (), "at least one wait"),
        ("notice_backoff_seconds", (300, 60), "must not shrink"),
        ("notice_backoff_seconds", (0, 60), "between 1 second and 7 days"),
        ("notice_lease_seconds", 0, "greater than or equal to 1"),
        ("notice_max_attempts", 0, "greater than or equal to 1"),
        ("notice_batch_size", 0, "greater than or equal to 1"),
        ("sweep_batch_size", -5, "greater than or equal to 1"),
        ("intake_chunk_lines", 0, "greater than or equal to 1"),
    ],
)
def test_nonsense_is_refused_naming_the_setting(field: str, value: Any, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as raised:
        Settings(**{field: value})
    assert raised.value.errors()[0]["loc"][0] == field


def test_the_command_line_names_the_variable_that_is_wrong(sqlite_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZARDLOOP_NOTICE_BACKOFF_SECONDS", "900,60")
    result = sqlite_cli("dispatch")
    assert result.exit_code != 0
    assert "HAZARDLOOP_NOTICE_BACKOFF_SECONDS" in result.output and "must not shrink" in result.output
    assert "Traceback" not in result.output


def test_the_app_hands_the_outbox_its_settings(sqlite_url: str) -> None:
    settings = Settings(
        database_url=sqlite_url, notice_lease_seconds=30, notice_backoff_seconds=(5, 50), notice_max_attempts=3
    )
    from hazardloop.config.bootstrap import bootstrap
    from tests.support.fixtures import CONFIG_DIR

    app = bootstrap(config_dir=CONFIG_DIR, settings=settings)
    assert app.delivery.lease == timedelta(seconds=30)
    assert app.delivery.backoff == (timedelta(seconds=5), timedelta(seconds=50))
    assert [app.delivery.retry_delay(n) for n in (1, 2, 3, 9)] == [timedelta(seconds=s) for s in (5, 50, 50, 50)]
    assert (app.delivery.max_attempts, app.delivery.batch_size) == (3, 200)


def test_a_notice_is_retried_by_the_settings_backoff_and_given_up_after_their_attempts(sqlite_url: str) -> None:
    from dataclasses import replace

    from hazardloop.models.store.intake import apply_lines
    from hazardloop.notifications.dispatch import dispatch
    from hazardloop.notifications.mail_errors import TransientMailError
    from hazardloop.notifications.mailers import MemoryBackend

    class BusyServer(MemoryBackend):
        def send(self, message: Any, recipients: Any = None) -> None:
            raise TransientMailError("The mail server is busy.")

    with ready_app(sqlite_url) as app:
        line = json.dumps(detected("K-1", "2025-03-03T08:00:00+08:00"), ensure_ascii=False)
        apply_lines(app.engine, app.rules, [(1, line)], source="t", now=NOW)
        delivery = replace(app.delivery, max_attempts=2, backoff=(timedelta(seconds=7),))

        first = dispatch(
            SqlOutbox(app.engine), app.rules, BusyServer(), app.renderer, NOW, delivery=delivery, clock=app.clock
        )
        assert (first.retrying, first.dead) == (1, 0)
        too_soon = dispatch(
            SqlOutbox(app.engine),
            app.rules,
            BusyServer(),
            app.renderer,
            NOW + timedelta(seconds=6),
            delivery=delivery,
            clock=app.clock,
        )
        assert too_soon.claimed == 0  # the backoff's 7 seconds have not passed
        second = dispatch(
            SqlOutbox(app.engine),
            app.rules,
            BusyServer(),
            app.renderer,
            NOW + timedelta(seconds=7),
            delivery=delivery,
            clock=app.clock,
        )
        assert (second.claimed, second.dead) == (1, 1)


def test_a_claim_holds_for_the_settings_lease_on_the_real_clock(sqlite_url: str) -> None:
    """A dispatcher acting as of a later instant (--now) still respects a live claim; one whose real time is past
    the lease takes the notice over."""
    from hazardloop.models.store.intake import apply_lines
    from hazardloop.notifications.dispatch import dispatch
    from hazardloop.notifications.mailers import MemoryBackend

    with ready_app(sqlite_url) as app:
        line = json.dumps(detected("L-1", "2025-03-03T08:00:00+08:00"), ensure_ascii=False)
        apply_lines(app.engine, app.rules, [(1, line)], source="t", now=NOW)
        seen: list[int] = []
        wall = app.clock.wall_now()

        class HangingServer(MemoryBackend):
            def send(self, message: Any, recipients: Any = None) -> None:
                if not seen:  # while the first dispatcher is sending, others look at the notices it holds
                    seen.append(others_claim(NOW + timedelta(days=30), now_for_real))
                    seen.append(others_claim(NOW, past_the_lease))
                super().send(message, recipients)

        def others_claim(as_of: datetime, real_time: Any) -> int:
            clock = SimpleNamespace(wall_now=real_time)
            return dispatch(
                SqlOutbox(app.engine),
                app.rules,
                MemoryBackend(),
                app.renderer,
                as_of,
                delivery=app.delivery,
                clock=clock,
            ).claimed

        def now_for_real() -> datetime:
            return wall  # acting as of a later day (--now), but at the same real time

        def past_the_lease() -> datetime:
            return wall + app.delivery.lease + timedelta(seconds=1)

        first = dispatch(
            SqlOutbox(app.engine), app.rules, HangingServer(), app.renderer, NOW, delivery=app.delivery, clock=app.clock
        )
    assert seen[0] == 0 and seen[1] >= 1
    assert first.sent == 0 and "another dispatcher has taken them over" in first.errors[0]
