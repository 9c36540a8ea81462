"""A process keeps each workspace's structure for placing feedback (backend/feedback/
placement.py): a batch after the first reads only the maps' stamp, and every change to a
map, committed or rolled back, is what the next batch is placed against."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.service import authenticate_token
from backend.authz.access import Access, ingestion_access, load_access
from backend.db.engine import Database
from backend.feedback import service
from backend.feedback.commands import FeedbackItem, SubmitFeedback
from backend.feedback.placement import MAX_CANDIDATES
from backend.journeys import touchpoints
from backend.journeys.commands import AddTouchpoint, MatchKeys, TouchpointFields
from backend.models import Feedback, Touchpoint
from backend.vocabulary.feedback import Placement as PlacementKind
from graphql_schema.relay import decode_global_id
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.graphql.test_feedback_api import _touchpoint
from tests.health.worlds import build_world

UPDATE_TOUCHPOINT = """mutation($id: ID!, $keys: MatchKeysInput!) {
  updateTouchpoint(input: {id: $id, matchKeys: $keys}) { errors { code field } } }"""
SCENARIO = """mutation($id: ID!, $scenario: JourneyScenario!) {
  updateJourneyMap(input: {id: $id, scenario: $scenario}) { errors { code field } } }"""
NO_TOKEN = UUID(int=0)
DELETE_MAP = """mutation($id: ID!) { deleteJourneyMap(input: {id: $id}) { errors { code } } }"""


class Sender:
    """Sends one item a batch into the tenant's first workspace, as an ingestion token
    does, and tells which touchpoint it was placed on."""

    def __init__(self, database: Database, tenant: Tenant) -> None:
        self.database = database
        self.workspace_id = tenant.workspace_ids[0]
        self.sent = 0

    async def place(self, **fields: Any) -> str | None:
        self.sent += 1
        access = ingestion_access(NO_TOKEN, self.workspace_id)
        item = FeedbackItem(source="ANALYTICS", external_id=f"e{self.sent}", text="Hi", **fields)
        async with self.database.transaction(access.binding(), write=True) as session:
            bind_actor(session, Actor.system())
            batch = await service.submit(session, access, SubmitFeedback(self.workspace_id, [item]))
            assert batch.items[0].errors == [], batch.items[0].errors
            placed = batch.items[0].feedback_id
        async with self.database.transaction(access.binding()) as session:
            touchpoint = await session.scalar(
                select(Feedback.touchpoint_id).where(Feedback.id == placed)
            )
        return global_id("Touchpoint", touchpoint) if touchpoint else None


@pytest.fixture
def sender(database: Database, tenant_a: Tenant) -> Sender:
    return Sender(database, tenant_a)


def _structure_reads(statements: list[str]) -> int:
    return sum(1 for s in statements if "JOIN touchpoints" in s)


async def test_a_later_batch_reads_the_stamp_and_not_the_structure(
    gql: GraphQLClient, tenant_a: Tenant, sender: Sender, sql_statements: list[str]
) -> None:
    place = await _touchpoint(gql, tenant_a, {"eventNames": ["paid"]})
    assert await sender.place(event_name="paid") == place["touchpoint"]
    assert _structure_reads(sql_statements) == 1
    sql_statements.clear()
    for _ in range(3):
        assert await sender.place(event_name="paid") == place["touchpoint"]
    assert _structure_reads(sql_statements) == 0
    # Each batch still read the maps' stamp in its own transaction.
    stamps = [s for s in sql_statements if "journey_maps.version" in s]
    assert len(stamps) == 3


async def test_every_kind_of_map_change_is_seen_by_the_next_batch(
    gql: GraphQLClient, tenant_a: Tenant, sender: Sender
) -> None:
    first = await _touchpoint(gql, tenant_a, {"eventNames": ["paid"]})
    assert await sender.place(event_name="paid") == first["touchpoint"]

    # A key moves to another touchpoint's list.
    await gql(
        UPDATE_TOUCHPOINT,
        {"id": first["touchpoint"], "keys": {"eventNames": ["refunded"]}},
        token=tenant_a.token,
    )
    assert await sender.place(event_name="paid") is None
    assert await sender.place(event_name="refunded") == first["touchpoint"]

    # A new map's touchpoint lists it.
    second = await _touchpoint(gql, tenant_a, {"eventNames": ["paid"]}, title="Second")
    assert await sender.place(event_name="paid") == second["touchpoint"]

    # Its map becomes a plan (future state): no longer where customers are.
    await gql(SCENARIO, {"id": second["map"], "scenario": "FUTURE_STATE"}, token=tenant_a.token)
    assert await sender.place(event_name="paid") is None
    # ... though its touchpoint may still be named outright.
    assert await sender.place(touchpoint_id=_uuid(second["touchpoint"])) == second["touchpoint"]

    # The first map is deleted: its touchpoint no longer exists for feedback.
    await gql(DELETE_MAP, {"id": first["map"]}, token=tenant_a.token)
    assert await sender.place(event_name="refunded") is None


async def test_a_rolled_back_change_is_not_kept(
    database: Database, tenant_a: Tenant, sender: Sender
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    principal = await authenticate_token(database, tenant_a.token)
    assert principal is not None
    access = await load_access(database, principal)

    # A transaction adds a touchpoint listing "paid", places a batch on it (so the
    # process keeps the structure it saw) and rolls back.
    with pytest.raises(Undo):
        await _add_place_and_undo(database, access, world.stage_ids[0], sender.workspace_id)

    # Another transaction commits a different change, which gives the map the version
    # number the undone one had: the next batch is placed against the committed map.
    async with database.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        kept, _ = await touchpoints.add_touchpoint(
            session,
            access,
            AddTouchpoint(
                world.stage_ids[0],
                TouchpointFields(name="Kept", match_keys=MatchKeys(event_names=["paid"])),
            ),
        )
    assert await sender.place(event_name="paid") == global_id("Touchpoint", kept.id)


def _uuid(gid: str) -> UUID:
    decoded = decode_global_id(gid)
    assert decoded is not None
    return decoded[1]


class Undo(Exception):
    """Rolls a test's transaction back."""


