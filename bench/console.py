"""Benchmark: server-side render time of the web console's main pages on a demo database.

The console runs in this process (``create_app`` under Starlette's test client: routing, session check, the
services' queries and the Jinja rendering, without a network in between), signed in through its own login page.
Measured: 工作台 of a responsible unit and of the city's supervisor, 隐患列表 page 1 and page 50 with filters (the
50th page reached through the cursors, then asked for again and again), and 隐患详情 of a hazard with a long history.
Target: p95 ≤ 150 ms per page. Prints one JSON document.

    python bench/console.py [--db demo-output/demo.db] [--days 90] [--repeat 40]

Without ``--db`` a demo database of ``--days`` simulated days is generated in a temporary folder first (the full
year, ``--days 365``, takes several minutes); with ``--db`` the file is copied, never changed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASSWORD = "bench-console-password"
TARGET_MS = 150.0


def demo_database(folder: Path, days: int) -> Path:
    db = folder / "demo.db"
    env = {
        **os.environ,
        "HAZARDLOOP_MAIL_DIR": str(folder / "outbox"),
        "HAZARDLOOP_REPORT_DIR": str(folder / "reports"),
    }
    subprocess.run(
        [sys.executable, "-m", "hazardloop.cli", "--db", f"sqlite:///{db}", "demo", "--days", str(days), "--json"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=folder,
    )
    return db


def copy_database(source: Path, folder: Path) -> Path:
    target = folder / "demo.db"
    for f in source.parent.glob(source.name + "*"):
        shutil.copy(f, folder / f.name.replace(source.name, "demo.db"))
    return target


def timed(client: Any, url: str, repeat: int, expect: str = "</html>") -> dict[str, Any]:
    client.get(url)  # warm: compiled templates, the engine's caches
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200 or expect not in response.text:
            raise SystemExit(f"{url} answered {response.status_code}: {response.text[:300]}")
    samples.sort()
    return {
        "url": url,
        "n": repeat,
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 1),
        "max_ms": round(samples[-1], 1),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a demo SQLite database (copied, not changed)")
    parser.add_argument("--days", type=int, default=90, help="simulated days when generating (default 90)")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from hazardloop.config.bootstrap import bootstrap
    from hazardloop.models.store import accounts
    from hazardloop.models.store.db import unit_of_work, upgrade
    from hazardloop.models.store.tables import HazardRow, TransitionRow
    from hazardloop.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        folder = Path(tmp)
        began = time.monotonic()
        db = copy_database(args.db.resolve(), folder) if args.db else demo_database(folder, args.days)
        generated_s = round(time.monotonic() - began, 1)
        app = bootstrap(db=f"sqlite:///{db}")
        upgrade(app.engine)
        _H, _T = HazardRow.__table__, TransitionRow.__table__
        with unit_of_work(app.engine) as conn:
            hazards = conn.execute(select(func.count()).select_from(_H)).scalar_one()
            busiest = conn.execute(
                select(_H.c.unit_code, func.count())
                .where(_H.c.state.in_(["assigned", "rectifying"]))
                .group_by(_H.c.unit_code)
                .order_by(func.count().desc())
                .limit(1)
            ).first()
            longest = conn.execute(
                select(_T.c.hazard_id, func.count())
                .where(_T.c.hazard_id.is_not(None))
                .group_by(_T.c.hazard_id)
                .order_by(func.count().desc())
                .limit(1)
            ).first()
            now = app.clock.now()
            for login, unit, roles in (
                ("bench-staff", busiest[0], ("staff",)),
                ("bench-city", app.tree.city.code, ("supervisor", "viewer")),
            ):
                if accounts.find_account(conn, login) is None:
                    accounts.add_account(
                        conn,
                        app.tree,
                        login=login,
                        name="压测",
                        unit_code=unit,
                        roles=roles,
                        password=PASSWORD,
                        now=now,
                    )
        web = create_app(app)
        results: dict[str, Any] = {}
        clients = {}
        for login in ("bench-staff", "bench-city"):
            client = TestClient(web, base_url="http://127.0.0.1")
            client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
            answer = client.post(
                "/login", data={"login": login, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
            )
            assert answer.status_code == 303, answer.text[:300]
            clients[login] = client
        staff, city = clients["bench-staff"], clients["bench-city"]
        results["worklist_staff"] = timed(staff, "/", args.repeat)
        results["worklist_city_supervisor"] = timed(city, "/", args.repeat)
        filters = "state=cleared&field=safety_production"
        results["hazard_list_page_1"] = timed(city, f"/hazards?{filters}", args.repeat, expect="<tbody>")
        url = f"/hazards?{filters}"
        pages = 1
        while pages < 50:
            found = re.search(r'href="(/hazards\?[^"]*cursor=[^"]+)"', city.get(url).text)
            if not found:
                break
            url, pages = found.group(1).replace("&amp;", "&"), pages + 1
        results[f"hazard_list_page_{pages}_filtered"] = timed(city, url, args.repeat, expect="<tbody>")
        results["hazard_detail"] = timed(city, f"/hazards/{longest[0]}", args.repeat, expect="办理过程")
        results["hazard_detail"]["history_steps"] = int(longest[1])
        app.close()
    worst = max(r["p95_ms"] for r in results.values())
    print(
        json.dumps(
            {
                "bench": "console",
                "database": str(args.db)
                if args.db
                else f"hazardloop demo --days {args.days} (generated in {generated_s} s)",
                "hazards": hazards,
                "pages": results,
                "target_p95_ms": TARGET_MS,
                "worst_p95_ms": worst,
                "met": worst <= TARGET_MS,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
