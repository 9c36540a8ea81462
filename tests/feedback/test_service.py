"""The rules of taking feedback in, stated on the service itself (``service.submit``)
with a real session: idempotency, per-item rejection with domain (snake_case) paths,
placement by match keys, the outbox event written with the rows, the batch caps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.authz.access import Access, ingestion_access
from backend.db.engine import Database
from backend.errors import DomainError, NotFound, ValidationFailed
from backend.feedback import service
from backend.feedback.commands import FeedbackItem, ItemInput, SubmitFeedback, Unreadable
from backend.feedback.service import BatchResult, Status
from backend.models import Feedback, JourneyMap, OutboxEvent, Stage, Touchpoint
from backend.vocabulary.journeys import Scenario
from graphql_schema.errors import camel_path
from tests.fixtures.tenants import Tenant


class Undo(Exception):
    """Rolls a test's transaction back."""


@asynccontextmanager
async def _writing(database: Database, access: Access) -> AsyncIterator[AsyncSession]:
    async with database.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        yield session


def _feed(tenant: Tenant, index: int = 0) -> Access:
    """What an ingestion token of the tenant's workspace may do: EDITOR there, nothing else."""
    return ingestion_access(uuid.uuid4(), tenant.workspace_ids[index])


async def _submit(
    database: Database,
    tenant: Tenant,
    items: Sequence[ItemInput],
    *,
    all_or_nothing: bool = False,
    **options: Any,
) -> BatchResult:
    access = _feed(tenant)
    command = SubmitFeedback(tenant.workspace_ids[0], items, all_or_nothing=all_or_nothing)
    async with _writing(database, access) as session:
        return await service.submit(session, access, command, **options)


def _nps(external_id: str, value: int = 9, **fields: Any) -> FeedbackItem:
    return FeedbackItem(
        source="SURVEY", external_id=external_id, measure="NPS", measure_value=value, **fields
    )


async def _stored(owner: AsyncEngine) -> dict[str, Any]:
    async with owner.connect() as conn:
        rows = (await conn.execute(select(Feedback))).all()
    return {row.external_id: row for row in rows}


_RECEIVED = (
    select(OutboxEvent)
    .where(OutboxEvent.event_type == "feedback.received")
    .order_by(OutboxEvent.sequence)
)


async def _outbox(owner: AsyncEngine) -> list[Any]:
    """The ``feedback.received`` events committed, in order."""
    async with owner.connect() as conn:
        return list((await conn.execute(_RECEIVED)).all())


async def _touchpoints(
    database: Database, tenant: Tenant, *keys: dict[str, list[str]], scenario: Scenario
) -> tuple[UUID, UUID, list[UUID]]:
    """A map with one stage, and a touchpoint on it for each set of match keys."""
    workspace_id = tenant.workspace_ids[0]
    async with database.transaction(tenant.binding(), write=True) as session:
        journey_map = JourneyMap(workspace_id=workspace_id, title="Checkout", scenario=scenario)
        session.add(journey_map)
        await session.flush()
        stage = Stage(
            workspace_id=workspace_id, journey_map_id=journey_map.id, position=0, name="Pay"
        )
        session.add(stage)
        await session.flush()
        touchpoints = [
            Touchpoint(
                workspace_id=workspace_id,
                journey_map_id=journey_map.id,
                stage_id=stage.id,
                position=n,
                name=f"t{n}",
                match_keys=match_keys,
            )
            for n, match_keys in enumerate(keys)
        ]
        session.add_all(touchpoints)
        await session.flush()
        return journey_map.id, stage.id, [t.id for t in touchpoints]


# Idempotency ---------------------------------------------------------------------


