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
LEVEL_ORDER = tuple(LEVEL_NAMES)
SOURCES = ("网格巡查", "12345热线", "群众举报", "专项整治排查", "企业自查", "监测点预警", "物联感知")


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
