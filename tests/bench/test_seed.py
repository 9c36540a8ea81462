"""bench.seed on a tiny size: what it builds set-based is what the app would have built."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.service import authenticate_token
from backend.authz.access import ingestion_access, load_access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.feedback import ingestion, wire
from backend.feedback import service as feedback
from backend.feedback.commands import SubmitFeedback
from backend.journeys import snapshots, touchpoints
from backend.journeys.commands import TouchpointFields, UpdateTouchpoint
from backend.models import HealthScore, JourneyMap, JourneyMapRevision
from bench.seed import World, build
from tests.bench.tiny import TINY
from tests.fixtures.databases import TestDatabase, is_postgres_run

pytestmark = pytest.mark.skipif(
    not is_postgres_run(), reason="the bench seeder loads Postgres as a superuser"
)


FEEDBACK_KEYS = """
SELECT pg_get_indexdef(indexrelid) FROM pg_index
WHERE indrelid = 'feedback'::regclass ORDER BY 1
"""


async def test_tiny_world(
    test_database: TestDatabase, database: Database, inspector_engine: AsyncEngine
) -> None:
    async with inspector_engine.connect() as conn:
        keys_before = (await conn.scalars(text(FEEDBACK_KEYS))).all()

    world = await build(test_database.inspector_url, TINY, label="tiny")

    assert World.from_json(world.to_json()) == world
    assert [len(w.map_ids) for w in world.workspaces] == [2, 2]
    async with inspector_engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM touchpoints), (SELECT count(*) FROM pain_points),"
                    " (SELECT count(*) FROM feedback WHERE touchpoint_id IS NOT NULL),"
                    " (SELECT count(DISTINCT touchpoint_id) FROM feedback),"
                    " (SELECT count(DISTINCT measure) FROM feedback),"
                    " (SELECT count(*) FROM journey_map_revisions)"
                )
            )
        ).one()
        keys_after = (await conn.scalars(text(FEEDBACK_KEYS))).all()
    assert tuple(counts) == (24, 48, 1_000, 24, 4, 4)
    assert keys_after == keys_before  # rebuilt exactly as the migrations made them

    owner = Database(test_database.inspector_url, app_scoping=False)
    try:
        async with owner.transaction(NO_TENANT) as session:
            for journey_map in (await session.scalars(select(JourneyMap))).all():
                revision = await session.scalar(
                    select(JourneyMapRevision).where(
                        JourneyMapRevision.journey_map_id == journey_map.id
                    )
                )
                assert revision is not None
                assert revision.version == journey_map.version == 1
                assert revision.snapshot == await snapshots.snapshot(session, journey_map)
            scored = (
                await session.scalars(
                    select(HealthScore.id).where(HealthScore.subject_type == "TOUCHPOINT")
                )
            ).all()
            assert len(scored) == 24
    finally:
        await owner.dispose()

    principal = await authenticate_token(database, world.api_token)
    assert principal is not None
    access = await load_access(database, principal)
    assert set(access.workspace_roles) == {w.id for w in world.workspaces}

    presented = ingestion.presenting(world.ingestion_token)
    assert presented is not None
    async with database.transaction(presented) as session:
        token = await ingestion.authenticate(session, world.ingestion_token)
    assert token is not None
    first = world.workspaces[0].id
    assert token.ingest_workspace_id == first
    feed = ingestion_access(token.id, first)
    async with database.transaction(feed.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        sent = {"source": "SURVEY", "externalId": "x", "text": "Fine"}
        item = wire.read_item({**sent, "eventName": world.hot_event_name})
        batch = await feedback.submit(session, feed, SubmitFeedback(first, [item]))
    kept = batch.items[0].feedback
    assert kept is not None
    assert kept.touchpoint_id == world.hot_touchpoint_id

    async with database.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        _, journey_map = await touchpoints.update_touchpoint(
            session,
            access,
            UpdateTouchpoint(
                world.hot_touchpoint_id,
                TouchpointFields(name="Renamed", moment_of_truth=True),
                expected_version=1,
            ),
        )
    assert journey_map.version == 2
