"""Who made a change, as the audit trail records it: a request id the server chose and
the caller's address, taken from X-Forwarded-For only when a configured proxy sent it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.entrypoints.http.plain import RequestIdMiddleware
from backend.models import AuditEvent
from backend.settings import Settings
from tests.fixtures.tenants import Tenant

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
ADD_MEMBER = """mutation($ws: ID!, $email: String!) {
  addWorkspaceMember(input: {workspaceId: $ws, email: $email, role: VIEWER}) {
    errors { code } } }"""


async def add_member(
    settings: Settings,
    database: Database,
    tenant: Tenant,
    email: str,
    *,
    headers: dict[str, str] | None = None,
    peer: tuple[str, int] = ("127.0.0.1", 50000),
) -> httpx.Response:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app, client=peer)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(
            "/graphql",
            json={"query": ADD_MEMBER, "variables": {"ws": tenant.ws_gid(0), "email": email}},
            headers={"Authorization": f"Bearer {tenant.token}", **(headers or {})},
        )
    assert response.json() == {"data": {"addWorkspaceMember": {"errors": []}}}
    return response


async def last_event(owner: AsyncEngine, tenant: Tenant) -> Any:
    async with owner.connect() as conn:
        statement = (
            select(AuditEvent.request_id, AuditEvent.ip)
            .where(AuditEvent.workspace_id == tenant.workspace_ids[0])
            .order_by(AuditEvent.sequence.desc())
            .limit(1)
        )
        return (await conn.execute(statement)).one()


async def test_the_audit_trail_never_takes_the_callers_request_id(
    settings: Settings, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    forged = "an-id-another-request-already-used"
    response = await add_member(
        settings, database, tenant_a, "ann@example.com", headers={"X-Request-Id": forged}
    )
    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.match(request_id)
    event = await last_event(inspector_engine, tenant_a)
    assert event.request_id == request_id
    assert event.request_id != forged


async def test_the_callers_sane_request_id_is_kept_beside_ours() -> None:
    async def show(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "request_id": request.state.request_id,
                "client_request_id": request.state.client_request_id,
            }
        )

    app = Starlette(routes=[Route("/", show)])
    transport = httpx.ASGITransport(app=RequestIdMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        sane = await http.get("/", headers={"x-request-id": "trace.from-the_caller.42"})
        insane = await http.get("/", headers={"x-request-id": "two words"})
        missing = await http.get("/")
    assert sane.json()["client_request_id"] == "trace.from-the_caller.42"
    assert insane.json()["client_request_id"] is None
    assert missing.json()["client_request_id"] is None
    for response in (sane, insane, missing):
        assert GENERATED_ID.match(response.json()["request_id"])
        assert response.headers["x-request-id"] == response.json()["request_id"]


@pytest.mark.parametrize("forwarded", ["203.0.113.7", "198.51.100.1, 203.0.113.7"])
async def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    forwarded: str,
) -> None:
    assert settings.trusted_proxies == ()
    await add_member(
        settings, database, tenant_a, "ann@example.com", headers={"X-Forwarded-For": forwarded}
    )
    assert (await last_event(inspector_engine, tenant_a)).ip == "127.0.0.1"


async def test_forwarded_for_is_believed_from_a_configured_proxy_only(
    settings: Settings, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    behind = settings.model_copy(update={"trusted_proxies": ("10.0.0.0/24",)})
    # The proxy appends the address it saw; what the caller wrote before it is theirs.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    await add_member(
        behind, database, tenant_a, "a@example.com", headers=spoofed, peer=("10.0.0.5", 1)
    )
    assert (await last_event(inspector_engine, tenant_a)).ip == "203.0.113.7"
    # The same header from outside the proxies' network is the caller's own claim.
    await add_member(
        behind, database, tenant_a, "b@example.com", headers=spoofed, peer=("10.0.1.5", 1)
    )
    assert (await last_event(inspector_engine, tenant_a)).ip == "10.0.1.5"
