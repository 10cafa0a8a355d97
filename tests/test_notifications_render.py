"""Rendering notices from the built-in templates: every kind, escaping, strictness, overrides, filters."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from hazardloop.models.core.notice_kinds import NOTICE_KINDS as REGISTRY
from hazardloop.notifications.rendering import (
    NOTICE_KINDS,
    NoticeRenderer,
    RenderedNotice,
    clause,
    cn_date,
    cn_datetime,
    level_name,
    office_title,
    percent,
    severity_name,
    state_name,
)

SHANGHAI = timezone(timedelta(hours=8))

# The reviewed golden files number these two with a shorter 代字 than the registry's (提督, 挂督); the sample
# context keeps their numbers so that the golden text stays the reviewed one.
_GOLDEN_PREFIXES = {"elevation": "提", "listing": "挂"}


def _sample_prefix(kind: str) -> str:
    return _GOLDEN_PREFIXES.get(kind) or REGISTRY[kind].prefix


def sample_hazard(**overrides: Any) -> dict[str, Any]:
    hazard: dict[str, Any] = {
        "id": "HZ-2025-000123",
        "ref": "WG-20251009-0042",
        "title": "仓桥社区某小区消防通道堵塞",
        "description": "小区3号楼北侧消防通道被电动自行车和杂物长期占用，\n消防车无法通行。",
        "field_name": "消防安全",
        "severity": "general",
        "county": "越城区",
        "township": "府山街道",
        "village": "仓桥社区",
        "address": "仓桥直街12号",
        "unit_name": "府山街道",
        "state": "rectifying",
        "detected_at": datetime(2025, 10, 9, 9, 15, tzinfo=SHANGHAI),
        "due_date": date(2025, 10, 20),
        "deadline_provisional": False,
        "level": "township",
        "rework_count": 0,
        "overdue_days": 0,
    }
    hazard.update(overrides)
    return hazard


def sample_context(kind: str, **overrides: Any) -> dict[str, Any]:
    """A complete context for `kind`, as the engine builds it; `overrides` replace top-level keys."""
    township = {"name": "府山街道", "code": "SX-YC-FS", "county": "越城区"}
    context: dict[str, Any] = {
        "kind": kind,
        "number": f"府山平安{_sample_prefix(kind)}〔2025〕12号",
        "issuer": {"name": "府山街道", "code": "SX-YC-FS"},
        "recipient": {"name": "府山街道仓桥社区", "code": "SX-YC-FS-CQ"},
        "cc_units": ["越城区平安办", "府山街道综治中心"],
        "date": date(2025, 10, 13),
        "feedback_days": 3,
        "hazard": sample_hazard(),
    }
    if kind == "reminder":
        context.update(remaining_days=1, reminder_reason="deadline")
    elif kind == "supervision":
        context["hazard"] = sample_hazard(overdue_days=2, due_date=date(2025, 10, 10))
    elif kind == "elevation":
        context["hazard"] = sample_hazard(overdue_days=3, level="county")
        context.update(new_level="county", reason="逾期3个工作日仍未整改到位", manual=False, actor_name=None)
    elif kind == "return":
        context["hazard"] = sample_hazard(rework_count=2)
        context.update(reason="消防通道仍有杂物堆放。", rework_count=2, due_date=date(2025, 10, 24))
    elif kind == "extension_decision":
        context["hazard"] = sample_hazard(due_date=date(2025, 10, 27))
        context.update(approved=True, days=5, reason="涉及车棚改建，工期较长", new_due_date=date(2025, 10, 27))
    elif kind == "clearance":
        context["hazard"] = sample_hazard(state="cleared")
        context.update(
            note="通道已清空并设置禁停标识",
            cleared_at=datetime(2025, 10, 12, 16, 5, tzinfo=SHANGHAI),
            verifier_name="府山街道综治中心",
        )
    elif kind == "verification_request":
        context["hazard"] = sample_hazard(state="pending_verification", unit_name="越城区消防救援大队")
        context.update(
            issuer={"name": "越城区", "code": "SX-YC"},
            recipient={"name": "府山街道", "code": "SX-YC-FS"},
            number="越城平安核〔2025〕12号",
            note="通道已清空并设置禁停标识",
            evidence_count=2,
            verify_by=date(2025, 10, 16),
            verify_provisional=False,
        )
    elif kind == "extension_request":
        context["hazard"] = sample_hazard(unit_name="越城区消防救援大队")
        context.update(
            issuer={"name": "越城区", "code": "SX-YC"},
            recipient={"name": "府山街道", "code": "SX-YC-FS"},
            number="越城平安延申〔2025〕12号",
            days=5,
            reason="涉及车棚改建，工期较长",
            decide_by=date(2025, 10, 15),
            decide_provisional=False,
        )
    elif kind == "listing":
        context.update(
            hazard=None,
            issuer={"name": "绍兴市", "code": "SX"},
            recipient={"name": "府山街道", "code": "SX-YC-FS"},
            number="绍兴平安挂〔2025〕3号",
            township=township,
            reason="逾期未整改隐患数量超过阈值，隐患销号率偏低",
            problems=["消防通道占用问题反复出现", "老旧小区电动自行车充电隐患整改滞后"],
            deadline=date(2025, 11, 30),
            manual=False,
            figures={"overdue": 14, "overdue_major": 2, "clearance_rate": 0.6234, "window_days": 30},
        )
    elif kind == "delisting":
        context.update(
            hazard=None,
            issuer={"name": "绍兴市", "code": "SX"},
            recipient={"name": "府山街道", "code": "SX-YC-FS"},
            number="绍兴平安摘〔2025〕1号",
            township=township,
            reason="交办的突出问题已全部整改到位，各项指标恢复正常",
            listed_on=date(2025, 9, 1),
            actor_name="绍兴市",
            actor_person="张三",
        )
    elif kind == "indicator_warning":
        context.update(
            hazard=None,
            issuer={"name": "绍兴市", "code": "SX"},
            recipient={"name": "绍兴市应急管理局", "code": "SX-YJJ"},
            number="绍兴平安预〔2025〕7号",
            indicator={
                "code": "I01",
                "name": "重大危险源储罐温度",
                "unit_of_measure": "℃",
                "direction": "higher_is_worse",
                "warning": 45.0,
                "breach": 60.0,
                "measure": "立即启动储罐喷淋降温，停止进出料作业",
                "project": "安全生产风险防控",
            },
            point={"code": "MP001", "name": "塔山1号监测点", "township": "塔山街道"},
            reading={"value": 52.5, "at": "2025-10-13T09:00:00+08:00", "at_cn": "2025年10月13日 09:00"},
        )
    context.update(overrides)
    return context


@pytest.fixture(scope="module")
def renderer() -> NoticeRenderer:
    return NoticeRenderer()


def _visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


# --- every kind ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_every_kind_renders_subject_text_and_html(renderer: NoticeRenderer, kind: str) -> None:
    context = sample_context(kind)
    notice = renderer.render(kind, context)

    assert isinstance(notice, RenderedNotice)
    assert "\n" not in notice.subject
    assert notice.subject.startswith("【")
    assert context["number"] in notice.subject
    for body in (notice.text, _visible_text(notice.html)):
        assert context["number"] in body
        assert "2025年10月13日" in body
        assert "抄送：越城区平安办，府山街道综治中心。" in body
        assert f"{context['recipient']['name']}：" in body
        assert "个工作日内" in body  # 反馈要求
    assert notice.html.lstrip().startswith("<!DOCTYPE html>")
    assert "<style" not in notice.html
    assert "max-width:180mm" in notice.html
    if context["hazard"] is not None:
        hazard = context["hazard"]
        assert hazard["id"] in notice.subject
        assert hazard["title"] in notice.subject
        for body in (notice.text, _visible_text(notice.html)):
            assert "HZ-2025-000123（来源编号：WG-20251009-0042）" in body
            assert "越城区府山街道仓桥社区 仓桥直街12号" in body
            assert "消防安全" in body
            assert "2025年10月9日 09:15" in body


def test_supervision_subject_names_document_number_and_hazard(renderer: NoticeRenderer) -> None:
    notice = renderer.render("supervision", sample_context("supervision"))

    assert notice.subject == "【督办通知书】府山平安督〔2025〕12号 HZ-2025-000123 仓桥社区某小区消防通道堵塞"
    assert "已逾期2个工作日" in notice.text
    assert "将按规定提级督办" in notice.text


def test_assignment_asks_for_rectification_by_the_deadline(renderer: NoticeRenderer) -> None:
    notice = renderer.render("assignment", sample_context("assignment"))

    for body in (notice.text, _visible_text(notice.html)):
        assert "隐患交办单" in body
        assert "于2025年10月20日前整改到位" in body
        assert "逾期未整改的，将按规定提级督办。" in body
        assert "府山街道平安建设办公室" in body
    assert "重大隐患，请你单位主要负责人" not in notice.text


def test_major_hazard_assignment_carries_the_major_hazard_paragraph(renderer: NoticeRenderer) -> None:
    context = sample_context("assignment", hazard=sample_hazard(severity="major"))
    notice = renderer.render("assignment", context)

    assert "该隐患为重大隐患" in notice.text
    assert "重大隐患" in _visible_text(notice.html)


def test_return_notice_shows_reason_and_rework_count(renderer: NoticeRenderer) -> None:
    notice = renderer.render("return", sample_context("return"))

    assert notice.subject.endswith("（第2次退回）")
    for body in (notice.text, _visible_text(notice.html)):
        assert "退回原因：消防通道仍有杂物堆放。" in body  # the trailing 。 of the reason is not doubled
        assert "返工次数" in body
        assert "于2025年10月24日前整改到位后重新申请核查" in body


def test_refused_extension_keeps_the_original_deadline(renderer: NoticeRenderer) -> None:
    context = sample_context(
        "extension_decision",
        approved=False,
        reason="理由不充分",
        new_due_date=None,
        hazard=sample_hazard(due_date=date(2025, 10, 20)),
    )
    notice = renderer.render("extension_decision", context)

    assert notice.subject.endswith("（不同意延期）")
    assert "不同意延期。理由：理由不充分。" in notice.text
    assert "于2025年10月20日前整改到位" in notice.text


def test_reminder_for_an_unacknowledged_hazard(renderer: NoticeRenderer) -> None:
    context = sample_context("reminder", reminder_reason="acknowledge", remaining_days=5)
    notice = renderer.render("reminder", context)

    assert notice.subject.endswith("（尚未签收）")
    assert "尚未签收。请你单位立即签收" in notice.text


def test_elevation_to_city_by_hand_names_the_actor(renderer: NoticeRenderer) -> None:
    context = sample_context(
        "elevation", new_level="city", manual=True, actor_name="绍兴市平安办", reason="群众反映强烈"
    )
    notice = renderer.render("elevation", context)

    assert notice.subject.endswith("（提级为市级督办）")
    assert "因群众反映强烈，经绍兴市平安办研究决定，自即日起提级为市级督办。" in notice.text
    assert "追究相关责任" in notice.text


def test_listing_shows_figures_and_numbered_problems(renderer: NoticeRenderer) -> None:
    notice = renderer.render("listing", sample_context("listing"))

    assert notice.subject == "【挂牌督办通知书】绍兴平安挂〔2025〕3号 越城区府山街道"
    for body in (notice.text, _visible_text(notice.html)):
        assert "绍兴市平安建设办公室" in body
        assert "对越城区府山街道实行提级挂牌督办" in body
        assert "14项" in body
        assert "62.3%" in body
        assert "1. 消防通道占用问题反复出现。" in body
        assert "2. 老旧小区电动自行车充电隐患整改滞后。" in body
        assert "于2025年11月30日前整改到位" in body


def test_listing_without_a_clearance_rate_says_no_data(renderer: NoticeRenderer) -> None:
    figures = {"overdue": 3, "overdue_major": 1, "clearance_rate": None, "window_days": 30}
    notice = renderer.render("listing", sample_context("listing", figures=figures, problems=[]))

    assert "暂无数据" in notice.text
    assert "交办如下" not in notice.text


def test_no_feedback_sentence_when_feedback_days_is_none(renderer: NoticeRenderer) -> None:
    notice = renderer.render("clearance", sample_context("clearance", feedback_days=None))

    assert "反馈要求" not in notice.text
    assert "反馈要求" not in notice.html


def test_no_copy_line_without_copy_units(renderer: NoticeRenderer) -> None:
    notice = renderer.render("assignment", sample_context("assignment", cc_units=[]))

    assert "抄送" not in notice.text
    assert "抄送" not in notice.html
    assert "2025年10月13日印发" in notice.text


# --- safety and strictness ------------------------------------------------------------------------------


def test_html_escapes_a_hazard_description_with_markup(renderer: NoticeRenderer) -> None:
    hazard = sample_hazard(description='<script>alert("x")</script> & 杂物', title="<b>标题</b>")
    notice = renderer.render("assignment", sample_context("assignment", hazard=hazard))

    assert "<script>" not in notice.html
    assert "&lt;script&gt;" in notice.html
    assert "&amp; 杂物" in notice.html
    assert "<b>标题</b>" not in notice.html
    # plain text and subject are not HTML: they keep the text as written
    assert '<script>alert("x")</script>' in notice.text
    assert "<b>标题</b>" in notice.subject


def test_description_line_breaks_survive_in_html(renderer: NoticeRenderer) -> None:
    notice = renderer.render("assignment", sample_context("assignment"))

    assert "长期占用，<br>\n消防车无法通行" in notice.html


def test_missing_context_key_raises(renderer: NoticeRenderer) -> None:
    context = sample_context("supervision")
    del context["hazard"]["overdue_days"]

    with pytest.raises(UndefinedError, match="overdue_days"):
        renderer.render("supervision", context)


def test_missing_kind_specific_key_raises(renderer: NoticeRenderer) -> None:
    context = sample_context("return")
    del context["reason"]

    with pytest.raises(UndefinedError, match="reason"):
        renderer.render("return", context)


def test_subject_is_one_line_even_with_a_newline_in_the_title(renderer: NoticeRenderer) -> None:
    hazard = sample_hazard(title="消防通道\r\nBcc: victim@example.org")
    notice = renderer.render("assignment", sample_context("assignment", hazard=hazard))

    assert "\n" not in notice.subject and "\r" not in notice.subject
    assert notice.subject.endswith("消防通道 Bcc: victim@example.org")


@pytest.mark.parametrize("kind", ["nonsense", "_base", "../etc/passwd", ""])
def test_unknown_kind_is_refused_by_name(renderer: NoticeRenderer, kind: str) -> None:
    with pytest.raises(ValueError, match="unknown notice kind") as excinfo:
        renderer.render(kind, sample_context("assignment"))
    assert repr(kind) in str(excinfo.value)


# --- deadlines, overrides, filters ----------------------------------------------------------------------


def test_provisional_deadline_is_marked(renderer: NoticeRenderer) -> None:
    hazard = sample_hazard(due_date=date(2026, 1, 30), deadline_provisional=True)
    notice = renderer.render("assignment", sample_context("assignment", hazard=hazard))

    for body in (notice.text, _visible_text(notice.html)):
        assert "2026年1月30日（暂定：节假日安排未公布）" in body


def test_firm_deadline_has_no_provisional_mark(renderer: NoticeRenderer) -> None:
    notice = renderer.render("assignment", sample_context("assignment"))

    assert "暂定" not in notice.text
    assert "暂定" not in notice.html


def test_hazard_without_deadline_or_village_still_renders(renderer: NoticeRenderer) -> None:
    hazard = sample_hazard(due_date=None, village=None, address=None, ref=None)
    notice = renderer.render("assignment", sample_context("assignment", hazard=hazard))

    assert "按规定期限整改到位" in notice.text
    assert "所在地点：越城区府山街道\n" in notice.text
    assert "来源编号" not in notice.text


def test_override_dir_shadows_one_template_only(tmp_path: Path) -> None:
    (tmp_path / "supervision.subject.txt").write_text("督办：{{ hazard.id }}", encoding="utf-8")
    renderer = NoticeRenderer(override_dir=tmp_path)

    overridden = renderer.render("supervision", sample_context("supervision"))
    untouched = renderer.render("assignment", sample_context("assignment"))

    assert overridden.subject == "督办：HZ-2025-000123"
    assert "督办通知书" in overridden.text  # the built-in body is still used
    assert untouched.subject.startswith("【隐患交办单】")


def test_override_dir_can_replace_the_shared_layout(tmp_path: Path) -> None:
    (tmp_path / "_base.txt").write_text("{{ number }}|{% block body %}{% endblock %}", encoding="utf-8")
    notice = NoticeRenderer(override_dir=tmp_path).render("delisting", sample_context("delisting"))

    assert notice.text.startswith("绍兴平安摘〔2025〕1号|")


def test_cn_date_formats_dates_and_datetimes_without_padding() -> None:
    assert cn_date(date(2025, 10, 13)) == "2025年10月13日"
    assert cn_date(date(2025, 3, 1)) == "2025年3月1日"
    assert cn_date(datetime(2025, 3, 1, 23, 59, tzinfo=SHANGHAI)) == "2025年3月1日"
    assert cn_date(datetime(2025, 3, 1, 0, 5)) == "2025年3月1日"


def test_cn_date_reads_iso_dates_and_refuses_what_is_not_a_date() -> None:
    # stored figures carry ISO dates; prose must never show them as they are (2026-03-02发现)
    assert cn_date("2026-03-02") == "2026年3月2日"
    with pytest.raises(TypeError, match="cn_date"):
        cn_date("3月2日")
    with pytest.raises(TypeError, match="cn_date"):
        cn_date(20260302)  # type: ignore[arg-type]


def test_cn_datetime_shows_local_hours_and_minutes() -> None:
    assert cn_datetime(datetime(2025, 10, 13, 14, 30, tzinfo=SHANGHAI)) == "2025年10月13日 14:30"
    assert cn_datetime(datetime(2025, 10, 13, 8, 5)) == "2025年10月13日 08:05"
    assert cn_datetime(date(2025, 10, 13)) == "2025年10月13日"  # type: ignore[arg-type]


def test_code_names() -> None:
    assert [level_name(x) for x in ("none", "township", "county", "city")] == [
        "未督办",
        "乡镇督办",
        "县级督办",
        "市级督办",
    ]
    assert severity_name("general") == "一般隐患"
    assert severity_name("major") == "重大隐患"
    assert [state_name(x) for x in ("detected", "assigned", "rectifying")] == [
        "待分拨",
        "已交办待签收",
        "整改中",
    ]
    assert [state_name(x) for x in ("pending_verification", "cleared", "invalid")] == [
        "待核查",
        "已销号",
        "已作废",
    ]
    with pytest.raises(ValueError, match="unknown supervision level 'province'"):
        level_name("province")


def test_office_title_percent_and_clause() -> None:
    assert office_title("府山街道") == "府山街道平安建设办公室"
    assert office_title("绍兴市平安办") == "绍兴市平安办"
    assert office_title("越城区综治中心") == "越城区综治中心"
    assert percent(0.8734) == "87.3%"
    assert percent(1) == "100.0%"
    assert clause("通道仍有杂物。 ") == "通道仍有杂物"
