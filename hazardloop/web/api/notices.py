"""``/notices``: the notices within the caller's jurisdiction, each as its document; send one again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from hazardloop.models.core.authz import Principal
from hazardloop.services import notices as service
from hazardloop.web.api.hazards import json_response
from hazardloop.web.api.schemas import COMMON, Notice, NoticeList, NoticeWithDocument, problems
from hazardloop.web.deps import application, current_principal

router = APIRouter(tags=["notices"])
Who = Annotated[Principal, Depends(current_principal)]
NoticeId = Annotated[int, Path(ge=1, le=2**62)]


@router.get(
    "/notices",
    summary="notices within the caller's jurisdiction",
    response_model=NoticeList,
    responses=problems(*COMMON, 404),
)
async def list_notices(
    request: Request,
    principal: Who,
    status: Annotated[str | None, Query(max_length=100, description="pending, sent, failed, dead")] = None,
    kind: Annotated[str | None, Query(max_length=200)] = None,
    hazard: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    page = await run_in_threadpool(
        lambda: service.list_page(
            application(request),
            principal,
            status=status,
            kind=kind,
            hazard=hazard,
            limit=limit,
            cursor=cursor,
            names=("status", "kind", "hazard"),
        )
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


@router.get(
    "/notices/{notice_id}",
    summary="one notice with its rendered document",
    response_model=NoticeWithDocument,
    responses=problems(*COMMON, 404),
)
async def show_notice(request: Request, principal: Who, notice_id: NoticeId) -> Response:
    return json_response(await run_in_threadpool(service.document, application(request), principal, notice_id))


@router.post(
    "/notices/{notice_id}/requeue",
    summary="send a failed or dead notice again",
    response_model=Notice,
    responses=problems(*COMMON, 403, 404, 409),
)
async def requeue(request: Request, principal: Who, notice_id: NoticeId) -> Response:
    return json_response(await run_in_threadpool(service.send_again, application(request), principal, notice_id))
