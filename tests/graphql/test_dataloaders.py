"""A request's loaders fill each other where one read settles another, and only there."""

from __future__ import annotations

from sqlalchemy import update

from backend.auth.service import authenticate_token
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.db.pagination import PageRequest
from backend.db.types import utcnow
from backend.models import JourneyMap, PainPoint
from backend.vocabulary.journeys import PainPointStatus, Severity
from graphql_schema.dataloaders import Loaders
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, build_world


async def _access(database: Database, tenant: Tenant) -> Access:
    principal = await authenticate_token(database, tenant.token)
    assert principal is not None
    return await load_access(database, principal)


async def _delete_map(database: Database, world: World) -> None:
    async with database.transaction(world.binding(), write=True) as session:
        deleted = update(JourneyMap).where(JourneyMap.id == world.map_id)
        await session.execute(deleted.values(deleted_at=utcnow()))


async def test_a_live_maps_stages_and_touchpoints_are_then_found_by_id_without_a_read(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=2)
    loaders = Loaders(database, await _access(database, tenant_a)).journeys
    assert await loaders.journey_map_by_id.load(world.map_id) is not None
    stages = await loaders.stages_by_map.load(world.map_id)
    touchpoints = await loaders.touchpoints_by_map.load(world.map_id)
    sql_statements.clear()

    assert await loaders.stage_by_id.load_many([s.id for s in stages]) == stages
    assert await loaders.touchpoint_by_id.load_many([t.id for t in touchpoints]) == touchpoints
    assert sql_statements == []


async def test_a_deleted_maps_touchpoints_are_listed_but_not_found_by_id(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    await _delete_map(database, world)
    loaders = Loaders(database, await _access(database, tenant_a)).journeys
    assert await loaders.journey_map_by_id.load(world.map_id) is None

    touchpoints = await loaders.touchpoints_by_map.load(world.map_id)
    stages = await loaders.stages_by_map.load(world.map_id)

    assert [t.id for t in touchpoints] == world.touchpoint_ids
    assert await loaders.touchpoint_by_id.load(touchpoints[0].id) is None
    assert await loaders.stage_by_id.load(stages[0].id) is None


async def _pain_point(database: Database, world: World) -> None:
    async with database.transaction(world.binding(), write=True) as session:
        session.add(
            PainPoint(
                workspace_id=world.workspace_id,
                touchpoint_id=world.touchpoint_ids[0],
                title="Slow",
                severity=Severity.HIGH,
                status=PainPointStatus.OPEN,
            )
        )


async def test_a_live_touchpoints_pain_points_are_then_found_by_id_without_a_read(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    await _pain_point(database, world)
    loaders = Loaders(database, await _access(database, tenant_a)).journeys
    assert await loaders.touchpoint_by_id.load(world.touchpoint_ids[0]) is not None  # live
    (pain_point,) = await loaders.pain_points_by_touchpoint.load(world.touchpoint_ids[0])
    sql_statements.clear()

    assert await loaders.pain_point_by_id.load(pain_point.id) is pain_point
    assert sql_statements == []


async def test_a_deleted_maps_pain_points_are_listed_but_not_found_by_id(
    database: Database, tenant_a: Tenant
) -> None:
    """As its touchpoints: an admin reading the restorable map sees them in it, and
    nobody finds them by id (an initiative's links, ``node``) until it is restored."""
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    await _pain_point(database, world)
    await _delete_map(database, world)
    loaders = Loaders(database, await _access(database, tenant_a)).journeys
    assert await loaders.touchpoint_by_id.load(world.touchpoint_ids[0]) is None

    (pain_point,) = await loaders.pain_points_by_touchpoint.load(world.touchpoint_ids[0])

    assert pain_point.title == "Slow"
    assert await loaders.pain_point_by_id.load(pain_point.id) is None


async def test_an_organizations_workspaces_are_then_found_by_id_without_a_read(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    loaders = Loaders(database, await _access(database, tenant_a)).tenancy
    page = await loaders.workspaces_by_organization.load((tenant_a.organization_id, PageRequest()))
    assert page.items
    sql_statements.clear()

    assert await loaders.workspace_by_id.load_many([w.id for w in page.items]) == page.items
    assert sql_statements == []
