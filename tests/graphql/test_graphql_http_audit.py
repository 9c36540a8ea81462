"""The graphql-http audit, as a frontend team runs it: every MUST and SHOULD of the
GraphQL-over-HTTP specification holds for a real server on loopback, with a token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.fixtures.node_clients import run_client
from tests.fixtures.sockets import serve
from tests.fixtures.tenants import Tenant


@pytest_asyncio.fixture(loop_scope="session")
async def address(settings: Settings, database: Database) -> AsyncIterator[str]:
    async with serve(create_app(settings, database=database)) as served:
        yield served


async def test_every_must_and_should_of_graphql_over_http_passes(
    address: str, tenant_a: Tenant
) -> None:
    results = await run_client(
        "graphql_http_audit.mjs", {"url": f"http://{address}/graphql", "token": tenant_a.token}
    )
    assert len(results) > 50  # the audit ran whole
    missed = [r for r in results if r["status"] != "ok" and not r["name"].startswith("MAY ")]
    assert missed == [], "\n".join(f"{r['id']} {r['name']}: {r['reason']}" for r in missed)
    assert {r["name"].split()[0] for r in results} >= {"MUST", "SHOULD"}
