"""Benchmark: notices. Renders N notices of every kind with the real templates (render/s), then dispatches N
queued notices through the real dispatcher over SMTP to an aiosmtpd sink on loopback (sent/s). Prints one JSON
line.

The sink runs in its own process (as a real mail server would), so it does not compete with the dispatcher for
the GIL; it counts the messages and their distinct Message-IDs and reports them back when the run ends. The
bench fails unless the sink received exactly N distinct messages and the database shows N notices sent and N
archived.

    python bench/notices.py [--notices 10000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import resource
import socket
import sys
import tempfile
import time
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bench.lifecycle import CONFIG, loop_events
from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.store.db import unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.outbox import SqlOutbox, complete_contexts
from hazardloop.models.store.tables import NoticeArchiveRow, NoticeRow
from hazardloop.notifications.dispatch import dispatch, document_context
from hazardloop.notifications.mailers import SMTPBackend

# Only the header block is searched, and only for the one header the exactly-once check needs.
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class Sink:
    """Accepts every message; remembers how many arrived and under which Message-IDs."""

    def __init__(self) -> None:
        self.count = 0
        self.ids: set[bytes] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        content: bytes = envelope.content
        found = _MESSAGE_ID.search(content, 0, content.find(b"\r\n\r\n"))
        if found:
            self.ids.add(found.group(1))
        return "250 OK"


def _serve_sink(pipe: Connection) -> None:
    """The sink process: start aiosmtpd on a free loopback port, send the port, wait for "stop", send the tally
    (messages, distinct Message-IDs, CPU seconds the sink used)."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    ready = time.process_time()  # what starting the process cost is not the sink's work
    try:
        pipe.send(port)
        pipe.recv()  # anything means: the run is over
    finally:
        controller.stop()
    pipe.send((sink.count, len(sink.ids), time.process_time() - ready))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=10_000)
    args = parser.parse_args()
    # spawn, not fork: the sink must not inherit this process's engine, threads or sockets
    processes = multiprocessing.get_context("spawn")
    ours, theirs = processes.Pipe()
    sink_process = processes.Process(target=_serve_sink, args=(theirs,), daemon=True)
    sink_process.start()
    with tempfile.TemporaryDirectory() as tmp:
        app = bootstrap(db=f"sqlite:///{tmp}/notices.db", config_dir=CONFIG)
        upgrade(app.engine)
        sync_units(app.engine, app.org)
        start = datetime.fromisoformat("2025-03-03T08:00:00+08:00")
        # every full loop issues an assignment and a clearance notice (plus a return for one in ten)
        lines = list(enumerate(loop_events(args.notices // 2, start, "N"), start=1))
        apply_lines(app.engine, app.rules, lines, source="bench", now=start + timedelta(days=3))
        table = NoticeRow.__table__
        with unit_of_work(app.engine, write=False) as conn:
            rows = complete_contexts(conn, list(conn.execute(table.select().limit(args.notices))))
        contexts = [(r.kind, document_context(r.context, app.rules)) for r in rows]
        renderer = app.renderer
        port = ours.recv()  # the sink is up, so its start-up does not fall into the timings
        began = time.perf_counter()
        for kind, context in contexts:
            renderer.render(kind, context)
        render_s = time.perf_counter() - began

        began, cpu_began = time.perf_counter(), time.process_time()
        report = dispatch(
            SqlOutbox(app.engine),
            app.rules,
            SMTPBackend(f"smtp://127.0.0.1:{port}"),
            renderer,
            start + timedelta(days=3),
            delivery=app.delivery,
            clock=app.clock,
            limit=args.notices,
        )
        dispatch_s, dispatch_cpu_s = time.perf_counter() - began, time.process_time() - cpu_began
        ours.send("stop")
        received, distinct, sink_cpu_s = ours.recv()
        sink_process.join(timeout=30)
        with unit_of_work(app.engine, write=False) as conn:
            marked = conn.scalar(select(func.count()).select_from(table).where(table.c.status == "sent"))
            archived = conn.scalar(select(func.count()).select_from(NoticeArchiveRow.__table__))
        app.close()
    print(
        json.dumps(
            {
                "bench": "notices",
                "rendered": len(contexts),
                "render_per_s": round(len(contexts) / render_s),
                "dispatched": report.sent,
                "received": received,
                "distinct_message_ids": distinct,
                "marked_sent": marked,
                "archived": archived,
                "dispatch_per_s": round(report.sent / dispatch_s),
                # CPU per notice on each side: with other work on the machine the rate alone says little
                "dispatch_cpu_ms": round(1000 * dispatch_cpu_s / max(report.sent, 1), 2),
                "sink_cpu_ms": round(1000 * sink_cpu_s / max(received, 1), 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )
    expected = len(contexts)
    if not received == distinct == marked == archived == report.sent == expected:
        sys.exit(f"notices bench: expected {expected} sent, received, marked and archived; see the line above")


if __name__ == "__main__":
    main()
