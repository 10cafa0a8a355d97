"""The ``/api/v1`` routers, one module per topic; every route takes ``current_principal``."""

from __future__ import annotations

from fastapi import APIRouter

from hazardloop.web.api import events, hazards, me, notices, readings, reports, townships

router = APIRouter()
for _module in (me, events, hazards, townships, notices, reports, readings):
    router.include_router(_module.router)
