"""Building contract events for tests, on the default Shaoxing organisation."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

_ids = itertools.count(1)

TOWNSHIP = "府山街道"  # SX-YC-FS, in 越城区
TOWNSHIP_CODE = "SX-YC-FS"
COUNTY_CODE = "SX-YC"
FIRE_UNIT = "SX-YC-XF"  # 越城区消防救援大队 answers for fire in 越城区
CITY = "SX"
CN = "+08:00"


def eid(prefix: str = "ev") -> str:
    return f"{prefix}-{next(_ids)}"


def detected(
    ref: str,
    at: str,
    *,
    field: str = "fire",
    severity: str = "general",
    township: str = TOWNSHIP,
    actor: str = "SX-YC-FS/网格员",
    **more: Any,
) -> dict[str, Any]:
    hazard = {
        "ref": ref,
        "title": f"测试隐患 {ref}",
        "description": f"{township}发现的测试隐患 {ref}",
        "field": field,
        "severity": severity,
        "township": township,
        **more,
    }
    return {"type": "hazard.detected", "event_id": eid("det"), "at": at, "actor": actor, "hazard": hazard}


def event(kind: str, hazard: str, at: str, actor: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": eid(kind), "at": at, "actor": actor, "hazard": hazard, **fields}


def full_loop(
    ref: str, day: str = "2025-03-03", unit: str = FIRE_UNIT, verifier: str = TOWNSHIP_CODE, fail_once: bool = False
) -> list[dict[str, Any]]:
    """Detect → acknowledge → submit → (fail → submit) → pass, within a few hours of one working day."""
    events = [
        detected(ref, f"{day}T08:00:00+08:00"),
        event("hazard.acknowledged", ref, f"{day}T09:00:00+08:00", unit),
        event("rectification.submitted", ref, f"{day}T10:00:00+08:00", unit, note="已整改", evidence=["a.jpg"]),
    ]
    if fail_once:
        events += [
            event("verification.failed", ref, f"{day}T11:00:00+08:00", verifier, reason="整改不到位"),
            event("rectification.submitted", ref, f"{day}T12:00:00+08:00", unit, note="再次整改", evidence=[]),
        ]
    events.append(event("verification.passed", ref, f"{day}T15:00:00+08:00", verifier, note="核查合格"))
    return events


def at(text: str) -> datetime:
    """An instant written without an offset is local time in 绍兴 (+08:00)."""
    return datetime.fromisoformat(text + CN if "+" not in text else text)
