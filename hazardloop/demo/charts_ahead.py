"""The report charts of the demo's mail window, drawn ahead in worker processes.

A report queued one simulated morning is mailed the next, and its charts (a tenth of a second or more each, a
third of the mail window's time) depend on nothing but the figures stored in its notice. So while the demo plays
the rest of the day, worker processes draw them from those figures; before the next dispatch their PNGs are
handed to the chart cache (``notifications.charts.keep_drawn``), where the dispatcher finds them. The charts are
the same bytes as if the dispatcher had drawn them itself (the same function draws them); a chart the workers
could not draw is simply drawn by the dispatcher, as without them.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from sqlalchemy import Engine, select

from hazardloop.models.store.db import unit_of_work
from hazardloop.models.store.tables import NoticeRow
from hazardloop.notifications.charts import keep_drawn, render_charts

log = logging.getLogger("hazardloop.demo")
_N = NoticeRow.__table__


class ChartsAhead:
    """Draws the charts of pending report notices in ``workers`` processes, started when first needed."""

    def __init__(self, engine: Engine, workers: int = 2) -> None:
        self.engine, self.workers = engine, workers
        self._pool: ProcessPoolExecutor | None = None
        self._asked: set[int] = set()  # notice ids whose charts were asked for
        self._drawing: list[tuple[dict[str, Any], Future[dict[str, bytes]]]] = []

    def start(self) -> None:
        """Ask the workers for the charts of every report notice pending now and not asked for yet."""
        with unit_of_work(self.engine, write=False) as conn:
            rows = conn.execute(
                select(_N.c.id, _N.c.context).where(_N.c.kind == "report", _N.c.status == "pending").order_by(_N.c.id)
            ).all()
        for notice_id, context in rows:
            if notice_id in self._asked:
                continue
            self._asked.add(notice_id)
            try:
                future = self._executor().submit(render_charts, dict(context))
            except Exception as exc:  # no workers: the dispatcher draws the charts itself
                log.warning("charts cannot be drawn ahead (%s); they are drawn when the reports are mailed", exc)
                return
            self._drawing.append((dict(context), future))

    def collect(self) -> None:
        """Wait for the charts asked for and hand them to the chart cache, in the order they were asked for."""
        drawing, self._drawing = self._drawing, []
        for context, future in drawing:
            try:
                keep_drawn(context, future.result())
            except Exception as exc:  # the dispatcher draws this report's charts itself
                log.warning("a report's charts were not drawn ahead (%s); they are drawn when it is mailed", exc)

    def close(self) -> None:
        self._drawing = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawned, not forked: the demo's process holds database connections and a progress bar's thread
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool
