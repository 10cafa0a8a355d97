"""The cyclic garbage collector held back for one bounded batch.

A sweep or apply batch allocates tens of thousands of small containers (hazards, transitions, notice rows and
their contexts) that all live until the batch commits. To the collector they look like survivors, so it runs
full collections over every live object of the process — the organisation tree, the calendars, SQLAlchemy's
caches — about once per batch; measured, that is a fifth of a sweep. Nothing a batch makes needs the cycle
collector to be freed (reference counting frees it when the batch ends), so the collector waits until the
batch is done and then runs as usual. Batches are bounded (a few thousand hazards), so memory stays bounded."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Pauses are counted across threads (a sweep decides one batch while another thread writes the one before):
# the collector comes back when the last pause ends, and only if it was on when the first began.
_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic collector back for the block; nested and concurrent use and a collector already off are
    respected."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
