"""schemathesis against the published OpenAPI document of a real ``hazardloop web``: for generated requests to
every operation, with a valid token, no answer is a server error and every answer matches its documented status
code, content type and schema. The example count is kept small so that this runs in well under a minute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import Accounts, Server, detection, running_server
from tests.support.fixtures import Cli

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("schema")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAZARDLOOP_MAIL_DIR", str(tmp / "outbox"))
        cli = Cli(f"sqlite:///{tmp / 'schema.db'}", tmp)
        cli.ok("init")
        token = Accounts(cli).add("yc", "SX-YC", "staff,verifier,supervisor,viewer,admin", "李四")
        import json

        lines = [{**detection(f"S-{n}"), "actor": "SX-YC-FS-CQ/网格员"} for n in range(3)]
        cli.ok("apply", "-", input="\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
        with running_server(cli.db, tmp, {"HAZARDLOOP_AUTH_FAILURES_PER_MINUTE": "100000"}) as server:
            yield server, token


def test_every_operation_answers_as_documented(live: tuple[Server, str]) -> None:
    """Each operation in turn, a few generated cases each (schemathesis' strategies under hypothesis)."""
    server, token = live
    api = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    tried = 0
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        answers_as_documented()
        tried += 1
    assert tried >= 12


def test_the_document_lists_every_endpoint_of_the_contract(live: tuple[Server, str]) -> None:
    import httpx

    server, _token = live
    paths = httpx.get(server.url + "/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/events",
        "/api/v1/hazards",
        "/api/v1/hazards/{hazard}",
        "/api/v1/hazards/{hazard}/{action}",
        "/api/v1/townships/{township}/list",
        "/api/v1/townships/{township}/delist",
        "/api/v1/notices",
        "/api/v1/notices/{notice_id}",
        "/api/v1/notices/{notice_id}/requeue",
        "/api/v1/reports/{kind}",
        "/api/v1/ledger.xlsx",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
