"""What the console refuses, in a real browser, on SQLite and PostgreSQL: another county's hazard is a plain 404 page
(its page, its evidence and its actions alike); a form without its CSRF token is refused and writes nothing; an upload
that is not a photo or PDF is refused with a clear message and stores nothing; failed logins are answered without
saying which half was wrong, and lock the account; the session cookie is HttpOnly and SameSite=Lax."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support.console_browser import PASSWORD, Console, console_server, jpeg_bytes
from tests.support.fixtures import pg_database

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp(f"console-guards-{request.param}")
    if request.param == "sqlite":
        urls: Any = iter([f"sqlite:///{workdir / 'hazardloop.db'}"])
        database = None
    else:
        database = pg_database()
        urls = iter([database.__enter__()])
    try:
        with console_server(next(urls), workdir, env={"HAZARDLOOP_LOGIN_MAX_FAILURES": "3"}) as running:
            running.add_account("liqiang", "SX-YC-FS", "staff", "李强")
            running.add_account("kq-sup", "SX-KQ", "supervisor,viewer", "柯桥督办")
            running.add_account("locked-out", "SX-YC-FS", "staff", "试错")
            yield running
    finally:
        if database is not None:
            database.__exit__(None, None, None)


def _hazard(console: Console, ref: str, photo: bytes | None = None) -> str:
    """A hazard of 府山街道 (越城区), acknowledged by its unit through the command line; with ``photo``, also submitted
    with that photo as evidence (stored where the server looks for it: beside the SQLite file, or in its folder)."""
    from hazardloop.web.evidence import EvidenceStore

    now = datetime.now().astimezone().isoformat(timespec="seconds")
    events: list[dict[str, Any]] = [
        {
            "type": "hazard.detected",
            "event_id": f"{ref}-1",
            "at": now,
            "actor": "SX-YC-FS",
            "hazard": {
                "ref": ref,
                "title": "府山街道仓库堆放易燃物",
                "description": "仓库内堆放大量纸箱。",
                "field": "other",
                "severity": "general",
                "township": "SX-YC-FS",
            },
        },
        {"type": "hazard.acknowledged", "event_id": f"{ref}-2", "at": now, "actor": "SX-YC-FS", "hazard": ref},
    ]
    if photo is not None:
        stored = EvidenceStore(console.workdir / "evidence").store(photo, "p.jpg")
        events.append(
            {
                "type": "rectification.submitted",
                "event_id": f"{ref}-3",
                "at": now,
                "actor": "SX-YC-FS",
                "hazard": ref,
                "note": "已清理。",
                "evidence": [stored.reference],
            }
        )
    path = console.workdir / f"{ref}.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    console.cli.ok("apply", str(path))
    return str(console.show(ref)["id"])


def test_another_countys_account_finds_no_such_hazard(console: Console, browser: Any) -> None:
    photo = jpeg_bytes((30, 30, 160))
    hazard = _hazard(console, "G-404", photo)
    digest = hashlib.sha256(photo).hexdigest()
    own = console.login(browser, "liqiang")
    own.goto(console.base + f"/hazards/{hazard}")
    assert own.request.get(console.base + f"/hazards/{hazard}/evidence/{digest}").status == 200
    stranger = console.login(browser, "kq-sup")
    response = stranger.goto(console.base + f"/hazards/{hazard}")
    assert response is not None and response.status == 404
    body = stranger.locator("main").inner_text()
    assert "未找到" in body and "仓库" not in body and hazard not in body
    # the same answer as for a hazard that does not exist at all
    missing = stranger.goto(console.base + "/hazards/HZ-2099-999999")
    assert missing is not None and missing.status == 404
    assert stranger.locator("main").inner_text() == body.replace(hazard, "HZ-2099-999999")
    for path in (f"/hazards/{hazard}/evidence/{digest}", f"/hazards/{hazard}/evidence/{digest}/thumb"):
        assert stranger.request.get(console.base + path).status == 404
    # acting on it through a form of one's own is the same 404, and changes nothing
    stranger.goto(console.base + "/")
    token = stranger.locator("input[name=csrf_token]").first.get_attribute("value")
    posted = stranger.request.post(
        console.base + f"/hazards/{hazard}/invalidate", form={"csrf_token": token, "reason": "不属实"}
    )
    assert posted.status == 404
    assert console.show(hazard)["state"] == "pending_verification"
    assert stranger.locator("#overdue").get_by_text(hazard).count() == 0


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(console: Console, browser: Any) -> None:
    hazard = _hazard(console, "G-CSRF")
    unit = console.login(browser, "liqiang")
    unit.goto(console.base + f"/hazards/{hazard}")
    form = {"note": "伪造的提交"}
    refused = unit.request.post(console.base + f"/hazards/{hazard}/submit", form=form)
    assert refused.status == 403
    assert "安全校验码" in refused.text()
    wrong = unit.request.post(console.base + f"/hazards/{hazard}/submit", form={**form, "csrf_token": "x" * 43})
    assert wrong.status == 403
    assert console.show(hazard)["state"] == "rectifying"
    # the login form has its own token: a login posted from elsewhere is refused too
    anonymous = browser.new_context().request
    login = anonymous.post(console.base + "/login", form={"login": "liqiang", "password": PASSWORD})
    assert login.status == 403


def test_an_upload_that_is_not_a_photo_is_refused_with_a_clear_message(console: Console, browser: Any) -> None:
    hazard = _hazard(console, "G-UPLOAD")
    unit = console.login(browser, "liqiang")
    unit.goto(console.base + f"/hazards/{hazard}")
    unit.fill("#submit-note", "已整改。")
    fake = b"MZ\x90\x00 this is a program, not a photo" * 20
    unit.set_input_files("#submit-files", [{"name": "整改照片.jpg", "mimeType": "image/jpeg", "buffer": fake}])
    with unit.expect_response(lambda r: r.url.endswith("/submit")) as answer:
        unit.locator("form[action$='/submit'] button[type=submit]").click()
    assert answer.value.status == 422
    message = unit.locator(".flash.error").inner_text()
    assert "整改照片.jpg" in message and "不是JPEG、PNG照片或PDF文件" in message
    assert console.show(hazard)["state"] == "rectifying"
    refused = hashlib.sha256(fake).hexdigest()
    assert not list(console.workdir.rglob(f"{refused}*"))  # nothing of it was stored
    # a truncated JPEG passes the magic bytes but not Pillow
    broken = jpeg_bytes()[:400]
    unit.set_input_files("#submit-files", [{"name": "半张.jpg", "mimeType": "image/jpeg", "buffer": broken}])
    unit.fill("#submit-note", "已整改。")
    unit.locator("form[action$='/submit'] button[type=submit]").click()
    unit.wait_for_load_state()
    assert "已损坏或无法读取" in unit.locator(".flash.error").inner_text()
    assert console.show(hazard)["state"] == "rectifying"


def test_failed_logins_say_nothing_about_which_half_was_wrong_and_lock_the_account(
    console: Console, browser: Any
) -> None:
    page = browser.new_context().new_page()
    for login in ("locked-out", "no-such-login"):
        page.goto(console.base + "/login")
        page.fill("#login", login)
        page.fill("#password", "wrong-password")
        with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as answer:
            page.click("form[action='/login'] button[type=submit]")
        assert answer.value.status == 401
        assert page.locator(".flash.error").inner_text() == "账号或密码不正确。"
    for _ in range(2):  # three wrong passwords in a row (HAZARDLOOP_LOGIN_MAX_FAILURES=3) lock the account
        page.fill("#login", "locked-out")
        page.fill("#password", "wrong-password")
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state()
    assert "已锁定" in page.locator(".flash.error").inner_text()
    page.fill("#login", "locked-out")
    page.fill("#password", PASSWORD)  # the right password does not open a locked account
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert page.url.startswith(console.base + "/login")
    assert "已锁定" in page.locator(".flash.error").inner_text()


def test_the_session_cookie_is_httponly_and_same_site_and_pages_need_it(console: Console, browser: Any) -> None:
    anonymous = browser.new_context().new_page()
    anonymous.goto(console.base + "/hazards?state=assigned")
    assert anonymous.url == console.base + "/login?next=%2Fhazards%3Fstate%3Dassigned"
    page = console.login(browser, "liqiang")
    cookie = next(c for c in page.context.cookies() if c["name"] == "hazardloop_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http on loopback; behind https (HAZARDLOOP_PUBLIC_URL) it is Secure
    assert page.evaluate("document.cookie").find("hazardloop_session") == -1
    # after logging out the same cookie opens nothing
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(console.base + "/login")
    page.context.add_cookies([cookie])
    page.goto(console.base + "/")
    assert page.url.startswith(console.base + "/login")


def test_changing_the_password_ends_the_other_sessions(console: Console, browser: Any) -> None:
    console.add_account("pw-change", "SX-YC-FS", "viewer", "改密")
    elsewhere = console.login(browser, "pw-change")
    page = console.login(browser, "pw-change")
    page.goto(console.base + "/password")
    page.fill("#current", "not-the-password")
    page.fill("#new", "a-new-password-1")
    page.fill("#again", "a-new-password-1")
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_load_state()
    assert "当前密码不正确" in page.locator(".flash.error").inner_text()
    page.fill("#current", PASSWORD)
    page.fill("#new", "a-new-password-1")
    page.fill("#again", "a-new-password-2")
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_load_state()
    assert "不一致" in page.locator(".flash.error").inner_text()
    page.fill("#current", PASSWORD)
    page.fill("#new", "a-new-password-1")
    page.fill("#again", "a-new-password-1")
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_url(console.base + "/")
    assert "密码已修改" in page.locator(".flash").inner_text()
    page.goto(console.base + "/hazards")
    assert page.url == console.base + "/hazards"  # this browser stays signed in
    elsewhere.goto(console.base + "/hazards")
    assert elsewhere.url.startswith(console.base + "/login")  # the other session has ended
