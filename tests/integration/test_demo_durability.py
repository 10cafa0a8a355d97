"""The demo writes its throwaway database and mail folder without waiting for the disk; everything else keeps
waiting. What is written is the same either way."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hazardloop.models.store.db import make_engine, without_disk_sync
from hazardloop.notifications.mailers import FileBackend
from hazardloop.notifications.messages import build_message
from hazardloop.notifications.rendering import RenderedNotice


def _synchronous(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.exec_driver_sql("PRAGMA synchronous").scalar())


def test_without_disk_sync_turns_off_syncing_for_that_engine_only(tmp_path: Path) -> None:
    demo = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    other = make_engine(f"sqlite:///{tmp_path / 'office.db'}")
    assert _synchronous(demo) == 1  # NORMAL: the engine's default
    without_disk_sync(demo)
    assert _synchronous(demo) == 0  # OFF, on the connections opened from now on
    assert _synchronous(other) == 1
    with demo.connect() as conn:  # still the write-ahead log: transactions stay whole
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    demo.dispose()
    other.dispose()


def test_a_file_backend_that_is_not_durable_writes_the_same_bytes_without_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = RenderedNotice(subject="【督办通知】测试", text="正文\n", html="<p>正文</p>\n")
    message = build_message(
        rendered,
        sender="市平安办 <pingan@example.org>",
        to=["zz@example.org"],
        cc=[],
        message_id="hazard:HZ-2025-000001:supervision",
        date=datetime(2025, 3, 5, 9, tzinfo=timezone(timedelta(hours=8))),
    )
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])

    with FileBackend(tmp_path / "durable") as durable:
        durable.send(message)
    assert len(synced) == 1
    with FileBackend(tmp_path / "demo", durable=False) as quick:
        quick.send(message)
    assert len(synced) == 1  # no wait for the disk

    (kept,) = (tmp_path / "durable").iterdir()
    (written,) = (tmp_path / "demo").iterdir()
    assert written.name == kept.name
    assert written.read_bytes() == kept.read_bytes()
    assert not [p for p in (tmp_path / "demo").iterdir() if p.suffix == ".tmp"]
