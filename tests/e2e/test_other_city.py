"""An organisation unlike the default one (tests/fixtures/other_city): numeric administrative division codes written
as bare numbers, lower-case and dotted codes, a key area directly under the city, another time zone and ladder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.api import Accounts, running_server
from tests.support.fixtures import Cli, write_events

OTHER_CITY = Path(__file__).resolve().parents[1] / "fixtures" / "other_city"
NOW = "2026-03-02T12:00:00+01:00"


def _other_city(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("HAZARDLOOP_MAIL_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("HAZARDLOOP_SMTP_URL", raising=False)
    cli = Cli(db_url, tmp_path, OTHER_CITY)
    cli.ok("init")
    return cli


def _detected(ref: str, township: str, field: str, actor: str) -> dict[str, Any]:
    hazard = {"ref": ref, "title": f"{ref} <b>&'", "description": "d", "field": field, "severity": "general"}
    return {
        "type": "hazard.detected",
        "event_id": f"det-{ref}",
        "at": "2026-03-02T09:00:00+01:00",
        "actor": actor,
        "hazard": {**hazard, "township": township},
    }


def _copy_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "cfg"
    shutil.copytree(OTHER_CITY, folder)
    text = (folder / name).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    (folder / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_bare_numeric_codes_are_the_codes_they_read_as(db_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    cli = _other_city(db_url, tmp_path, monkeypatch)
    units = {u["code"]: u for u in cli.export(NOW)["units"]}
    assert units["330200"]["level"] == "city"
    assert units["330203001"]["parent"] == "330203"
    events = [
        _detected("N-1", "330203001", "fire", "330203001"),  # by code: the city's fire department answers
        _detected("N-2", "O'Brien & Sons 街道", "road", "330203"),  # by name: the county's road department
        _detected("N-3", "丹东街道", "road", "330225"),  # a county without departments: the city's
    ]
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", events)), now=NOW)
    routed = {h["ref"]: (h["unit"], h["township"], h["county"]) for h in cli.json("hazards", now=NOW)}
    assert routed == {
        "N-1": ("330200.fire", "城关镇", "海曙区"),
        "N-2": ("330203.road", "O'Brien & Sons 街道", "海曙区"),
        "N-3": ("330200.traffic", "丹东街道", "象山县"),
    }
    # a monitoring point whose township indicators.yaml names by a bare number raises its hazard there
    (tmp_path / "r.csv").write_text("point,instant,value\nmp.3,2026-03-02T08:00:00+01:00,0.05\n", encoding="utf-8")
    cli.ok("readings", str(tmp_path / "r.csv"), now=NOW)
    raised = cli.json("hazards", "--township", "330203001", "--unit", "330203001", now=NOW)
    assert [h["ref"] for h in raised] == ["MON-mp.3-20260302T070000Z"]


def test_a_village_named_by_code_is_stored_by_name_and_one_elsewhere_is_refused(
    db_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    cli = _other_city(db_url, tmp_path, monkeypatch)
    here = _detected("V-1", "城关镇", "misc", "330203001")
    here["hazard"]["village"] = "330203001001"
    cli.ok("apply", str(write_events(tmp_path / "v1.jsonl", [here])), now=NOW)
    assert cli.json("show", "V-1", now=NOW)["village"] == "D'Arcy村 <b>x</b>"
    elsewhere = _detected("V-2", "丹东街道", "misc", "330225")
    elsewhere["hazard"]["village"] = "D'Arcy村 <b>x</b>"
    result = cli("apply", str(write_events(tmp_path / "v2.jsonl", [elsewhere])), now=NOW)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "field 'hazard.village': D'Arcy村 <b>x</b> is not in 丹东街道" in result.stderr
    # a village org.yaml does not list is kept as written
    free = _detected("V-3", "丹东街道", "misc", "330225")
    free["hazard"]["village"] = "东门村"
    cli.ok("apply", str(write_events(tmp_path / "v3.jsonl", [free])), now=NOW)
    assert cli.json("show", "V-3", now=NOW)["village"] == "东门村"
    assert sorted(h["ref"] for h in cli.json("hazards", now=NOW)) == ["V-1", "V-3"]


def test_a_number_yaml_reads_otherwise_than_written_is_refused(tmp_path: Path) -> None:
    # YAML reads 0571 as the octal number 377: as a code it would silently become another one
    folder = _copy_with(tmp_path, "org.yaml", "{code: 330225, ", "{code: 0571, ")
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    line = next(i for i, text in enumerate((folder / "org.yaml").read_text().splitlines(), 1) if "0571" in text)
    assert f"org.yaml, line {line}:" in message
    assert "0571 as the number 377" in message and 'quotes ("0571")' in message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("written", ["330.2030", "NO"])  # a number; a YAML 1.1 boolean (also yes, on, off)
def test_a_number_where_text_is_expected_says_to_quote_it(tmp_path: Path, written: str) -> None:
    folder = _copy_with(tmp_path, "org.yaml", "{code: harbour, ", f"{{code: {written}, ")
    result = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, folder)("init")
    assert result.exit_code == 4, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "key 'units.12.code'" in message
    assert f'quotes ("{written}")' in message and "valid string" not in message
    assert not (tmp_path / "x.db").exists()


def test_a_rung_to_the_county_reaches_the_city_for_a_key_area_under_the_city(
    db_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """The other city's 约谈 rung goes ``to: county``; 北仑港区 sits directly under the city, whose office supervises it
    at county level (as it verifies and issues for it), so the notice goes there, not back to the area itself."""
    cli = _other_city(db_url, tmp_path, monkeypatch)
    # a field no department answers for: the area itself is responsible
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", [_detected("P-1", "harbour", "misc", "330200")])), now=NOW)
    cli.ok("sweep", now="2026-03-10T09:00:00+01:00")  # due Thu 03-05: two full working days overdue
    notices = cli.json("notices", "--hazard", "P-1", now="2026-03-10T09:00:00+01:00")
    interview = [n for n in notices if n["key"].endswith(":rung:interview:1")]
    assert len(interview) == 1
    assert interview[0]["recipient"] == "330200"
    assert interview[0]["to"] == ["city@nb.example.org"]


def test_accounts_see_their_own_jurisdiction_and_list_a_township_by_any_name(
    db_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """Over HTTP on the other city: each account sees only its subtree, and a supervisor lists a township by code or
    by name, also by a name holding a '/' (``</script>`` here), which the path carries as %2F."""
    cli = _other_city(db_url, tmp_path, monkeypatch)
    events = [
        _detected("J-1", "城关镇", "misc", "330203001"),
        _detected("J-2", "丹东街道", "misc", "330225"),
        _detected("J-3", "330225-area_1", "misc", "330225"),
        _detected("J-4", "harbour", "misc", "330200"),
        _detected("J-5", "城关镇", "misc", "330203001"),
    ]
    events[-1]["hazard"]["village"] = "330203001001"  # D'Arcy村 <b>x</b>, by its code
    cli.ok("apply", str(write_events(tmp_path / "d.jsonl", events)), now=NOW)
    accounts = Accounts(cli)
    for login, unit, roles in (
        ("city", "330200", "supervisor"),
        ("hs", "330203", "viewer"),
        ("xs", "330225", "viewer"),
        ("village", "330203001001", "viewer"),
        ("fire", "330200.fire", "staff"),
    ):
        accounts.add(login, unit, roles, f"{login} O'Neil")
    with running_server(cli.db, tmp_path, config=OTHER_CITY) as server:
        seen = {}
        for login, token in accounts.tokens.items():
            with server.client(token) as client:
                seen[login] = sorted(h["ref"] for h in client.get("/api/v1/hazards").json()["items"])
        assert seen == {
            "city": ["J-1", "J-2", "J-3", "J-4", "J-5"],
            "hs": ["J-1", "J-5"],
            "xs": ["J-2", "J-3"],
            "village": ["J-5"],  # its village named by its code is its village
            "fire": [],
        }
        with server.client(accounts.tokens["fire"]) as client:
            # a department has no analysis, and no scope it could name instead
            report = client.get("/api/v1/reports/weekly")
            assert report.status_code == 404
            assert "none is within its jurisdiction" in report.json()["detail"]
        with server.client(accounts.tokens["city"]) as client:
            for key in ("<script>alert(1)</script>园区", "O'Brien & Sons 街道", "harbour"):
                answer = client.post(f"/api/v1/townships/{quote(key, safe='')}/list", json={"reason": "整改不力 <&>"})
                assert answer.status_code == 200, (key, answer.text)
            listed = {x["township_code"] for x in cli.json("listings", "--active", now=NOW)}
            assert listed == {"330225-area_1", "330203002", "harbour"}
            delisted = client.post(
                f"/api/v1/townships/{quote('<script>alert(1)</script>园区', safe='')}/delist",
                json={"reason": "误挂", "force": True},
            )
            assert delisted.status_code == 200, delisted.text
            assert delisted.json()["township"]["code"] == "330225-area_1"


def test_the_ledger_names_the_units_directly_under_the_city_as_the_analysis_does(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from openpyxl import load_workbook

    cli = _other_city(db_url, tmp_path, monkeypatch)
    events = [
        _detected("L-1", "harbour", "misc", "harbour"),  # a key area directly under the city
        _detected("L-2", "O'Brien & Sons 街道", "misc", "330203"),
    ]
    cli.ok("apply", str(write_events(tmp_path / "l.jsonl", events)), now=NOW)
    cli.ok("ledger", "--out", str(tmp_path / "ledger.xlsx"), now=NOW)
    book = load_workbook(io.BytesIO((tmp_path / "ledger.xlsx").read_bytes()))
    assert "市直" in book.sheetnames and "其他" not in book.sheetnames
