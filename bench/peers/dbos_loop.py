"""Peer benchmark: the lifecycle loop of ``bench/lifecycle.py`` in DBOS Transact (durable workflows, SQLite
system database).

Each event is one durable workflow (``on_event``) whose one step moves the hazard's state in an application
table (plain ``sqlite3``, committed by the step) — the way DBOS runs an event handler exactly once. DBOS
checkpoints the workflow's start, the step's output and the workflow's end in its system database, each in its
own transaction: DBOS has no batch mode, so its durability is per event (several commits each), where
hazardloop's batch mode commits once per file. What it stores beyond DBOS's own records is the hazard's state
only: no audit rows, no notices (hazardloop writes both), so the comparison flatters the peer.

    bench/peers/.venv-dbos/bin/python bench/peers/dbos_loop.py --hazards 2000
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from dbos import DBOS, SetWorkflowID

_local = threading.local()
_APP_DB: list[str] = []

# the loop's moves: (event, state before, state after)
MOVES = {
    "detected": (None, "assigned"),
    "acknowledged": ("assigned", "rectifying"),
    "submitted": ("rectifying", "pending_verification"),
    "failed": ("pending_verification", "rectifying"),
    "passed": ("pending_verification", "cleared"),
}


def _app() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(_APP_DB[0], isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@DBOS.step()
def advance(hazard: str, event: str) -> str:
    before, after = MOVES[event]
    conn = _app()
    conn.execute("BEGIN IMMEDIATE")
    if before is None:
        conn.execute("INSERT INTO hazards VALUES (?, ?, 0)", (hazard, after))
    else:
        (state,) = conn.execute("SELECT state FROM hazards WHERE id = ?", (hazard,)).fetchone()
        if state != before:
            conn.execute("ROLLBACK")
            raise ValueError(f"{hazard}: {event} not allowed in {state}")
        conn.execute("UPDATE hazards SET state = ?, version = version + 1 WHERE id = ?", (after, hazard))
    conn.execute("COMMIT")
    return after


@DBOS.workflow()
def on_event(hazard: str, event: str) -> str:
    return advance(hazard, event)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=2000)
    args = parser.parse_args()
    n = args.hazards
    logging.getLogger("dbos").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="hz-dbos-") as tmp:
        _APP_DB.append(str(Path(tmp) / "app.db"))
        setup = sqlite3.connect(_APP_DB[0])
        setup.execute("CREATE TABLE hazards (id TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL)")
        setup.commit()
        setup.close()
        # the same durability as hazardloop's SQLite: WAL, synchronous=NORMAL (DBOS's default engine commits with
        # a full sync, which here costs tens of milliseconds a commit)
        system = sa.create_engine(f"sqlite:///{Path(tmp) / 'dbos.sqlite'}", connect_args={"timeout": 60})

        @sa.event.listens_for(system, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        DBOS(config={"name": "hazard-loop-bench", "system_database_engine": system, "log_level": "WARNING"})
        DBOS.launch()
        everyone = list(range(n))
        failing = [i for i in everyone if i % 10 == 0]
        waves = [
            ("detected", everyone),
            ("acknowledged", everyone),
            ("submitted", everyone),
            ("failed", failing),
            ("submitted", failing),
            ("passed", everyone),
        ]
        events = 0
        began = time.perf_counter()
        for wave, (event, picked) in enumerate(waves):
            for i in picked:
                # the workflow id is the event's idempotency key, as hazardloop's event_id
                with SetWorkflowID(f"H-{i}-{wave}"):
                    on_event(f"H-{i}", event)
            events += len(picked)
        elapsed = time.perf_counter() - began
        cleared = _app().execute("SELECT count(*) FROM hazards WHERE state = 'cleared'").fetchone()[0]
        assert cleared == n, f"{cleared} of {n} hazards cleared"
        DBOS.destroy()
    print(
        json.dumps(
            {
                "bench": "peer",
                "engine": "dbos 3.4.0",
                "persistence": "SQLite WAL, synchronous=NORMAL: DBOS system database + app table; commits per event",
                "hazards": n,
                "events": events,
                "seconds": round(elapsed, 2),
                "events_per_s": round(events / elapsed),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
