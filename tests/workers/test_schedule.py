"""The schedule's housekeeping, per workspace: it checks audit chains (admins see what it
found) and purges maps deleted longer ago than their restore window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.audit.verify import verify_workspace_increment
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.models import AuditEvent, JourneyMap, Stage
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.audited import record_note
from tests.fixtures.background import eventually
from tests.fixtures.databases import configured_broker_url
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant, add_guest
from workers.background import Background

EVENTS = AuditEvent.__table__
CHECK = """query($ws: ID!) { workspace(id: $ws) {
  auditChainCheck { ok verifiedSequence problem checkedAt } } }"""


async def _append_events(database: Database, ws: UUID, count: int) -> None:
    """Audited changes with no outbox event: nothing but the schedule looks at them."""
    async with database.transaction(TenantBinding(frozenset({ws})), write=True) as session:
        audit.bind_actor(session, Actor.system())
        for n in range(count):
            await record_note(session, ws, f"note {n}")


async def _last_sequence(owner: AsyncEngine, ws: UUID) -> int:
    async with owner.connect() as conn:
        last = await conn.scalar(
            select(func.max(EVENTS.c.sequence)).where(EVENTS.c.workspace_id == ws)
        )
    return int(last or 0)


async def _check(gql: GraphQLClient, tenant: Tenant, index: int) -> dict[str, Any] | None:
    body = await gql(CHECK, {"ws": tenant.ws_gid(index)}, token=tenant.token)
    check: dict[str, Any] | None = body["data"]["workspace"]["auditChainCheck"]
    return check


async def test_the_schedule_verifies_every_workspace_and_flags_a_tampered_chain(
    settings: Settings,
    database: Database,
    inspector_engine: AsyncEngine,
    gql: GraphQLClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:
    workspaces = [(t, i) for t in (tenant_a, tenant_b) for i in range(len(t.workspace_ids))]
    for tenant, index in workspaces:
        await _append_events(database, tenant.workspace_ids[index], 2 + index)
        assert await _check(gql, tenant, index) is None  # never checked yet
    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "audit_verify_interval_seconds": 0.5}
    )
    async with Background(worker_settings, database, run_workers=True):
        for tenant, index in workspaces:
            last = await _last_sequence(inspector_engine, tenant.workspace_ids[index])

            async def verified(
                tenant: Tenant = tenant, index: int = index, last: int = last
            ) -> Any:
                check = await _check(gql, tenant, index)
                return check if check and check["verifiedSequence"] == last else None

            check = await eventually(verified, within=20)
            assert (check["ok"], check["problem"]) == (True, None)

    # Two more events, the first edited behind the application's back. The schedule is
    # stopped meanwhile: it checks only links added since its last check (whole chains
    # are `waypost audit verify`'s), so a check between the append and the edit would
    # take the event as sound before it is edited.
    ws = tenant_a.workspace_ids[0]
    verified_up_to = await _last_sequence(inspector_engine, ws)
    await _append_events(database, ws, 2)
    async with inspector_engine.begin() as conn:
        await conn.execute(
            update(EVENTS)
            .where((EVENTS.c.workspace_id == ws) & (EVENTS.c.sequence == verified_up_to + 1))
            .values(action="note.delete")
        )
    async with Background(worker_settings, database, run_workers=True):

        async def flagged() -> Any:
            check = await _check(gql, tenant_a, 0)
            return check if check and not check["ok"] else None

        check = await eventually(flagged, within=20)
        assert check["problem"] == f"event {verified_up_to + 1} was changed after writing"
        assert check["verifiedSequence"] == verified_up_to  # the good part stays verified
        # The other workspaces' chains are still sound.
        assert (await _check(gql, tenant_a, 1) or {}).get("ok") is True


async def test_an_event_edited_after_the_hourly_check_passed_it_is_found_by_the_full_check(
    settings: Settings,
    database: Database,
    inspector_engine: AsyncEngine,
    gql: GraphQLClient,
    tenant_a: Tenant,
) -> None:
    """The hourly check reads only the links added since the last one, so an event edited
    once it was checked would never be looked at again: the whole chain is verified
    daily, in one snapshot (writers never wait for it)."""
    ws = tenant_a.workspace_ids[0]
    await _append_events(database, ws, 5)
    async with database.transaction(TenantBinding(frozenset({ws})), write=True) as session:
        assert (await verify_workspace_increment(session, ws)).ok
    checked = await _check(gql, tenant_a, 0)
    assert checked is not None
    assert checked["ok"]
    last = checked["verifiedSequence"]
    async with inspector_engine.begin() as conn:  # an event the check has passed
        await conn.execute(
            update(EVENTS)
            .where((EVENTS.c.workspace_id == ws) & (EVENTS.c.sequence == last - 2))
            .values(action="note.delete")
        )
    async with database.transaction(TenantBinding(frozenset({ws})), write=True) as session:
        hourly = await verify_workspace_increment(session, ws, reexamine_broken=True)
    assert hourly.ok  # what the hourly check does: it does not see the edit

    with_full_check = settings.model_copy(
        update={
            "broker_url": configured_broker_url(),
            "audit_verify_interval_seconds": 3600.0,
            "audit_full_verify_interval_seconds": 0.5,
        }
    )
    async with Background(with_full_check, database, run_workers=True):

        async def flagged() -> Any:
            check = await _check(gql, tenant_a, 0)
            return check if check and not check["ok"] else None

        found = await eventually(flagged, within=20)
    assert found["problem"] == f"event {last - 2} was changed after writing"
    assert found["verifiedSequence"] == last - 3  # verified up to the edited event only


async def test_only_workspace_admins_see_the_chain_check(
    database: Database, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    ws = tenant_a.workspace_ids[0]
    await _append_events(database, ws, 1)
    async with database.transaction(TenantBinding(frozenset({ws})), write=True) as session:
        assert (await verify_workspace_increment(session, ws)).ok
    seen = {}
    for role in WorkspaceRole:
        _, token = await add_guest(database, ws, f"{role.name.lower()}@client.example", role)
        body = await gql(CHECK, {"ws": tenant_a.ws_gid(0)}, token=token)
        check = body["data"]["workspace"]["auditChainCheck"]
        seen[role] = check and check["ok"]
    assert seen == {
        WorkspaceRole.ADMIN: True,
        WorkspaceRole.EDITOR: None,
        WorkspaceRole.VIEWER: None,
    }


async def test_the_schedule_purges_maps_deleted_over_thirty_days_ago(
    settings: Settings,
    database: Database,
    inspector_engine: AsyncEngine,
    gql: GraphQLClient,
    tenant_a: Tenant,
) -> None:
    create = """mutation($ws: ID!, $title: String!) { createJourneyMap(input: {workspaceId: $ws,
      title: $title, template: FIVE_STAGE}) { journeyMap { id } errors { code } } }"""
    delete = "mutation($id: ID!) { deleteJourneyMap(input: {id: $id}) { errors { code } } }"
    ids = {}
    for title in ("Expired", "Recent"):
        body = await gql(create, {"ws": tenant_a.ws_gid(0), "title": title}, token=tenant_a.token)
        ids[title] = body["data"]["createJourneyMap"]["journeyMap"]["id"]
        await gql(delete, {"id": ids[title]}, token=tenant_a.token)
    async with inspector_engine.begin() as conn:
        await conn.execute(
            update(JourneyMap)
            .where(JourneyMap.title == "Expired")
            .values(deleted_at=utcnow() - timedelta(days=31))
        )

    async def left() -> dict[str, int]:
        async with inspector_engine.connect() as conn:
            rows = await conn.execute(
                select(JourneyMap.title, func.count(Stage.id))
                .join(Stage, Stage.journey_map_id == JourneyMap.id, isouter=True)
                .group_by(JourneyMap.title)
            )
            return {str(title): int(stages) for title, stages in rows.all()}

    assert await left() == {"Expired": 5, "Recent": 5}
    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "audit_verify_interval_seconds": 0.5}
    )
    async with Background(worker_settings, database, run_workers=True):

        async def purged() -> dict[str, int] | None:
            found = await left()
            return found if "Expired" not in found else None

        assert await eventually(purged, within=20) == {"Recent": 5}  # stages went with it
    body = await gql(
        """query($ws: ID!) { workspace(id: $ws) {
             auditEvents(filter: {action: "journey_map.purge"}) {
               edges { node { subjectId actor { type } } } } } }""",
        {"ws": tenant_a.ws_gid(0)},
        token=tenant_a.token,
    )
    edges = body["data"]["workspace"]["auditEvents"]["edges"]
    assert [e["node"] for e in edges] == [
        {"subjectId": ids["Expired"], "actor": {"type": "SYSTEM"}}
    ]
