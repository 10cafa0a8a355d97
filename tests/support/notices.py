"""A complete, fixed rendering context for every notice kind, as the engine builds it: the golden files, the
renderer's tests and the mail tests all render from these."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from hazardloop.models.core.notice_kinds import NOTICE_KINDS as REGISTRY

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
