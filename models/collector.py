"""The cyclic garbage collector held back for one bounded batch.

A sweep or apply batch allocates tens of thousands of small containers (hazards, transitions, notice rows and
their contexts) that all live until the batch commits. To the collector they look like survivors, so it runs
full collections over every live object of the process — the organisation tree, the calendars, SQLAlchemy's
caches — about once per batch; measured, that is a fifth of a sweep. Nothing a batch makes needs the cycle
collector to be freed (reference counting frees it when the batch ends), so the collector waits until the
batch is done and then runs as usual. Batches are bounded (a few thousand hazards), so memory stays bounded."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic collector back for the block; nested use and a collector already off are respected."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
