"""The metrics service on a real database: definitions, links, recorded values, checks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select

from backend.authz.access import Access
from backend.db.engine import Database
from backend.errors import NotFound, ValidationFailed
from backend.initiatives import service as initiatives
from backend.initiatives.commands import CreateInitiative
from backend.metrics import service
from backend.metrics.commands import CreateMetric, Observation, RecordValues, UpdateMetric
from backend.models import Initiative, Metric, MetricValue
from backend.vocabulary.metrics import MetricDirection, MetricSource
from tests.fixtures.service_calls import access_of, audit_trail, writing
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, build_world

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


async def _setup(database: Database, tenant: Tenant) -> tuple[World, Access]:
    world = await build_world(database, tenant.workspace_ids[0], stages=1)
    return world, await access_of(database, tenant.token)


async def _metric(database: Database, access: Access, world: World, **fields: object) -> Metric:
    command = CreateMetric(
        **{  # type: ignore[arg-type]
            "workspace_id": world.workspace_id,
            "name": "Conversion",
            "direction": MetricDirection.HIGHER_IS_BETTER,
            "touchpoint_id": world.touchpoint_ids[0],
            **fields,
        }
    )
    async with writing(database, access) as session:
        return await service.create_metric(session, access, command)


async def _values(database: Database, world: World, metric: Metric) -> dict[datetime, float]:
    async with database.transaction(world.binding()) as session:
        rows = (
            await session.scalars(select(MetricValue).where(MetricValue.metric_id == metric.id))
        ).all()
    return {row.observed_at: row.value for row in rows}


async def test_values_are_recorded_and_a_moment_recorded_again_is_replaced(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    metric = await _metric(database, access, world)
    later = T0 + timedelta(days=1)

    async with writing(database, access) as session:
        _, recorded = await service.record_values(
            session,
            access,
            RecordValues(
                metric.id,
                (Observation(1.0, T0), Observation(2.0, later), Observation(3.0, T0)),
                MetricSource.IMPORT,
            ),
        )
    assert recorded == 2  # the last value sent for a moment wins
    assert await _values(database, world, metric) == {T0: 3.0, later: 2.0}

    async with writing(database, access) as session:
        await service.record_values(
            session, access, RecordValues(metric.id, (Observation(5.0, later),))
        )
    assert await _values(database, world, metric) == {T0: 3.0, later: 5.0}
    records = [
        c for a, _, c in await audit_trail(database, world.workspace_id) if a == "metric.record"
    ]
    assert [r["replaced"]["after"] for r in records] == [0, 1]
    assert [r["source"]["after"] for r in records] == ["IMPORT", "MANUAL"]


async def test_the_direction_is_kept_and_changes_only_when_sent(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    metric = await _metric(database, access, world, direction=MetricDirection.LOWER_IS_BETTER)
    assert metric.direction is MetricDirection.LOWER_IS_BETTER

    async with writing(database, access) as session:
        renamed = await service.update_metric(
            session, access, UpdateMetric(metric.id, name="Drop-off")
        )
        assert renamed.direction is MetricDirection.LOWER_IS_BETTER
        assert renamed.touchpoint_id == world.touchpoint_ids[0]  # no link sent: kept
    async with writing(database, access) as session:
        turned = await service.update_metric(
            session,
            access,
            UpdateMetric(metric.id, direction=MetricDirection.HIGHER_IS_BETTER, unit=None),
        )
        assert turned.direction is MetricDirection.HIGHER_IS_BETTER
        assert turned.unit == ""
        assert turned.name == "Drop-off"


async def test_a_new_link_replaces_the_old_one(database: Database, tenant_a: Tenant) -> None:
    world, access = await _setup(database, tenant_a)
    metric = await _metric(database, access, world)

    async with writing(database, access) as session:
        moved = await service.update_metric(
            session, access, UpdateMetric(metric.id, stage_id=world.stage_ids[0])
        )
        assert (moved.journey_map_id, moved.stage_id, moved.touchpoint_id) == (
            None,
            world.stage_ids[0],
            None,
        )
    changes = [c for a, _, c in await audit_trail(database, world.workspace_id)][-1]
    assert changes["touchpoint_id"] == {"before": str(world.touchpoint_ids[0]), "after": None}


@pytest.mark.parametrize(
    "links",
    [{}, {"journey_map_id": "map", "stage_id": "stage"}],
    ids=["no link", "two links"],
)
async def test_a_metric_is_linked_to_exactly_one_thing(
    database: Database, tenant_a: Tenant, links: dict[str, str]
) -> None:
    world, access = await _setup(database, tenant_a)
    ids = {"map": world.map_id, "stage": world.stage_ids[0]}
    with pytest.raises(ValidationFailed) as refused:
        await _metric(
            database,
            access,
            world,
            touchpoint_id=None,
            **{name: ids[which] for name, which in links.items()},
        )
    assert refused.value.field == "touchpoint_id"


async def test_a_link_to_something_elsewhere_is_not_found(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    with pytest.raises(NotFound) as missing:
        await _metric(database, access, world, touchpoint_id=None, stage_id=uuid4())
    assert (missing.value.field, missing.value.message) == ("stage_id", "Stage not found.")


async def test_checks_name_the_field_in_snake_case(database: Database, tenant_a: Tenant) -> None:
    world, access = await _setup(database, tenant_a)
    with pytest.raises(ValidationFailed) as blank:
        await _metric(database, access, world, name="  ")
    assert blank.value.field == "name"
    with pytest.raises(ValidationFailed) as endless:
        await _metric(database, access, world, target=math.inf)
    assert endless.value.field == "target"

    metric = await _metric(database, access, world)
    for observations, field in [
        ((Observation(1.0, T0), Observation(math.nan, T0)), "values[1].value"),
        ((Observation(1.0, datetime(2026, 10, 1)),), "values[0].observed_at"),
        ((), "values"),
        (tuple(Observation(1.0, T0) for _ in range(service.MAX_VALUES + 1)), "values"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            async with writing(database, access) as session:
                await service.record_values(session, access, RecordValues(metric.id, observations))
        assert refused.value.field == field
    assert await _values(database, world, metric) == {}


async def test_deleting_a_metric_drops_its_values_and_initiative_targets(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    metric = await _metric(database, access, world)
    async with writing(database, access) as session:
        await service.record_values(session, access, RecordValues(metric.id, (Observation(1, T0),)))
        aiming = await initiatives.create_initiative(
            session,
            access,
            CreateInitiative(world.workspace_id, "Lift it", target_metric_id=metric.id),
        )

    async with writing(database, access) as session:
        assert await service.delete_metric(session, access, metric.id) == metric.id

    assert await _values(database, world, metric) == {}
    async with database.transaction(world.binding()) as session:
        initiative = await session.get(Initiative, (world.workspace_id, aiming.id))
        assert initiative is not None
        assert initiative.target_metric_id is None
        assert await session.get(Metric, (world.workspace_id, metric.id)) is None
    actions = [
        a for a, s, _ in await audit_trail(database, world.workspace_id) if s == str(metric.id)
    ]
    assert actions == ["metric.create", "metric.record", "metric.delete"]


async def test_a_metric_of_another_tenant_is_not_found(
    database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    metric = await _metric(database, access, world)
    stranger = await access_of(database, tenant_b.token)
    with pytest.raises(NotFound) as missing:
        async with writing(database, stranger) as session:
            await service.update_metric(session, stranger, UpdateMetric(metric.id, name="Mine"))
    assert missing.value.field == "id"
