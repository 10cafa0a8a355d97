"""Benchmark: the full simulated year of `hazardloop demo` on a fresh SQLite database, as a child process.
Prints one JSON line: wall time, peak RSS of the child, and the summary's figures.

    python bench/demo.py [--days 365] [--seed 2025]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "HAZARDLOOP_MAIL_DIR": str(Path(tmp) / "outbox"),
            "HAZARDLOOP_REPORT_DIR": str(Path(tmp) / "reports"),
        }
        began = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hazardloop",
                "--db",
                f"sqlite:///{tmp}/demo.db",
                "demo",
                "--days",
                str(args.days),
                "--seed",
                str(args.seed),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall = time.perf_counter() - began
        if done.returncode != 0:
            print(json.dumps({"bench": "demo", "error": done.stderr[-2000:]}))
            sys.exit(1)
        summary = json.loads(done.stdout)
        mail = len(list((Path(tmp) / "outbox").glob("*.eml")))
        db_mb = sum(p.stat().st_size for p in Path(tmp).glob("demo.db*")) / 2**20
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "bench": "demo",
                "days": args.days,
                "seed": args.seed,
                "wall_s": round(wall, 1),
                "peak_rss_mb": round(peak, 1),
                "db_mb": round(db_mb, 1),
                "eml_files": mail,
                **{
                    k: summary[k]
                    for k in (
                        "detected",
                        "cleared",
                        "clearance_rate",
                        "on_time_rate",
                        "listed_townships",
                        "problems_handed_down",
                        "campaigns",
                        "hazards_escalated",
                        "notices",
                        "events",
                        "rejected",
                    )
                },
            }
        )
    )


if __name__ == "__main__":
    main()
