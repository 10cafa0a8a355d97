"""Townships and villages that share a name, as real organisations have them (tests/fixtures/same_names: a 城关镇 in
each county, a 东村 in each 城关镇): org.yaml accepts them, a detection tells them apart by code or by its county,
a name that could mean two units is refused saying how to name one, and each account sees exactly its own."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import Accounts, running_server
from tests.support.console_browser import sign_in_over_http
from tests.support.fixtures import Cli, write_events

SAME_NAMES = Path(__file__).resolve().parents[1] / "fixtures" / "same_names"
NOW = "2025-03-04T00:00:00+08:00"
PASSWORD = "correct horse battery"


def _detected(ref: str, township: str, actor: str, **more: Any) -> dict[str, Any]:
    hazard = {"ref": ref, "title": f"隐患 {ref}", "description": "排查发现。", "field": "other", "severity": "general"}
    return {
        "type": "hazard.detected",
        "event_id": f"det-{ref}",
        "at": "2025-03-03T08:00:00+08:00",
        "actor": actor,
        "hazard": {**hazard, "township": township, **more},
    }


def _same_names(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("HAZARDLOOP_SMTP_URL", raising=False)
    cli = Cli(db_url, tmp_path, SAME_NAMES)
    cli.ok("init")
    good = [
        _detected("S-1", "城关镇", "NZ-D", county="东县", village="东村"),  # by name, told apart by its county
        _detected("S-2", "城关镇", "NZ-X", county="NZ-X", village="东村"),  # the county by code
        _detected("S-3", "NZ-X-CG", "NZ-X", village="NZ-X-CG-DC"),  # by code, the village too
    ]
    cli.ok("apply", str(write_events(tmp_path / "good.jsonl", good)), now=NOW)
    return cli


def test_same_named_townships_and_villages_are_told_apart_and_an_ambiguous_name_is_refused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = _same_names(db_url, tmp_path, monkeypatch)
    placed = {h["ref"]: (h["township"], h["county"], h["village"]) for h in cli.json("hazards", now=NOW)}
    assert placed == {
        "S-1": ("城关镇", "东县", "东村"),
        "S-2": ("城关镇", "西县", "东村"),
        "S-3": ("城关镇", "西县", "东村"),
    }
    codes = {h["ref"]: h["id"] for h in cli.json("hazards", now=NOW)}
    west = {h["ref"] for h in cli.json("hazards", "--township", "NZ-X-CG", now=NOW)}
    assert west == {"S-2", "S-3"}
    assert cli.json("show", "S-1", now=NOW)["id"] == codes["S-1"]

    before = cli.export(NOW)
    bad = [
        _detected("B-1", "城关镇", "NZ"),  # which 城关镇?
        _detected("B-2", "NZ-D-HX", "NZ", village="东村"),  # 河西镇 has no 东村; two others do
        _detected("B-3", "NZ-D-CG", "NZ", county="西县"),  # 东县's 城关镇 is not in 西县
        _detected("B-4", "城关镇", "NZ", county="南县"),  # no such county
    ]
    refused = cli("apply", str(write_events(tmp_path / "bad.jsonl", bad)), now=NOW)
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    said = refused.stderr
    ambiguous = "'城关镇' is the name of 2 units in org.yaml; give the unit's code, or the county it is in"
    assert f"line 1, field 'hazard.township': {ambiguous}" in said
    assert "line 2, field 'hazard.village': 东村 is not in 河西镇" in said
    assert "line 3, field 'hazard.county': 东县 城关镇 is not in 西县" in said
    assert "line 4, field 'hazard.county': '南县' is not a county in org.yaml" in said
    # the analysis tells the two apart in its rows (and so in its charts)
    figures = cli.json("report", "monthly", "--period", "2025-03", now="2025-04-02T09:00:00+08:00")
    rows = {row["name"]: row for row in figures["by_township"]}
    assert {"东县 城关镇", "西县 城关镇", "河西镇"} <= rows.keys()
    assert (rows["东县 城关镇"]["new"], rows["西县 城关镇"]["new"]) == (1, 2)
    asked = cli("hazards", "--township", "城关镇", now=NOW)
    assert asked.exit_code == 2 and "'城关镇' is the name of 2 units" in asked.stderr
    assert cli.export(NOW) == before

    # a name is unique among one parent's units: a second 城关镇 in 东县 is refused at start, naming its line
    folder = tmp_path / "cfg"
    shutil.copytree(SAME_NAMES, folder)
    org = (folder / "org.yaml").read_text(encoding="utf-8")
    twin = "  - {code: NZ-D-CG2, name: 城关镇, level: township, parent: NZ-D, emails: [cg2@d.nz.example.org]}\n"
    (folder / "org.yaml").write_text(org.replace("  - {code: NZ-D-HX", twin + "  - {code: NZ-D-HX", 1), "utf-8")
    line = 1 + (folder / "org.yaml").read_text(encoding="utf-8").splitlines().index(twin.rstrip("\n"))
    broken = Cli(cli.db, tmp_path, folder)("init")
    assert broken.exit_code == 4
    assert f"org.yaml, line {line}" in broken.stderr and "NZ-D-CG" in broken.stderr and "same parent" in broken.stderr


def test_each_account_sees_its_own_same_named_township_and_village(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = _same_names(db_url, tmp_path, monkeypatch)
    accounts = Accounts(cli)
    accounts.add("east-village", "NZ-D-CG-DC", "staff", "李村")  # 东县 城关镇 东村's station
    accounts.add("west-county", "NZ-X", "supervisor,viewer", "王县")
    accounts.add("city", "NZ", "supervisor,viewer", "赵市")
    env = {"HAZARDLOOP_CONSOLE": "true"}
    with running_server(db_url, tmp_path, env=env, config=SAME_NAMES) as server:

        def refs(login: str) -> set[str]:
            with server.client(accounts.tokens[login]) as client:
                answer = client.get("/api/v1/hazards")
                assert answer.status_code == 200, answer.text
                return {h["ref"] for h in answer.json()["items"]}

        # the station of 东县's 东村 sees its own village's hazard, not 西县's 东村
        assert refs("east-village") == {"S-1"}
        assert refs("west-county") == {"S-2", "S-3"}
        assert refs("city") == {"S-1", "S-2", "S-3"}
        with server.client(accounts.tokens["east-village"]) as client:
            assert client.get("/api/v1/hazards/S-2").status_code == 404
            # a township outside the area is answered as one that does not exist, in the same words
            outside = client.get("/api/v1/hazards", params={"township": "NZ-X-CG"})
            unknown = client.get("/api/v1/hazards", params={"township": "NZ-NOPE"})
            assert outside.status_code == unknown.status_code == 422
            assert outside.json()["detail"].replace("NZ-X-CG", "X") == unknown.json()["detail"].replace("NZ-NOPE", "X")
            own = client.get("/api/v1/hazards", params={"township": "城关镇"})  # the name: its own 城关镇
            assert own.status_code == 200 and {h["ref"] for h in own.json()["items"]} == {"S-1"}
            sheet = client.get("/api/v1/ledger.xlsx", params={"township": "NZ-X-CG"})
            assert sheet.status_code == 422 and sheet.json()["field"] == "township"
        # within 西县 the name means one township; for the city it could mean two
        with server.client(accounts.tokens["west-county"]) as client:
            mine = client.get("/api/v1/hazards", params={"township": "城关镇"})
            assert mine.status_code == 200 and {h["ref"] for h in mine.json()["items"]} == {"S-2", "S-3"}
            listed = client.post("/api/v1/townships/城关镇/list", json={"reason": "逾期隐患较多"})
            assert listed.status_code == 200, listed.text
            assert listed.json()["township"] == {"code": "NZ-X-CG", "name": "城关镇"}
        with server.client(accounts.tokens["city"]) as client:
            which = client.post("/api/v1/townships/城关镇/delist", json={"reason": "整改到位"})
            assert which.status_code == 422, which.text
            assert which.json()["field"] == "township" and "give the unit's code" in which.json()["detail"]
        # the console's lists tell the two apart by their county
        with httpx.Client(base_url=server.url, timeout=30) as browser:
            sign_in_over_http(browser, "city", PASSWORD)
            page = browser.get("/hazards").text
            assert ">东县 城关镇<" in page and ">西县 城关镇<" in page