async def test_resending_a_source_and_external_id_answers_the_first_item_as_a_duplicate(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    first = await _submit(database, tenant_a, [_nps("r1", 9)])
    again = await _submit(database, tenant_a, [_nps("r1", 2)])
    assert [r.status for r in again.items] == [Status.DUPLICATE]
    kept, duplicate = first.items[0].feedback, again.items[0].feedback
    assert kept is not None
    assert duplicate is not None
    assert (duplicate.id, duplicate.measure_value) == (kept.id, 9)
    assert {k: r.measure_value for k, r in (await _stored(inspector_engine)).items()} == {"r1": 9}


async def test_the_same_key_twice_in_a_batch_keeps_the_first(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    batch = await _submit(database, tenant_a, [_nps("r1", 7), _nps("r1", 3)])
    assert [r.status for r in batch.items] == [Status.ACCEPTED, Status.DUPLICATE]
    assert batch.items[1].feedback_id == batch.items[0].feedback_id
    assert (batch.count(Status.ACCEPTED), batch.count(Status.DUPLICATE)) == (1, 1)
    assert {k: r.measure_value for k, r in (await _stored(inspector_engine)).items()} == {"r1": 7}


# Rejection, item by item ------------------------------------------------------------


async def test_a_bad_item_is_rejected_at_its_snake_case_path_and_the_good_ones_kept(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    batch = await _submit(
        database,
        tenant_a,
        [
            _nps("good"),
            _nps("too-high", 11),
            FeedbackItem(source="SURVEY", external_id="empty"),
            FeedbackItem(source="NEWSPAPER", external_id="x", text="Hi"),
            Unreadable(ValidationFailed("Not an id.", field="persona_id")),
        ],
    )
    assert [r.status for r in batch.items] == [
        Status.ACCEPTED,
        Status.REJECTED,
        Status.REJECTED,
        Status.REJECTED,
        Status.REJECTED,
    ]
    fields = [e.field for r in batch.items for e in r.errors]
    assert fields == [
        "items[1].measure_value",
        "items[2].text",
        "items[3].source",
        "items[4].persona_id",
    ]
    # The API renders them once: GraphQL adds "input.", ingestion keeps the index.
    assert [camel_path(f) for f in fields if f] == [
        "items[1].measureValue",
        "items[2].text",
        "items[3].source",
        "items[4].personaId",
    ]
    assert set(await _stored(inspector_engine)) == {"good"}


async def test_the_caller_locates_the_items(database: Database, tenant_a: Tenant) -> None:
    batch = await _submit(
        database, tenant_a, [_nps("a"), _nps("b", 11)], locate=lambda index: f"[{index}]"
    )
    [error] = batch.items[1].errors
    assert error.field == "[1].measure_value"
    assert camel_path(error.field) == "[1].measureValue"


async def test_a_measure_without_its_value_names_the_missing_half(
    database: Database, tenant_a: Tenant
) -> None:
    batch = await _submit(
        database,
        tenant_a,
        [
            FeedbackItem(source="SURVEY", external_id="a", measure="NPS"),
            FeedbackItem(source="SURVEY", external_id="b", measure_value=3),
        ],
    )
    assert [e.field for r in batch.items for e in r.errors] == [
        "items[0].measure_value",
        "items[1].measure",
    ]


async def test_all_or_nothing_raises_the_first_rejection_and_writes_nothing(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await _submit(
            database,
            tenant_a,
            [_nps("good"), _nps("bad", 11), _nps("worse", 12)],
            all_or_nothing=True,
        )
    assert refused.value.field == "items[1].measure_value"
    assert await _stored(inspector_engine) == {}
    assert await _outbox(inspector_engine) == []


# Placement by match keys -----------------------------------------------------------


async def test_a_match_key_of_exactly_one_touchpoint_places_the_item(
    database: Database, tenant_a: Tenant
) -> None:
    map_id, stage_id, [paid, _] = await _touchpoints(
        database,
        tenant_a,
        {"event_names": ["paid"]},
        {"event_names": ["refunded"]},
        scenario=Scenario.CURRENT_STATE,
    )
    batch = await _submit(database, tenant_a, [_nps("r1", event_name="paid")])
    placed = batch.items[0].feedback
    assert placed is not None
    assert (placed.touchpoint_id, placed.stage_id, placed.journey_map_id) == (
        paid,
        stage_id,
        map_id,
    )


async def test_a_match_key_two_touchpoints_list_leaves_the_item_unattached(
    database: Database, tenant_a: Tenant
) -> None:
    await _touchpoints(
        database,
        tenant_a,
        {"event_names": ["paid"]},
        {"url_patterns": ["https://shop.example/*"]},
        scenario=Scenario.CURRENT_STATE,
    )
    item = _nps("r1", event_name="paid", url="https://shop.example/pay")
    batch = await _submit(database, tenant_a, [item])
    placed = batch.items[0].feedback
    assert batch.items[0].status is Status.ACCEPTED
    assert placed is not None
    assert (placed.touchpoint_id, placed.stage_id, placed.journey_map_id) == (None, None, None)


async def test_a_match_key_no_current_state_touchpoint_lists_leaves_the_item_unattached(
    database: Database, tenant_a: Tenant
) -> None:
    # A future-state map's touchpoints are plans: feedback never lands on them.
    await _touchpoints(
        database, tenant_a, {"event_names": ["paid"]}, scenario=Scenario.FUTURE_STATE
    )
    batch = await _submit(
        database, tenant_a, [_nps("r1", event_name="paid"), _nps("r2", event_name="other")]
    )
    assert [r.status for r in batch.items] == [Status.ACCEPTED, Status.ACCEPTED]
    assert [r.feedback.touchpoint_id for r in batch.items if r.feedback] == [None, None]


async def test_a_named_touchpoint_that_is_not_there_is_rejected_at_touchpoint_id(
    database: Database, tenant_a: Tenant
) -> None:
    batch = await _submit(database, tenant_a, [_nps("r1", touchpoint_id=uuid.uuid4())])
    [error] = batch.items[0].errors
    assert isinstance(error, NotFound)
    assert error.field == "items[0].touchpoint_id"


# The outbox event ---------------------------------------------------------------------


async def test_accepted_items_emit_feedback_received_in_the_same_transaction(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    _, _, [paid] = await _touchpoints(
        database, tenant_a, {"event_names": ["paid"]}, scenario=Scenario.CURRENT_STATE
    )
    await _submit(database, tenant_a, [_nps("old")])
    before = len(await _outbox(inspector_engine))
    access = _feed(tenant_a)
    items = [_nps("new", event_name="paid"), _nps("old"), _nps("bad", 11), _nps("plain")]
    seen: list[tuple[BatchResult, list[Any]]] = []

    async def submit_look_and_undo() -> None:
        async with _writing(database, access) as session:
            batch = await service.submit(
                session, access, SubmitFeedback(tenant_a.workspace_ids[0], items)
            )
            events = (await session.scalars(_RECEIVED)).all()
            seen.append((batch, [event.payload for event in events]))
            raise Undo

    with pytest.raises(Undo):
        await submit_look_and_undo()
    [(batch, events)] = seen
    accepted = [r.feedback_id for r in batch.items if r.status is Status.ACCEPTED]
    assert len(accepted) == 2
    [payload] = events[before:]
    kept = [r.kept for r in batch.items if r.status is Status.ACCEPTED and r.kept]
    assert payload == {
        "feedback_ids": [str(i) for i in accepted],
        "touchpoint_ids": [str(paid)],
        # Items sent without a time happened when received: health backfills nothing.
        "earliest_occurred_at": min(k.values["occurred_at"] for k in kept).isoformat(),
        "occurred_days": sorted({k.values["occurred_at"].date().isoformat() for k in kept}),
    }
    # Rolled back with the rows: the event never existed without them.
    assert len(await _outbox(inspector_engine)) == before
    assert set(await _stored(inspector_engine)) == {"old"}


async def test_a_batch_of_duplicates_and_rejections_emits_no_event(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    await _submit(database, tenant_a, [_nps("old")])
    events = await _outbox(inspector_engine)
    await _submit(database, tenant_a, [_nps("old"), _nps("bad", 11)])
    assert await _outbox(inspector_engine) == events


# Caps --------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, service.MAX_BATCH + 1])
async def test_an_empty_or_oversized_batch_is_refused_at_items(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine, count: int
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await _submit(database, tenant_a, [_nps(f"r{n}") for n in range(count)])
    assert refused.value.field == "items"
    assert await _stored(inspector_engine) == {}


async def test_a_caller_may_raise_the_cap_for_a_local_file(
    database: Database, tenant_a: Tenant
) -> None:
    items = [_nps(f"r{n}") for n in range(service.MAX_BATCH + 1)]
    batch = await _submit(database, tenant_a, items, max_items=len(items))
    assert batch.count(Status.ACCEPTED) == len(items)


async def test_another_workspace_is_refused_at_workspace_id(
    database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    access = _feed(tenant_a)
    command = SubmitFeedback(tenant_b.workspace_ids[0], [_nps("r1")])

    async def submit() -> None:
        async with _writing(database, access) as session:
            await service.submit(session, access, command)

    with pytest.raises(DomainError) as refused:
        await submit()
    assert refused.value.field == "workspace_id"
