"""`waypost serve` on the embedded default works its own outbox: no other process needed."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest_asyncio
from sqlalchemy import select

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.entrypoints.migrate import upgrade
from backend.models import AuditVerification, OutboxEvent
from tests.cli.test_cli import WAYPOST, _free_port
from tests.fixtures.background import eventually
from tests.fixtures.tenants import Tenant, seed_tenant

ADD_MEMBER = """mutation($ws: ID!) { addWorkspaceMember(input: {workspaceId: $ws,
  email: "new@x.io", role: VIEWER}) { errors { code } } }"""
STARTUP_SECONDS = 30.0
SHUTDOWN_SECONDS = 30.0


@pytest_asyncio.fixture(loop_scope="session")
async def embedded(tmp_path: Path) -> AsyncIterator[Database]:
    """The default database of a fresh directory (var/waypost.db), migrated, for inspection."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'waypost.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    yield db
    await db.dispose()


def _embedded_default_env() -> dict[str, str]:
    # No WAYPOST_* at all: the database and the broker are the built-in defaults.
    return {k: v for k, v in os.environ.items() if not k.startswith("WAYPOST_")}


async def _wait_until_serving(base: str, process: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as http:

        async def healthy() -> bool:
            if process.returncode is not None:
                output = await asyncio.to_thread(log.read_text)
                raise AssertionError(f"serve exited early:\n{output}")
            try:
                return (await http.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(healthy, within=STARTUP_SECONDS, interval=0.2)


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
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *WAYPOST,
            "serve",
            "--port",
            str(port),
            cwd=tmp_path,
            env=_embedded_default_env(),
            stdout=sink,
            stderr=sink,
        )
    try:
        await _wait_until_serving(base, process, log)
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
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), SHUTDOWN_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    output = log.read_text()
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
    assert "Finished server process" in output
    assert "Traceback" not in output
