"""Schemathesis against the cloud's own OpenAPI document, on a real ``ems cloud`` with a real token.

Every operation gets generated requests, valid and invalid (hostile query
parameters and path segments included); checks: no 5xx, the content type and
the body of every documented response conform to the document. Deterministic
(derandomized) and bounded (a few tens of examples per operation).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from support.site import CloudSite, command


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    # Schemathesis sends hundreds of requests from one address: lift the HTTP limit here
    # (the limit itself is tested in test_attacks_input.py).
    env = {"EMS_HTTP_RATE_PER_S": "100000", "EMS_HTTP_BURST": "100000"}
    site = CloudSite(tmp_path_factory.mktemp("schemathesis"), env=env)
    site.create_accounts(("site-1",))
    try:
        site.start_cloud()
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="module")
def token(site: CloudSite) -> str:
    return site.token("olga")


@pytest.fixture(scope="module")
def api_schema(site: CloudSite, token: str) -> schemathesis.BaseSchema:
    # A command record to find, so /api/commands has something to describe.
    import asyncio

    async def one_command() -> None:
        ws = await site.ui()
        try:
            await ws.send(json.dumps(command()))
            await ws.recv()
        finally:
            await ws.close()

    asyncio.run(one_command())
    return schemathesis.openapi.from_url(site.http("/openapi.json"))


def _operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(
    api_schema: schemathesis.BaseSchema, token: str, mode: GenerationMode
) -> None:
    """Each operation in turn (schemathesis' own pytest glue does not run on pytest 9)."""
    operations = _operations(api_schema)
    assert len(operations) >= 6  # profiles, profile, edges, telemetry, commands, command, ...
    tested = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=25,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
                timeout=10,
            )

        try:
            run()
        except Unsatisfiable:
            # No parameters to break (GET /api/edges, /healthz): nothing negative to send.
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        tested += 1
    assert tested >= 4