async def _add_place_and_undo(
    database: Database, access: Access, stage_id: UUID, workspace_id: UUID
) -> None:
    feed = ingestion_access(NO_TOKEN, workspace_id)
    item = FeedbackItem(source="ANALYTICS", external_id="undone", text="Hi", event_name="paid")
    async with database.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        added, _ = await touchpoints.add_touchpoint(
            session,
            access,
            AddTouchpoint(
                stage_id,
                TouchpointFields(name="Gone", match_keys=MatchKeys(event_names=["paid"])),
            ),
        )
        batch = await service.submit(session, feed, SubmitFeedback(workspace_id, [item]))
        assert batch.items[0].feedback is not None
        assert batch.items[0].feedback.touchpoint_id == added.id
        raise Undo


async def test_an_item_that_fits_very_many_touchpoints_keeps_a_few_candidates(
    database: Database, tenant_a: Tenant, sender: Sender
) -> None:
    """A broad key listed by thirty touchpoints: the item waits for an editor with the
    first twenty as candidates, not all thirty on every row and in every answer."""
    world = await build_world(
        database, tenant_a.workspace_ids[0], stages=1, touchpoints_per_stage=30
    )
    async with database.transaction(world.binding(), write=True) as session:
        for touchpoint in (
            await session.scalars(select(Touchpoint).where(Touchpoint.id.in_(world.touchpoint_ids)))
        ).all():
            touchpoint.match_keys = {"event_names": ["page.view"]}
    await sender.place(event_name="page.view")
    async with database.transaction(world.binding()) as session:
        row = (await session.scalars(select(Feedback).where(Feedback.external_id == "e1"))).one()
    assert row.placement is PlacementKind.AMBIGUOUS
    assert len(row.placement_candidates) == MAX_CANDIDATES == 20
    assert set(row.placement_candidates) <= {str(t) for t in world.touchpoint_ids}
