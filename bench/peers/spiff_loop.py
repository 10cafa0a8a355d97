"""Peer benchmark: the lifecycle loop of ``bench/lifecycle.py`` in SpiffWorkflow (BPMN, ``hazard_loop.bpmn``).

Each hazard is one workflow instance; each event loads the instance's serialized state from SQLite, completes
its user task (detect starts the instance; acknowledge, submit, verify; 10 % fail verification once and go back
to submit), and writes the state back. One transaction per wave (all detections, then all acknowledgements, …),
WAL with ``synchronous=NORMAL`` as the engine. What it stores is the workflow state only: no audit rows, no
notices, no inbox (hazardloop writes all three), so the comparison flatters the peer.

    bench/peers/.venv-spiff/bin/python bench/peers/spiff_loop.py --hazards 20000
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

BPMN = Path(__file__).with_name("hazard_loop.bpmn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=20_000)
    args = parser.parse_args()
    n = args.hazards
    bpmn = BpmnParser()
    bpmn.add_bpmn_file(str(BPMN))
    spec = bpmn.get_spec("hazard_loop")
    serializer = BpmnWorkflowSerializer()
    with tempfile.TemporaryDirectory(prefix="hz-spiff-") as tmp:
        db = sqlite3.connect(Path(tmp) / "spiff.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE workflows (hazard TEXT PRIMARY KEY, state TEXT NOT NULL)")
        everyone = list(range(n))
        failing = [i for i in everyone if i % 10 == 0]

        def step(picked: list[int], task_name: str, data: dict[str, object]) -> int:
            db.execute("BEGIN IMMEDIATE")
            for i in picked:
                (state,) = db.execute("SELECT state FROM workflows WHERE hazard = ?", (f"H-{i}",)).fetchone()
                wf = serializer.deserialize_json(state)
                (task,) = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.name == task_name]
                task.data.update(data)
                task.run()
                wf.do_engine_steps()
                db.execute("UPDATE workflows SET state = ? WHERE hazard = ?", (serializer.serialize_json(wf), f"H-{i}"))
            db.execute("COMMIT")
            return len(picked)

        began = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for i in everyone:  # detect: the instance starts and waits at 'acknowledge'
            wf = BpmnWorkflow(spec)
            wf.do_engine_steps()
            db.execute("INSERT INTO workflows VALUES (?, ?)", (f"H-{i}", serializer.serialize_json(wf)))
        db.execute("COMMIT")
        events = n
        events += step(everyone, "acknowledge", {})
        events += step(everyone, "submit", {})
        events += step(failing, "verify", {"passed": False})
        events += step(failing, "submit", {})
        events += step(everyone, "verify", {"passed": True})
        elapsed = time.perf_counter() - began
        done = db.execute("SELECT state FROM workflows").fetchall()
        finished = sum(serializer.deserialize_json(s).completed for (s,) in done[:100])
        assert finished == min(100, n), "every sampled workflow must have reached the end"
        db.close()
    print(
        json.dumps(
            {
                "bench": "peer",
                "engine": "spiffworkflow 3.2.0",
                "persistence": "SQLite WAL, synchronous=NORMAL; serialized workflow per hazard; one commit per wave",
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
