"""Benchmark: notices. Renders N notices of every kind with the real templates (render/s), then dispatches N
queued notices through the real dispatcher to an aiosmtpd sink on loopback (sent/s). Prints one JSON line.

    python bench/notices.py [--notices 10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.controller import Controller

from bench.lifecycle import CONFIG, loop_events
from config.bootstrap import bootstrap
from models.db import unit_of_work, upgrade
from models.intake import apply_lines
from models.org_sync import sync_units
from models.store import NoticeRow
from notifications.dispatch import dispatch, document_context
from notifications.mailers import SMTPBackend


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=10_000)
    args = parser.parse_args()
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
            rows = list(conn.execute(table.select().limit(args.notices)))
        contexts = [(r.kind, document_context(r.context, app.rules)) for r in rows]
        renderer = app.renderer
        began = time.perf_counter()
        for kind, context in contexts:
            renderer.render(kind, context)
        render_s = time.perf_counter() - began

        sink = Sink()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            began = time.perf_counter()
            report = dispatch(
                app.engine,
                app.rules,
                SMTPBackend(f"smtp://127.0.0.1:{port}"),
                renderer,
                start + timedelta(days=3),
                limit=args.notices,
            )
            dispatch_s = time.perf_counter() - began
        finally:
            controller.stop()
        app.close()
    print(
        json.dumps(
            {
                "bench": "notices",
                "rendered": len(contexts),
                "render_per_s": round(len(contexts) / render_s),
                "dispatched": report.sent,
                "received": sink.count,
                "dispatch_per_s": round(report.sent / dispatch_s),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
