"""The ``/api/v1`` routers, one module per topic; every route takes ``current_principal``."""

from __future__ import annotations

from fastapi import APIRouter

from hazardloop.web.api import me

router = APIRouter()
router.include_router(me.router)
