"""Hostile input in the bodies of requests, against a running ``hazardloop web`` on SQLite and PostgreSQL: the
console's forms answer with an HTML page whose Chinese message names the field (never JSON, a traceback, a 500 or a
503), nothing raw of what was sent reaches the page, and the API answers a body it cannot read, or one that gives a
key twice, with 422 naming it. The database is exactly as before throughout."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.console_browser import console_server, png_bytes, sign_in_over_http
from tests.support.factories import detected
from tests.support.fixtures import Cli, write_events

pytestmark = pytest.mark.timeout(600)
SHANGHAI = ZoneInfo("Asia/Shanghai")
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def _detect(cli: Cli, workdir: Path) -> str:
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    found = (now - timedelta(hours=1)).isoformat()
    cli.ok("apply", str(write_events(workdir / "hf.jsonl", [detected("HF-1", found)])), now=now.isoformat())
    return str(cli.json("show", "HF-1")["id"])


def _signed_in(base: str, login: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=60)
    return client, sign_in_over_http(client, login)


def _encoded(fields: list[tuple[str, str | bytes]]) -> bytes:
    """A URL-encoded body; a bytes value is sent as it is (already percent-encoded)."""
    return b"&".join(
        quote(name).encode() + b"=" + (value if isinstance(value, bytes) else quote(value).encode())
        for name, value in fields
    )


def _page(answer: httpx.Response, status: int, *words: str) -> None:
    """A console page, not JSON, with these words, and nothing raw a page may not carry."""
    shown = (answer.request.method, answer.request.url.path, answer.status_code, answer.text[:1500])
    assert answer.status_code == status, shown
    assert answer.headers["content-type"].startswith("text/html"), shown
    assert "Traceback" not in answer.text
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", answer.text), shown
    for word in words:
        assert word in answer.text, (word, shown)


def test_console_forms_refuse_hostile_input_with_a_page_naming_the_field(db_url: str, tmp_path: Path) -> None:
    with console_server(db_url, tmp_path) as console:
        console.add_account("hf", "SX-YC", "supervisor,staff,verifier,admin", "韩锋")
        hazard = _detect(console.cli, tmp_path)
        before = console.cli.export()
        client, csrf = _signed_in(console.base, "hf")
        act = f"/hazards/{hazard}"

        def post(path: str, fields: list[tuple[str, str | bytes]]) -> httpx.Response:
            return client.post(path, content=_encoded([("csrf_token", csrf), *fields]), headers=FORM)

        # a notice number the database cannot hold, or no number at all: no such notice (not a 500, nor JSON)
        for number in ("99999999999999999999999", "abc", "0"):
            _page(post(f"/notices/{number}/requeue", []), 404, "没有这个页面或记录")
            _page(client.get(f"/notices/{number}"), 404, "没有这个页面或记录")
        _page(client.get("/hazards", params={"page_no": "abc"}), 422, "page_no")
        _page(client.get("/hazards", params={"since": "yesterday"}), 200, "发现日期起（since）", "不是日期")
        # each refusal names the field, in Chinese and as the form calls it
        _page(post(f"{act}/request-extension", [("reason", "工期紧")]), 422, "延期天数（days）", "未填写")
        _page(post(f"{act}/request-extension", [("days", "²"), ("reason", "工期紧")]), 422, "延期天数（days）")
        _page(post(f"{act}/request-extension", [("days", "-5"), ("reason", "工期紧")]), 422, "延期天数（days）")
        _page(post(f"{act}/decide-extension", [("approved", "maybe"), ("reason", "同意")]), 422, "审批结果（approved）")
        _page(post(f"{act}/reassign", [("unit", "SX-YC-XF")]), 422, "理由（reason）")
        # an event id with NUL is refused before it is looked up (PostgreSQL cannot hold NUL: no 503)
        _page(post(f"{act}/invalidate", [("reason", "重复"), ("event_id", "console:\x00")]), 422, "event_id", "U+0000")
        # 上报隐患: the text rule before the duplicate search (which would send NUL to the database)
        report = [("title", "楼道堆物"), ("field", "fire"), ("township", "SX-YC-FS"), ("description", "堆放杂物")]
        _page(post("/report", [*report, ("ref", "HF-\x00")]), 422, "来源编号（ref）", "U+0000")
        escaped = post("/report", [*report[1:], ("title", "楼道\x1b[2J堆物")])
        _page(escaped, 422, "标题（title）", "U+001B", "楼道\ufffd[2J堆物")  # shown again, but not raw
        # bytes that are not UTF-8 are refused naming the field, not stored as U+FFFD
        _page(post("/report", [*report[1:], ("title", b"%ED%A0%80")]), 422, "标题（title）", "UTF-8")
        _page(post(f"{act}/fail", [("reason", b"%FF%FE")]), 422, "理由（reason）", "UTF-8")
        # a field past the form parser's limit (1 MB) is a page too, not the parser's JSON
        _page(post(f"{act}/fail", [("reason", "长" * 400_000)]), 422, "表单无法读取")
        # accounts: a login or name with a C1 control character or a line separator is refused
        account = [("unit", "SX-YC-FS"), ("roles", "staff")]
        _page(post("/admin/accounts", [*account, ("login", "new\x9bone"), ("name", "新人")]), 422, "登录名")
        _page(post("/admin/accounts", [*account, ("login", "newone"), ("name", "新\u2028人")]), 422, "姓名")
        _page(post("/admin/accounts", [*account, ("login", "newone"), ("name", "新\x7f人")]), 422, "姓名")
        # a unit outside the admin's jurisdiction is as absent as any other
        outside = [("unit", "SX-KQ"), ("roles", "staff"), ("login", "newone"), ("name", "新人")]
        _page(post("/admin/accounts", outside), 422, "单位（unit）", "jurisdiction")
        assert "newone" not in console.cli.ok("users", "list").stdout
        # more files than an event may name: refused before any is stored
        photos = [("files", (f"p{i}.png", png_bytes((i, 0, 0)), "image/png")) for i in range(101)]
        many = client.post(f"{act}/submit", data={"csrf_token": csrf, "note": "已整改"}, files=photos)
        _page(many, 422, "佐证材料（evidence）", "101")
        assert not list(tmp_path.rglob("*.png"))
        # an address or method no console route takes, and a body past the limit, are pages too
        _page(client.get("/no/such/page"), 404, "没有这个页面或记录")
        _page(post("/admin/accounts/a/b/disable", []), 404, "没有这个页面或记录")
        _page(client.get("/logout"), 405, "请求方式")
        big = b"x" * (11 * 1024 * 1024)
        _page(client.post("/report", content=big, headers={"content-type": "multipart/form-data; boundary=x"}), 413)
        assert client.get("/api/v1/no-such-thing").headers["content-type"].startswith("application/problem+json")
        client.close()
        assert console.cli.export() == before


def test_api_bodies_that_cannot_be_read_or_give_a_key_twice_are_refused_naming_it(db_url: str, tmp_path: Path) -> None:
    with console_server(db_url, tmp_path) as console:
        console.add_account("hf", "SX-YC", "supervisor,staff,verifier", "韩锋")
        hazard = _detect(console.cli, tmp_path)
        token = console.cli.ok("tokens", "create", "hf").stdout.strip().splitlines()[-1]
        console.add_account("city", "SX", "staff", "市平安办")  # readings are sent by a whole-organisation account
        readings_token = console.cli.ok("tokens", "create", "city").stdout.strip().splitlines()[-1]
        before = console.cli.export()
        cases: list[tuple[str, bytes, str | None, str]] = [
            # (address, body, the field named, words of the detail)
            (f"/hazards/{hazard}/invalidate", b'{"reason": "a", "reason": "b"}', "reason", "given twice"),
            (f"/hazards/{hazard}/invalidate", b'{"reason": "x", "event_id": "a\\u0000"}', "event_id", "U+0000"),
            (f"/hazards/{hazard}/invalidate", b'{"reason":' + b"[" * 10_000 + b"]" * 10_000 + b"}", None, "JSON"),
            (f"/hazards/{hazard}/request-extension", b'{"reason": "x", "days": ' + b"9" * 5000 + b"}", None, "JSON"),
            (f"/hazards/{hazard}/invalidate", b'{"reason": "\xff\xfe"}', None, "UTF-8"),
            ("/townships/SX-YC-FS/list", b'{"reason": "x", "force": false, "force": true}', "force", "given twice"),
        ]
        events = (
            b'[{"type": "hazard.invalidated", "type": "hazard.invalidated", "event_id": "hf-1", "hazard": "HF-1",'
            b' "at": "2026-01-01T08:00:00+08:00", "reason": "x"}]'
        )
        cases.append(("/events", events, "type", "given twice"))
        headers = {"Authorization": f"Bearer {token}", **JSON}
        with httpx.Client(base_url=console.base + "/api/v1", headers=headers, timeout=60) as api:
            for address, body, field, words in cases:
                answer = api.post(address, content=body)
                shown: Any = (address, body[:80], answer.status_code, answer.text[:500])
                assert answer.status_code == 422, shown
                assert answer.headers["content-type"].startswith("application/problem+json"), shown
                assert answer.json().get("field") == field and words in answer.json()["detail"], shown
            # a form, a file or an array where a JSON object belongs: what to send instead
            for body, kind in ((b"reason=x", "application/x-www-form-urlencoded"), (b"[1]", "application/json")):
                answer = api.post(f"/hazards/{hazard}/invalidate", content=body, headers={"content-type": kind})
                assert answer.status_code == 422 and "must be a JSON object" in answer.json()["detail"], answer.text
                assert kind in answer.json()["detail"], answer.text
            # readings in JSON Lines: nesting past the parser (a 500 before) and a key given twice (the last taken)
            city = {"Authorization": f"Bearer {readings_token}", "content-type": "application/x-ndjson"}
            deep = b'{"point":' + b"[" * 10_000 + b"]" * 10_000 + b"}\n"
            twice = b'{"point": "a", "point": "b", "instant": "2026-01-01T08:00:00+08:00", "value": 1}\n'
            lone = (
                b'{"point": "P\\ud800", "instant": "2026-01-01T08:00:00+08:00", "value": 1}\n'  # quoted: a 500 before
            )
            for body, field, words in (
                (deep, None, "nests too deeply"),
                (twice, "point", "given twice"),
                (lone, "point", "P\\ud800"),
            ):
                answer = api.post("/readings", content=body, headers=city)
                assert answer.status_code == 422, answer.text
                assert answer.json()["line"] == 1 and answer.json().get("field") == field, answer.text
                assert words in answer.json()["detail"], answer.text
            # numbers past the notices' INTEGER column, and a made-up hazard cursor holding NUL: no 500, no 503
            made_up = base64.urlsafe_b64encode(b'["2026-01-01T08:00:00+08:00", "HZ\\u0000"]').decode()
            for address, status in (
                ("/notices/4611686018427387904", 404),
                ("/notices?cursor=99999999999", 422),
                ("/notices?cursor=%C2%B2", 422),
                (f"/hazards?cursor={made_up}", 422),
            ):
                answer = api.get(address)
                assert answer.status_code == status, (address, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
        assert console.cli.export() == before
