"""A mutation that would commit without exactly one audit event commits nothing at all."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit import recorder
from backend.models import AccountAuditEvent, Workspace
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

CREATE_WORKSPACE = """mutation($org: ID!) { createWorkspace(input: {organizationId: $org,
  name: "Unaudited"}) { workspace { id } errors { code } } }"""


async def _count(owner: AsyncEngine, model: Any) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("events", [0, 2])
async def test_a_mutation_with_other_than_one_audit_event_is_rolled_back_and_masked(
    events: int,
    gql: GraphQLClient,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = recorder.record

    async def record_wrongly(*args: Any, **kwargs: Any) -> Any:
        result = None
        for _ in range(events):
            result = await record(*args, **kwargs)
        return result

    monkeypatch.setattr(recorder, "record", record_wrongly)
    workspaces, trail = (
        await _count(inspector_engine, Workspace),
        await _count(inspector_engine, AccountAuditEvent),
    )
    body = await gql(
        CREATE_WORKSPACE, {"org": tenant_a.org_gid}, token=tenant_a.token, expect_errors=True
    )
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL"
    assert "audit" not in str(body)  # the reason stays in the server's log
    assert await _count(inspector_engine, Workspace) == workspaces
    assert await _count(inspector_engine, AccountAuditEvent) == trail
