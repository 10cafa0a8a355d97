"""The cyclic collector is held back only for the length of a batch: it is on again afterwards, after a batch
that failed, and after a sweep or an apply that stopped half-way; a caller that had it off keeps it off."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from datetime import datetime

import pytest

from hazardloop.config.bootstrap import App
from hazardloop.models.core.errors import Rejections
from hazardloop.models.store.collector import collector_paused
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.sweep import sweep
from tests.support.factories import detected
from tests.support.fixtures import ready_app


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_restored_after_even_on_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not switch it on under the outer one
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a failing batch")
    assert gc.isenabled()


def test_pauses_that_overlap_in_two_threads_restore_it_when_the_last_ends() -> None:
    """A sweep decides its next batch in one thread while another writes the last one: the first pause to end
    must not switch the collector on under the other."""
    entered, first_done, observed = threading.Event(), threading.Event(), []

    def writer() -> None:
        with collector_paused():
            entered.set()
            first_done.wait(5)
            observed.append(gc.isenabled())  # the other pause has ended by now

    thread = threading.Thread(target=writer)
    with collector_paused():
        thread.start()
        assert entered.wait(5)
    first_done.set()
    thread.join(5)
    assert observed == [False]
    assert gc.isenabled()


def test_a_caller_that_switched_it_off_keeps_it_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


@pytest.fixture
def app(sqlite_url: str) -> Iterator[App]:
    with ready_app(sqlite_url) as application:
        yield application


def test_sweeps_and_applies_that_stop_half_way_leave_it_on(app: App) -> None:
    lines = [(i, json.dumps(detected(f"GC-{i}", "2025-03-03T08:00:00+08:00"))) for i in range(1, 6)]
    lines.append((6, "{not json"))
    with pytest.raises(Rejections):
        apply_lines(
            app.engine, app.rules, lines, source="gc.jsonl", now=datetime.fromisoformat("2025-03-04T08:00:00+08:00")
        )
    assert gc.isenabled()
    report = apply_lines(
        app.engine, app.rules, lines[:-1], source="gc.jsonl", now=datetime.fromisoformat("2025-03-04T08:00:00+08:00")
    )
    assert report.applied == 5 and gc.isenabled()
    later = datetime.fromisoformat("2025-04-30T09:00:00+08:00")  # every deadline has passed
    with pytest.raises(RuntimeError, match="injected fault"):
        sweep(app.engine, app.rules, later, batch_size=2, fault_after_batches=1)
    assert gc.isenabled()
    assert sweep(app.engine, app.rules, later).examined == 3 and gc.isenabled()
