"""`waypost serve` on the embedded default works its own outbox: no other process needed."""

from __future__ import annotations

import signal
from pathlib import Path
from uuid import UUID

import httpx
from sqlalchemy import select

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import AuditVerification, OutboxEvent
from tests.cli.test_cli import WAYPOST, _free_port
from tests.fixtures.background import eventually
from tests.fixtures.embedded import serving
from tests.fixtures.tenants import Tenant, seed_tenant

ADD_MEMBER = """mutation($ws: ID!) { addWorkspaceMember(input: {workspaceId: $ws,
  email: "new@x.io", role: VIEWER}) { errors { code } } }"""


async def _outbox(db: Database, workspace: UUID) -> list[OutboxEvent]:
    async with db.transaction(TenantBinding(frozenset({workspace}))) as session:
        statement = select(OutboxEvent).where(OutboxEvent.workspace_id == workspace)
        return list((await session.scalars(statement)).all())


async def _checkpoint(db: Database, workspace: UUID) -> AuditVerification | None:
    async with db.transaction(TenantBinding(frozenset({workspace}))) as session:
        return await session.get(AuditVerification, (workspace, workspace))


async def test_serve_on_the_embedded_default_processes_outbox_events_and_stops_cleanly(
    tmp_path: Path, embedded: Database
) -> None:
    tenant: Tenant = await seed_tenant(embedded, "solo", workspaces=1)
    workspace = tenant.workspace_ids[0]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    command = [*WAYPOST, "serve", "--port", str(port)]
    async with serving(command, cwd=tmp_path, base=base, log=log) as process:
        # The schedule's first housekeeping pass leaves an empty checkpoint; waiting for
        # it means the checkpoint can only reach the mutation's event by the outbox.
        assert (await eventually(lambda: _checkpoint(embedded, workspace))).verified_sequence == 0

        async with httpx.AsyncClient(base_url=base, timeout=10.0) as http:
            response = await http.post(
                "/graphql",
                json={"query": ADD_MEMBER, "variables": {"ws": tenant.ws_gid(0)}},
                headers={"Authorization": f"Bearer {tenant.token}"},
            )
        assert response.json() == {"data": {"addWorkspaceMember": {"errors": []}}}

        async def processed() -> list[OutboxEvent]:
            events = await _outbox(embedded, workspace)
            return events if events and all(e.processed_at for e in events) else []

        [event] = await eventually(processed, within=20)
        assert event.event_type == "workspace_member.changed"
        assert event.dispatch_count >= 1
        checkpoint = await _checkpoint(embedded, workspace)
        assert checkpoint is not None
        assert (checkpoint.ok, checkpoint.verified_sequence) == (True, 1)
    output = log.read_text()
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
    assert "Finished server process" in output
    assert "Traceback" not in output
