"""Words and shapes the console's templates show: Chinese names of actions, notice kinds and statuses, and the
hazard and timeline views built from the services' dictionaries (instants already in the policy's zone)."""

from __future__ import annotations

from typing import Any

from hazardloop.models.core.notice_kinds import NOTICE_KINDS
from hazardloop.models.core.vocabulary import LEVEL_NAMES, STATE_NAMES
from hazardloop.web.evidence import reference_hash

from .render import local_text

ACTION_NAMES = {
    "hazard.detected": "上报隐患",
    "routed": "自动分拨交办",
    "hazard.assigned": "交办",
    "hazard.acknowledged": "签收",
    "hazard.reassigned": "转办",
    "extension.requested": "申请延期",
    "extension.decided": "延期审批",
    "rectification.submitted": "提交整改",
    "verification.passed": "核查通过，销号",
    "verification.failed": "核查未通过，退回整改",
    "hazard.invalidated": "作废",
    "hazard.escalated": "督办提级",
    "reminded": "催办",
    "supervised": "逾期督办",
    "elevated": "提级督办",
    "township.listed": "挂牌督办",
    "township.delisted": "摘牌",
}
NOTICE_KIND_NAMES = NOTICE_KINDS.titles
NOTICE_STATUS_NAMES = {
    "pending": "待发送",
    "sent": "已发送",
    "failed": "发送失败（将重试）",
    "dead": "发送失败（已放弃）",
}
STATE_ORDER = tuple(STATE_NAMES)
# The fields of the console's forms (and of the events behind them) as a message names them: "理由（reason）".
FIELD_NAMES = {
    "days": "延期天数",
    "reason": "理由",
    "note": "说明",
    "approved": "审批结果",
    "unit": "单位",
    "to": "督办层级",
    "evidence": "佐证材料",
    "files": "佐证材料",
    "event_id": "表单编号",
    "title": "标题",
    "description": "描述",
    "field": "领域",
    "severity": "严重程度",
    "township": "镇街",
    "village": "村（社区）",
    "address": "地址",
    "lat": "纬度",
    "lon": "经度",
    "latitude": "纬度",
    "longitude": "经度",
    "ref": "来源编号",
    "source": "来源",
    "campaign": "专项行动",
    "login": "登录名",
    "name": "姓名",
    "role": "角色",
    "roles": "角色",
    "current": "当前密码",
    "new": "新密码",
    "again": "确认新密码",
    "password": "密码",
    "force": "强制摘牌",
    "next": "跳转地址",
    "back": "返回地址",
}
_PLAIN_WORDS = {"is missing": "未填写", "must not be empty": "不能为空", "must be a whole number": "应为整数"}
LEVEL_ORDER = tuple(LEVEL_NAMES)
SOURCES = ("网格巡查", "12345热线", "群众举报", "专项整治排查", "企业自查", "监测点预警", "物联感知")


def field_label(field: str | None) -> str:
    """A problem's field as a person reads it: "理由（reason）" (``hazard.title``, ``--name`` and ``LOGIN`` too)."""
    if not field:
        return ""
    parts = [p.strip("-").lower() for p in str(field).split(".") if p.strip("-")]
    key = next((p for p in parts if p in FIELD_NAMES), parts[-1] if parts else str(field))
    return f"{FIELD_NAMES[key]}（{key}）" if key in FIELD_NAMES else key


def problem_words(exc: Exception) -> str:
    """An engine error in one line for a console message, each problem with the field it is about."""
    problems = getattr(exc, "problems", None)
    if not problems:
        label = field_label(getattr(exc, "field", None))
        return f"{label}：{exc}" if "（" in label else str(exc)  # a refusal about a form's field names it
    said = []
    for p in problems:
        message = _PLAIN_WORDS.get(p.message, p.message)
        label = field_label(p.field)
        said.append(f"{label}：{message}" if label else message)
    return "；".join(dict.fromkeys(said))


def hazard_view(h: dict[str, Any]) -> dict[str, Any]:
    """The service's hazard with the texts the pages show."""
    out = dict(h)
    for key in ("detected", "assigned", "acknowledged", "submitted", "cleared", "closed"):
        out[f"{key}_text"] = local_text(h.get(f"{key}_at"))
    out["due_text"] = local_text(h.get("due_at"), with_time=False)
    out.setdefault("pending_extension_reason", None)
    return out


