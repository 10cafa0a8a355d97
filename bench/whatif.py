"""Benchmark: what-if over a quarter of a database made by ``hazardloop demo`` (the whole simulated year first:
``hazardloop --db sqlite:///demo.db demo``). Replays the fourth quarter under the recorded policy (every measure
must equal what happened) and under a stricter one (deadlines of 5 and 15 working days, listing at 5 overdue),
and prints one JSON line each: seconds, events replayed, sweeps, and the measures real → what-if.

    python bench/whatif.py --db sqlite:///demo.db [--from 2025-10-01 --to 2025-12-31]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lifecycle import CONFIG, peak_rss_mb
from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.store.whatif import compare, outcome, replay


def run(db: str, first: date, last: date, label: str, policy: object) -> dict[str, object]:
    app = bootstrap(db=db, config_dir=CONFIG)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            account, scratch = replay(
                app.engine, app.policy, policy, app.org, first, last, f"sqlite:///{Path(tmp) / 'w.db'}"
            )
            real = outcome(app.engine, app.tree, account.start, account.end)
            replayed = outcome(scratch, app.tree, account.start, account.end)
            scratch.dispose()
            took = time.perf_counter() - t0
        result = compare(real, replayed, account.refused)
        return {
            "policy": label,
            "seconds": round(took, 1),
            "events": account.events,
            "sweeps": account.sweeps,
            "refused": result["refused"]["count"],
            "measures": {m["metric"]: [m["real"], m["what_if"]] for m in result["metrics"]},
            "notices_equal": all(n["real"] == n["what_if"] for n in result["notices"]),
            "peak_rss_mb": round(peak_rss_mb()),
        }
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--from", dest="first", default="2025-10-01")
    parser.add_argument("--to", dest="last", default="2025-12-31")
    args = parser.parse_args()
    first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
    app = bootstrap(db=args.db, config_dir=CONFIG)
    same = app.policy
    stricter = same.model_copy(
        update={
            "deadlines": same.deadlines.model_copy(update={"general": 5, "major": 15}),
            "listing": same.listing.model_copy(update={"max_overdue": 5}),
        }
    )
    app.close()
    for label, policy in (("recorded", same), ("stricter", stricter)):
        print(json.dumps(run(args.db, first, last, label, policy), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
