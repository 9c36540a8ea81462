"""The initiatives service on a real database: workflow, priority, links, outcome, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from backend.authz.access import Access
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.initiatives import outcome, service
from backend.initiatives.commands import CreateInitiative, UpdateInitiative
from backend.models import Initiative, PainPoint
from backend.vocabulary.initiatives import InitiativeStatus as S
from backend.vocabulary.journeys import Severity
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.service_calls import access_of, audit_trail, writing
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import World, add_feedback, add_pain, build_world


async def _setup(database: Database, tenant: Tenant) -> tuple[World, Access]:
    world = await build_world(database, tenant.workspace_ids[0], stages=1)
    return world, await access_of(database, tenant.token)


async def _create(database: Database, access: Access, command: CreateInitiative) -> Initiative:
    async with writing(database, access) as session:
        return await service.create_initiative(session, access, command)


async def _update(database: Database, access: Access, command: UpdateInitiative) -> Initiative:
    async with writing(database, access) as session:
        return await service.update_initiative(session, access, command)


async def test_the_rice_priority_is_computed_and_kept_up_to_date(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    created = await _create(
        database,
        access,
        CreateInitiative(world.workspace_id, "Faster checkout", reach=1000, impact=4, effort=2),
    )
    assert created.priority == pytest.approx(1000 * 4 * 0.5 / 2)
    assert created.priority == service.rice(1000, 4, 0.5, 2)

    updated = await _update(database, access, UpdateInitiative(created.id, confidence=0.9))
    assert updated.priority == pytest.approx(1000 * 4 * 0.9 / 2)


async def test_the_status_moves_along_allowed_transitions(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    initiative = await _create(database, access, CreateInitiative(world.workspace_id, "Plan"))
    assert initiative.status is S.IDEA
    for status in (S.PLANNED, S.IN_PROGRESS, S.PLANNED, S.IN_PROGRESS, S.SHIPPED, S.DONE):
        moved = await _update(database, access, UpdateInitiative(initiative.id, status=status))
        assert moved.status is status


@pytest.mark.parametrize(
    ("path", "refused"),
    [((), S.SHIPPED), ((S.PLANNED, S.IN_PROGRESS, S.SHIPPED, S.DONE), S.IN_PROGRESS)],
    ids=["idea to shipped", "done is final"],
)
async def test_a_move_outside_the_workflow_is_refused_on_status(
    database: Database, tenant_a: Tenant, path: tuple[S, ...], refused: S
) -> None:
    world, access = await _setup(database, tenant_a)
    initiative = await _create(database, access, CreateInitiative(world.workspace_id, "Plan"))
    for status in path:
        await _update(database, access, UpdateInitiative(initiative.id, status=status))
    with pytest.raises(ValidationFailed) as error:
        await _update(database, access, UpdateInitiative(initiative.id, status=refused))
    assert error.value.field == "status"
    assert f"Cannot go from {path[-1] if path else S.IDEA} to {refused}" in error.value.message


async def test_shipping_stamps_shipped_at_and_going_back_clears_it(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    initiative = await _create(
        database, access, CreateInitiative(world.workspace_id, "Ship", status=S.IN_PROGRESS)
    )
    assert initiative.shipped_at is None
    before = utcnow()
    shipped = await _update(database, access, UpdateInitiative(initiative.id, status=S.SHIPPED))
    assert shipped.shipped_at is not None
    assert shipped.shipped_at >= before
    reopened = await _update(
        database, access, UpdateInitiative(initiative.id, status=S.IN_PROGRESS)
    )
    assert reopened.shipped_at is None


@pytest.mark.parametrize(
    ("status", "shipped_at", "message"),
    [
        (S.SHIPPED, utcnow() + timedelta(days=2), "Must not be in the future."),
        (S.PLANNED, utcnow() - timedelta(days=2), "Only a SHIPPED or DONE initiative has one."),
    ],
    ids=["in the future", "not shipped"],
)
async def test_a_shipping_date_is_checked_against_the_status(
    database: Database, tenant_a: Tenant, status: S, shipped_at: datetime, message: str
) -> None:
    world, access = await _setup(database, tenant_a)
    with pytest.raises(ValidationFailed) as error:
        await _create(
            database,
            access,
            CreateInitiative(world.workspace_id, "Ship", status=status, shipped_at=shipped_at),
        )
    assert (error.value.field, error.value.message) == ("shipped_at", message)


async def test_checks_name_the_field_in_snake_case(database: Database, tenant_a: Tenant) -> None:
    world, access = await _setup(database, tenant_a)
    initiative = await _create(database, access, CreateInitiative(world.workspace_id, "Check"))
    for command, field in [
        (UpdateInitiative(initiative.id, title=""), "title"),
        (UpdateInitiative(initiative.id, impact=6), "impact"),
        (UpdateInitiative(initiative.id, effort=0), "effort"),
        (UpdateInitiative(initiative.id, confidence=1.5), "confidence"),
        (UpdateInitiative(initiative.id, reach=-1), "reach"),
        (UpdateInitiative(initiative.id, baseline=float("nan")), "baseline"),
        (UpdateInitiative(initiative.id, department="x" * 121), "department"),
        (UpdateInitiative(initiative.id, target_metric_id=uuid4()), "target_metric_id"),
        (UpdateInitiative(initiative.id, owner_id=uuid4()), "owner_id"),
    ]:
        with pytest.raises((ValidationFailed, NotFound)) as error:
            await _update(database, access, command)
        assert error.value.field == field


async def test_each_linked_id_must_be_live_here_and_the_error_names_its_index(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    first, second = world.touchpoint_ids
    with pytest.raises(NotFound) as missing:
        await _create(
            database,
            access,
            CreateInitiative(world.workspace_id, "Links", touchpoint_ids=(first, uuid4())),
        )
    assert (missing.value.field, missing.value.message) == (
        "touchpoint_ids[1]",
        "Touchpoint not found.",
    )
    with pytest.raises(NotFound) as missing_pain:
        await _create(
            database,
            access,
            CreateInitiative(world.workspace_id, "Links", pain_point_ids=(uuid4(),)),
        )
    assert (missing_pain.value.field, missing_pain.value.message) == (
        "pain_point_ids[0]",
        "Painpoint not found.",
    )

    # Repeats count once, in the order first sent.
    linked = await _create(
        database,
        access,
        CreateInitiative(world.workspace_id, "Links", touchpoint_ids=(second, first, second)),
    )
    assert linked.touchpoint_ids == [str(second), str(first)]
    with pytest.raises(ValidationFailed) as too_many:
        await _update(
            database,
            access,
            UpdateInitiative(
                linked.id, touchpoint_ids=tuple(uuid4() for _ in range(service.MAX_LINKS + 1))
            ),
        )
    assert too_many.value.field == "touchpoint_ids"


async def test_an_owner_must_be_able_to_see_the_workspace(
    database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    guest_id, _ = await add_guest(
        database, world.workspace_id, "guest@elsewhere.example", WorkspaceRole.VIEWER
    )
    owned = await _create(
        database, access, CreateInitiative(world.workspace_id, "Owned", owner_id=guest_id)
    )
    assert owned.owner_id == guest_id
    with pytest.raises(NotFound) as stranger:
        await _update(database, access, UpdateInitiative(owned.id, owner_id=tenant_b.owner_id))
    assert stranger.value.field == "owner_id"


async def test_a_viewer_cannot_change_an_initiative(database: Database, tenant_a: Tenant) -> None:
    world, access = await _setup(database, tenant_a)
    initiative = await _create(database, access, CreateInitiative(world.workspace_id, "Mine"))
    _, token = await add_guest(
        database, world.workspace_id, "viewer@elsewhere.example", WorkspaceRole.VIEWER
    )
    viewer = await access_of(database, token)
    with pytest.raises(Forbidden) as refused:
        await _update(database, viewer, UpdateInitiative(initiative.id, title="Theirs"))
    assert refused.value.field == "id"


async def test_create_update_and_delete_are_audited_with_their_changes(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    initiative = await _create(database, access, CreateInitiative(world.workspace_id, "Audit"))
    await _update(database, access, UpdateInitiative(initiative.id, title="Audited", reach=10))
    async with writing(database, access) as session:
        assert await service.delete_initiative(session, access, initiative.id) == initiative.id

    trail = [
        (action, changes)
        for action, subject, changes in await audit_trail(database, world.workspace_id)
        if subject == str(initiative.id)
    ]
    assert [action for action, _ in trail] == [
        "initiative.create",
        "initiative.update",
        "initiative.delete",
    ]
    assert trail[0][1]["title"] == {"before": None, "after": "Audit"}
    assert set(trail[1][1]) == {"title", "reach", "priority"}
    assert trail[2][1]["title"] == {"before": "Audited", "after": None}


async def test_the_outcome_compares_equal_windows_around_shipping(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    first, second = world.touchpoint_ids
    now = utcnow()
    shipped_at = now - timedelta(days=10)
    # Before shipping: poor; after: good; outside the ten-day windows: ignored.
    for days_ago, value in [(15, 1), (12, 2), (25, 5), (5, 5), (2, 4)]:
        await add_feedback(
            database, world, first, value=value, occurred_at=now - timedelta(days=days_ago)
        )
    await add_pain(database, world, second, Severity.HIGH)
    async with database.transaction(world.binding()) as session:
        pain_id: UUID = (await session.scalars(select(PainPoint.id))).one()
    await add_feedback(database, world, second, value=5, occurred_at=now - timedelta(days=1))

    initiative = await _create(
        database,
        access,
        CreateInitiative(
            world.workspace_id,
            "Fix it",
            status=S.SHIPPED,
            shipped_at=shipped_at,
            touchpoint_ids=(first,),
        ),
    )
    async with database.transaction(world.binding()) as session:
        found = await outcome.outcome_of(session, initiative, now=now)
    assert found is not None
    assert found.before.starts_at == shipped_at - timedelta(days=10)
    assert found.after.ends_at == shipped_at + timedelta(days=10)
    assert (found.before.sample_size, found.after.sample_size) == (2, 2)
    # Item indexes: CSAT 1 and 2 are not top-2-box (0), 5 and 4 are (100).
    assert found.before.score == pytest.approx(0.0)
    assert found.after.score == pytest.approx(100.0)
    assert found.change is not None
    assert found.change > 0

    # A pain point's touchpoint counts too.
    linked = await _update(
        database, access, UpdateInitiative(initiative.id, pain_point_ids=(pain_id,))
    )
    async with database.transaction(world.binding()) as session:
        assert await outcome.touchpoints_of(session, linked) == {first, second}
        wider = await outcome.outcome_of(session, linked, now=now)
    assert wider is not None
    # Its only answer came after shipping: a touchpoint counts where it can be compared.
    assert wider.after.sample_size == 2


async def test_an_unshipped_initiative_has_no_outcome_and_a_long_shipped_one_ninety_days(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    idea = await _create(database, access, CreateInitiative(world.workspace_id, "Idea"))
    shipped_at = datetime(2026, 1, 1, tzinfo=UTC)
    old = await _create(
        database,
        access,
        CreateInitiative(world.workspace_id, "Old", status=S.SHIPPED, shipped_at=shipped_at),
    )
    async with database.transaction(world.binding()) as session:
        assert await outcome.outcome_of(session, idea) is None
        found = await outcome.outcome_of(session, old, now=shipped_at + timedelta(days=400))
    assert found is not None
    assert found.after.ends_at - found.after.starts_at == timedelta(days=90)
    assert found.before.sample_size == 0
    assert found.change is None
