"""A NUL or another control character in an address (a path or query parameter), on SQLite and PostgreSQL, against
a running ``hazardloop web``: 422 naming the parameter, in the API's problem JSON and as a console page, never the
database's own failure (PostgreSQL cannot hold NUL, and SQLite ends a search pattern at it and matches everything).
Searching still finds text as written, ``%`` and ``_`` included."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from hazardloop.models.core.errors import NotFound
from hazardloop.services import hazards as hazard_service
from hazardloop.services.identity import cli_principal
from tests.support.console_browser import PASSWORD, console_server, form_csrf, sign_in_over_http
from tests.support.factories import detected
from tests.support.fixtures import Cli, write_events

SHANGHAI = ZoneInfo("Asia/Shanghai")
NUL = "CC-1\x00"

# (method, address, query): each names the parameter that holds the control character
ADDRESSES: list[tuple[str, str, dict[str, str], str]] = [
    ("GET", "/api/v1/hazards", {"q": "消防\x00"}, "q"),
    ("GET", "/api/v1/hazards", {"q": "消防\x1b[31m"}, "q"),
    ("GET", "/api/v1/hazards", {"field": "fire\x00"}, "field"),
    ("GET", "/api/v1/hazards", {"township": "府山街道\n"}, "township"),
    ("GET", "/api/v1/hazards/CC-1%00", {}, "hazard"),
    ("POST", "/api/v1/hazards/CC-1%00/acknowledge", {}, "hazard"),
    ("GET", "/api/v1/notices", {"hazard": NUL}, "hazard"),
    ("GET", "/api/v1/reports/monthly", {"scope": "SX\x00"}, "scope"),
    ("GET", "/api/v1/ledger.xlsx", {"q": "\x00"}, "q"),
    ("POST", "/api/v1/townships/%E5%BA%9C%E5%B1%B1%E8%A1%97%E9%81%93%00/list", {}, "township"),
]


def _detect(cli: Cli, workdir: Path) -> None:
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    found = (now - timedelta(hours=2)).isoformat()
    events = [
        detected("CC-1", found, title="消防通道堵塞"),
        detected("CC-2", found, title="仓库100%_满载"),
    ]
    cli.ok("apply", str(write_events(workdir / "cc.jsonl", events)), now=now.isoformat())


def _token(cli: Cli, login: str) -> str:
    return str(cli.ok("tokens", "create", login).stdout.strip().splitlines()[-1])


def test_a_control_character_in_an_address_is_refused_naming_the_parameter(db_url: str, tmp_path: Path) -> None:
    with console_server(db_url, tmp_path) as console:
        console.add_account("cc", "SX", "supervisor,staff,verifier", "陈诚")
        token = _token(console.cli, "cc")
        _detect(console.cli, tmp_path)
        before = console.cli.export()
        with httpx.Client(base_url=console.base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
            for method, address, query, named in ADDRESSES:
                body: dict[str, Any] = {"reason": "核查"} if method == "POST" else {}
                answer = api.request(method, address, params=query, json=body if method == "POST" else None)
                assert answer.status_code == 422, (address, query, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
                problem = answer.json()
                assert problem["field"] == named, (address, problem)
                assert "control character" in problem["detail"] or "line break" in problem["detail"], problem
                assert "\x00" not in answer.text and "\x1b" not in answer.text
            # the search itself is untouched: % and _ are text, not wildcards
            found = {q: [h["ref"] for h in api.get("/api/v1/hazards", params={"q": q}).json()["items"]] for q in
                     ("消防", "%", "100%_", "_满")}  # fmt: skip
            assert found == {"消防": ["CC-1"], "%": ["CC-2"], "100%_": ["CC-2"], "_满": ["CC-2"]}
            # a body that is not JSON is said in words, not as a character position posing as a field
            broken = api.post(
                "/api/v1/hazards/CC-1/acknowledge", content=b"{", headers={"content-type": "application/json"}
            )
            assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"], broken.text
            assert "field" not in broken.json(), broken.text
            # the API names the period as its query parameter, not as the command line's option
            period = api.get("/api/v1/reports/monthly", params={"period": "2025-13"})
            assert period.status_code == 422 and period.json()["field"] == "period", period.text
        # without credentials the answer is the sign-in's, whatever the address holds
        assert httpx.get(console.base + "/api/v1/hazards", params={"q": "\x00"}).status_code == 401
        assert console.cli.export() == before

        with httpx.Client(base_url=console.base, timeout=30) as browser:
            sign_in_over_http(browser, "cc")
            for address in ("/hazards?q=%E6%B6%88%00", "/hazards/CC-1%00", "/notices?hazard=CC-1%00"):
                page = browser.get(address)
                assert page.status_code == 422, (address, page.text[:300])
                assert page.headers["content-type"].startswith("text/html"), page.headers
                assert "<title>请求有误" in page.text and "control character" in page.text, page.text[:2000]
            assert "消防通道堵塞" in browser.get("/hazards", params={"q": "消防"}).text
        # a sign-in with NUL in the login is an ordinary failed sign-in, not a database failure
        with httpx.Client(base_url=console.base, timeout=30) as stranger:
            csrf = form_csrf(stranger.get("/login").text)
            failed = stranger.post("/login", data={"login": "cc\x00", "password": PASSWORD, "csrf_token": csrf})
            assert failed.status_code in (200, 401), failed.text[:500]
            assert failed.headers["content-type"].startswith("text/html") and "登录" in failed.text
            assert "/login" in str(failed.url)


def test_a_hazard_key_holding_nul_names_no_hazard_on_either_database(app: Any) -> None:
    with pytest.raises(NotFound, match="no hazard has the id or source reference"):
        hazard_service.show(app, cli_principal(app), NUL)
