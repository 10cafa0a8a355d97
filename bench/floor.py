"""The raw floor of the lifecycle benchmark: plain ``sqlite3`` writing the same state changes as ``hazardloop
apply`` does for the loop of ``bench/lifecycle.py`` (detect → acknowledge → submit → verify, 10 % failing once),
into the same schema (indexes included), with no engine in between.

Per event: its inbox row, its audit row(s) (a detection also records its routing), the hazard row (inserted at
detection, updated after), and the notice each step issues (assignment, verification request, return,
clearance) with a JSON context of the size the engine stores. One transaction per wave (all detections, then
all acknowledgements, …), in the same WAL / ``synchronous=NORMAL`` mode as the engine. Rows are made from
templates: no rules, no validation, no rendering — what is left is SQLite's own cost of storing the changes.

    python bench/floor.py --hazards 20000
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, os.environ.get("HAZARDLOOP_BENCH_TREE") or str(Path(__file__).resolve().parents[1]))

from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.store.db import upgrade

TREE = Path(sys.path[0])

_HAZARD_COLUMNS = (
    "id, ref, title, description, field, severity, township_code, county_code, source, reporter, state, "
    "unit_code, level, detected_at, updated_at, due_at, version, deadline_provisional, deadline_days, deadline_seq, "
    "reminded_seq, supervised_seq, assignment_seq, ack_reminded_seq, rework_count, extension_count, "
    "extension_days_granted, verify_seq, verify_reminded_seq, verify_supervised_seq, extension_reminded_seq, "
    "extension_supervised_seq"
)
_HAZARD_SET = "state = ?, unit_code = ?, rework_count = ?, acknowledged_at = ?, updated_at = ?, version = version + 1"
_EVENT_COLUMNS = "event_id, type, at, actor, hazard_id, digest, outcome, applied_at, payload"
_TRANSITION_COLUMNS = (
    "hazard_id, township_code, action, from_state, to_state, at, recorded_at, actor, event_id, details"
)
_NOTICE_COLUMNS = (
    "key, kind, hazard_id, township_code, issuer_code, recipient_code, cc_codes, to_addrs, cc_addrs, number, "
    "subject, context, status, attempts, created_at"
)


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _context(kind: str, hid: str, number: str) -> str:
    """A notice context of the engine's size (about 700 bytes of JSON)."""
    return json.dumps(
        {
            "kind": kind,
            "number": number,
            "issuer": {"name": "越城区", "code": "SX-YC"},
            "recipient": {"name": "府山街道", "code": "SX-YC-FS"},
            "cc_units": [],
            "date": "2025-03-03",
            "feedback_days": 2,
            "hazard": {
                "id": hid,
                "ref": "B-0",
                "title": "电动自行车违规室内充电",
                "description": "楼道内有电动自行车违规充电",
                "field": "fire",
                "field_name": "消防安全",
                "severity": "general",
                "county": "越城区",
                "township": "府山街道",
                "village": None,
                "address": None,
                "unit_name": "越城区消防救援大队",
                "state": "pending_verification",
                "detected_at": "2025-03-03T08:00:00+08:00",
                "due_date": "2025-03-12",
                "deadline_provisional": False,
                "level": "none",
                "rework_count": 0,
                "overdue_days": 0,
                "verify_due_date": "2025-03-06",
            },
            "note": "已整改",
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def run(n: int, workdir: Path) -> dict[str, object]:
    path = workdir / "floor.db"
    app = bootstrap(db=f"sqlite:///{path}", config_dir=TREE / "config")
    upgrade(app.engine)
    app.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=OFF")  # the engine's units are not loaded here
    start = datetime.fromisoformat("2025-03-03T08:00:00+08:00")
    now = _stamp(start + timedelta(days=3))
    ids = [f"HZ-2025-{i + 1:06d}" for i in range(n)]
    seq = {"n": 0}

    def number() -> str:
        seq["n"] += 1
        return f"越城平安〔2025〕{seq['n']}号"

    def notices(kind: str, picked: list[int], round_: int = 1) -> list[tuple[object, ...]]:
        out = []
        for i in picked:
            num = number()
            out.append(
                (
                    f"{kind}:{ids[i]}:{round_}",
                    kind,
                    ids[i],
                    "SX-YC-FS",
                    "SX-YC",
                    "SX-YC-FS",
                    "[]",
                    '["zzzx@fs.yc.sx.example.org"]',
                    "[]",
                    num,
                    f"【通知】{num} {ids[i]} 电动自行车违规室内充电",
                    _context(kind, ids[i], num),
                    "pending",
                    0,
                    now,
                )
            )
        return out

    def events(kind: str, suffix: str, picked: list[int], hours: int) -> list[tuple[object, ...]]:
        payload = '{"event_id":"B-%d-%s","type":"%s","hazard":"B-%d","note":"已整改","evidence":["p.jpg"]}'
        return [
            (
                f"B-{i}-{suffix}",
                kind,
                at(i, hours),
                "SX-YC-XF",
                ids[i],
                "0" * 40,
                "applied",
                now,
                payload % (i, suffix, kind, i),
            )
            for i in picked
        ]

    def at(i: int, hours: int) -> str:
        return _stamp(start + timedelta(seconds=i, hours=hours))

    def transitions(
        action: str, suffix: str, picked: list[int], hours: int, frm: str, to: str
    ) -> list[tuple[object, ...]]:
        return [
            (ids[i], "SX-YC-FS", action, frm, to, at(i, hours), now, "SX-YC-XF", f"B-{i}-{suffix}", "{}")
            for i in picked
        ]

    def update(picked: list[int], state: str, hours: int, rework: int = 0) -> list[tuple[object, ...]]:
        return [(state, "SX-YC-XF", rework, at(i, hours), now, ids[i]) for i in picked]

    everyone = list(range(n))
    failing = [i for i in everyone if i % 10 == 0]
    ins = {
        "events": f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * 9)})",
        "transitions": f"INSERT INTO transitions ({_TRANSITION_COLUMNS}) VALUES ({', '.join('?' * 10)})",
        "notices": f"INSERT INTO notices ({_NOTICE_COLUMNS}) VALUES ({', '.join('?' * 15)})",
        "hazards": f"INSERT INTO hazards ({_HAZARD_COLUMNS}) VALUES ({', '.join('?' * 32)})",
        "update": f"UPDATE hazards SET {_HAZARD_SET} WHERE id = ?",
    }
    waves = [
        ("hazard.detected", "d", everyone, 0, "detected", "assigned", "assignment", 1),
        ("hazard.acknowledged", "a", everyone, 1, "assigned", "rectifying", None, 0),
        ("rectification.submitted", "s", everyone, 2, "rectifying", "pending_verification", "verification_request", 1),
        ("verification.failed", "f", failing, 3, "pending_verification", "rectifying", "return", 1),
        ("rectification.submitted", "s2", failing, 4, "rectifying", "pending_verification", "verification_request", 2),
        ("verification.passed", "p", everyone, 5, "pending_verification", "cleared", "clearance", 1),
    ]
    # every wave's rows are made first: the timed part is SQLite's alone
    planned: list[list[tuple[str, list[tuple[object, ...]]]]] = []
    total = 0
    for kind, suffix, picked, hours, frm, to, notice, round_ in waves:
        writes = [("events", events(kind, suffix, picked, hours))]
        if suffix == "d":
            born = [
                (
                    ids[i],
                    f"B-{i}",
                    "电动自行车违规室内充电",
                    "楼道内有电动自行车违规充电",
                    "fire",
                    "general",
                    "SX-YC-FS",
                    "SX-YC",
                    "",
                    "SX-YC-FS",
                    "assigned",
                    "SX-YC-XF",
                    "none",
                    at(i, 0),
                    now,
                    at(i, 200),
                    1,
                    0,
                    7,
                    1,
                    *(0,) * 12,
                )
                for i in picked
            ]
            writes.append(("hazards", born))
            writes.append(("transitions", transitions(kind, suffix, picked, hours, None, "detected")))
            writes.append(("transitions", transitions("routed", suffix, picked, hours, "detected", "assigned")))
        else:
            writes.append(("update", update(picked, to, hours, int(suffix == "f"))))
            writes.append(("transitions", transitions(kind, suffix, picked, hours, frm, to)))
        if notice:
            writes.append(("notices", notices(notice, picked, round_)))
        planned.append(writes)
        total += len(picked)
    began, began_cpu = time.perf_counter(), time.process_time()
    for writes in planned:
        db.execute("BEGIN IMMEDIATE")
        for table, rows in writes:
            db.executemany(ins[table], rows)
        db.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    db.close()
    return {
        "bench": "floor",
        "what": "plain sqlite3: inbox, audit, hazard, notice rows made beforehand; one transaction per wave",
        "hazards": n,
        "events": total,
        "seconds": round(elapsed, 2),
        "events_per_s": round(total / elapsed),
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_s": round(total / cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hz-floor-") as tmp:
        print(json.dumps(run(args.hazards, Path(tmp)), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