def notice_view(n: dict[str, Any], tree: Any) -> dict[str, Any]:
    out = dict(n)
    out["kind_name"] = NOTICE_KIND_NAMES.get(n["kind"], n["kind"])
    out["status_name"] = NOTICE_STATUS_NAMES.get(n["status"], n["status"])
    out["created_text"] = local_text(n.get("created_at"))
    out["sent_text"] = local_text(n.get("sent_at")) if n.get("sent_at") else ""
    recipient = tree.units.get(n.get("recipient") or "")
    out["recipient_name"] = recipient.name if recipient else (n.get("recipient") or "—")
    return out


def _change(t: dict[str, Any], tree: Any) -> str:
    details = t.get("details") or {}
    parts = []
    if t["action"] in ("routed", "hazard.assigned", "hazard.reassigned") and details.get("unit"):
        unit = tree.units.get(details["unit"])
        parts.append(f"责任单位：{unit.name if unit else details['unit']}")
    if t.get("level") and t["action"] in ("elevated", "hazard.escalated", "supervised"):
        parts.append(f"督办级别：{LEVEL_NAMES.get(t['level'], t['level'])}")
    if "days" in details:
        parts.append(f"{details['days']}个工作日")
    if "approved" in details:
        parts.append("同意" if details["approved"] else "不同意")
    if details.get("due_at"):
        parts.append(f"整改期限：{local_text(details['due_at'], with_time=False)}")
    if details.get("location"):
        loc = details["location"]
        parts.append(f"位置：{loc.get('latitude')}, {loc.get('longitude')}")
    return "；".join(parts)


def timeline(h: dict[str, Any], tree: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The history, oldest first, each step with the notices it caused (a notice is written in the same transaction
    as its step, so it carries the step's recording instant); notices matched to no step are listed apart."""
    notices = [notice_view(n, tree) for n in h.get("notices", [])]
    by_instant: dict[str, list[dict[str, Any]]] = {}
    for n in notices:
        by_instant.setdefault(n.get("created_at") or "", []).append(n)
    steps = []
    used: set[int] = set()
    history = h.get("history", [])
    for i, t in enumerate(history):
        later_same = any(
            other.get("recorded_at") == t.get("recorded_at") for other in history[i + 1 :]
        )  # several steps of one transaction: the notices go with the last of them
        mine = [] if later_same else [n for n in by_instant.get(t.get("recorded_at") or "", []) if n["id"] not in used]
        used.update(n["id"] for n in mine)
        evidence = [d for d in (reference_hash(e) for e in (t.get("details") or {}).get("evidence", [])) if d]
        steps.append(
            {
                "label": ACTION_NAMES.get(t["action"], t["action"]),
                "at_text": local_text(t.get("at")),
                "actor": actor_name(t.get("actor") or "", tree),
                "reason": t.get("reason"),
                "change": _change(t, tree),
                "evidence": evidence,
                "notices": mine,
            }
        )
    loose = [n for n in notices if n["id"] not in used]
    return steps, loose


def actor_name(actor: str, tree: Any) -> str:
    """``SX-YC-FS/张三`` → ``府山街道 张三``; the engine's own steps are the system's."""
    if actor in ("system", ""):
        return "系统"
    code, _, person = actor.partition("/")
    unit = tree.units.get(code)
    return f"{unit.name} {person}".strip() if unit else actor


def evidence_of(h: dict[str, Any]) -> list[str]:
    """The evidence hashes named anywhere in the hazard's history, in order, each once."""
    found: list[str] = []
    for t in h.get("history", []):
        for ref in (t.get("details") or {}).get("evidence", []):
            digest = reference_hash(ref)
            if digest and digest not in found:
                found.append(digest)
    return found


def pending_extension_reason(h: dict[str, Any]) -> str | None:
    """The reason of the extension request waiting for a decision (the latest request in the history)."""
    if h.get("pending_extension_days") is None:
        return None
    asked = [t for t in h.get("history", []) if t["action"] == "extension.requested"]
    return asked[-1].get("reason") if asked else None
