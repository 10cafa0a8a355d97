"""Benchmark: readings intake. N readings (default 220,000) of the default indicator set's 110 monitoring points,
one every 10 minutes per point in time order, mostly within bounds with occasional warning spells and breach
episodes (as a day's export of the monitoring platform would be), read in as one CSV file, all-or-nothing. Then
the same file again (every line a duplicate). Prints one JSON line per backend: readings/s, hazards raised,
warnings, and the time of the repeat.

    python bench/readings.py [--readings 220000] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lifecycle import CONFIG, drop, fresh_db, peak_rss_mb
from hazardloop.config.bootstrap import bootstrap
from hazardloop.models.core.indicators import IndicatorSet
from hazardloop.models.store.db import upgrade
from hazardloop.models.store.monitoring import ingest_lines
from hazardloop.models.store.org_sync import sync_units

START = datetime.fromisoformat("2025-10-01T00:00:00+08:00")


def reading_lines(indicators: IndicatorSet, n: int, seed: int = 7) -> list[tuple[int, str]]:
    """``n`` CSV lines (with the header as line 1): a random walk per point between its thresholds."""
    rng = random.Random(seed)
    points = indicators.points
    lines = [(1, "point,instant,value")]
    levels = {}
    for p in points:
        ind = indicators.indicator[p.indicator]
        warning = ind.warning if ind.warning is not None else ind.breach
        levels[p.code] = (ind, warning)
    per_point = -(-n // len(points))
    state = {p.code: 0.0 for p in points}  # 0 normal .. 1 warning .. 2 breach, walking
    for step in range(per_point):
        at = (START + timedelta(minutes=10 * step)).isoformat()
        for p in points:
            if len(lines) > n:
                break
            s = state[p.code] = min(2.4, max(0.0, state[p.code] + rng.gauss(0, 0.08) - 0.004 * state[p.code]))
            ind, warning = levels[p.code]
            base = warning - (ind.breach - warning) * 2  # a "normal" value on the right side of the thresholds
            value = base + (ind.breach - base) * s / 2
            lines.append((len(lines) + 1, f"{p.code},{at},{value:.3f}"))
    return lines


def run(backend: str, n: int, workdir: Path) -> dict[str, object]:
    url, size = fresh_db(backend, workdir)
    app = bootstrap(db=url, config_dir=CONFIG)
    try:
        upgrade(app.engine)
        sync_units(app.engine, app.org)
        lines = reading_lines(app.indicators, n)
        now = START + timedelta(days=400)
        t0 = time.perf_counter()
        report = ingest_lines(app.engine, app.rules, app.indicators, lines, source="bench.csv", now=now)
        took = time.perf_counter() - t0
        t1 = time.perf_counter()
        again = ingest_lines(app.engine, app.rules, app.indicators, lines, source="bench.csv", now=now)
        repeat = time.perf_counter() - t1
        return {
            "backend": backend,
            "points": len(app.indicators.points),
            "readings": report.readings,
            "seconds": round(took, 2),
            "readings_per_s": round(report.readings / took),
            "hazards_raised": len(report.hazards),
            "recovered": report.recovered,
            "warnings": report.warnings,
            "notices": report.notices,
            "repeat_duplicates": again.duplicates,
            "repeat_seconds": round(repeat, 2),
            "db_mb": round(size() / 1e6, 1),
            "peak_rss_mb": round(peak_rss_mb()),
        }
    finally:
        app.close()
        drop(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=220_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            print(json.dumps(run(backend, args.readings, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
