"""Feedback from the past recomputes the history it reaches: through the workers after an
ingestion, each day as a pass on that day would have scored it, in bounded steps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.health import backfill, recalculate
from backend.health.history import MAX_DAYS
from backend.health.model import WINDOW
from backend.health.repository import requests
from backend.health.repository.requests import Days
from backend.models import Feedback, HealthRequest, HealthSnapshot, JourneyMap
from backend.settings import Settings
from backend.vocabulary.feedback import FeedbackSource, MeasureKind
from tests.fixtures.background import eventually
from tests.fixtures.databases import configured_broker_url
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, add_feedback, build_world
from workers.background import Background

TOKEN = """mutation($ws: ID!) { createIngestionToken(input: {workspaceId: $ws, name: "Import"}) {
  token errors { code } } }"""
KEYS = """mutation($input: UpdateTouchpointInput!) { updateTouchpoint(input: $input) {
  errors { code field } } }"""
HISTORY = """query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: HealthBucket!) {
  node(id: $id) {
    ... on Touchpoint { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } }
    ... on Stage { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } }
    ... on JourneyMap { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } }
    ... on Workspace { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } } } }
fragment point on HealthPoint { startsAt score sampleSize }"""
TEXTS = ["Quick and friendly, thank you", "Waited forever and nobody answered", ""]


class _RolledBack(Exception):
    pass


@pytest_asyncio.fixture(loop_scope="session")
async def background(settings: Settings, database: Database) -> AsyncIterator[Background]:
    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "outbox_redeliver_after_seconds": 600}
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        yield running


async def _snapshots(database: Database, world: World, day: date) -> dict[UUID, tuple[Any, ...]]:
    async with database.transaction(world.binding()) as session:
        rows = (
            await session.scalars(select(HealthSnapshot).where(HealthSnapshot.day == day))
        ).all()
    return {r.subject_id: (r.score, r.sample_size, r.confidence) for r in rows}


async def _pending(database: Database, world: World) -> list[HealthRequest]:
    async with database.transaction(world.binding()) as session:
        return list((await session.scalars(select(HealthRequest))).all())


async def _as_a_pass_on(database: Database, world: World, day: date) -> dict[UUID, tuple[Any, ...]]:
    """What a full pass at the end of ``day`` scores, rolled back so it leaves no trace."""
    found: dict[UUID, tuple[Any, ...]] = {}
    try:
        async with database.transaction(world.binding(), write=True) as session:
            done = await recalculate.recalculate(
                session, world.workspace_id, full=True, as_of=backfill.end_of(day)
            )
            assert done is not None
            for _, subject_id, score in recalculate.scored_subjects(
                done.health, world.workspace_id
            ):
                found[subject_id] = (score.score, score.sample_size, score.confidence)
            raise _RolledBack
    except _RolledBack:
        return found


async def test_a_year_of_ingested_past_feedback_gives_history_at_every_level(
    background: Background,
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    database: Database,
    tenant_a: Tenant,
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    for n, touchpoint in enumerate(world.touchpoint_ids):
        keyed = await gql(
            KEYS,
            {
                "input": {
                    "id": global_id("Touchpoint", touchpoint),
                    "matchKeys": {"surveyIds": [f"s{n}"]},
                }
            },
            token=tenant_a.token,
        )
        assert keyed["data"]["updateTouchpoint"]["errors"] == []
    issued = await gql(TOKEN, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    token = issued["data"]["createIngestionToken"]["token"]
    now = utcnow()
    today = now.date()
    # A survey tool's export: a year of answers, a few a week per touchpoint.
    items = [
        {
            "source": "SURVEY",
            "externalId": f"past-{n}-{age}",
            "surveyId": f"s{n}",
            "measure": "CSAT",
            "measureValue": 1 + (age + n) % 5,
            "text": TEXTS[(age + n) % 3],
            "occurredAt": (now - timedelta(days=age, hours=n)).isoformat(),
        }
        for n in range(len(world.touchpoint_ids))
        for age in range(1, 366, 3)
    ]
    response = await client.post(
        "/ingest/v1/feedback", json=items, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(items)
    earliest = min(datetime.fromisoformat(i["occurredAt"]) for i in items).astimezone(UTC).date()
    yesterday = today - timedelta(days=1)

    async def backfilled() -> bool:
        return bool(
            not await _pending(database, world)
            and await _snapshots(database, world, yesterday)
            and await _snapshots(database, world, earliest)
        )

    await eventually(backfilled, within=120)

    # Every level has a point in each past month, as a client charts it.
    subjects = {
        "Touchpoint": global_id("Touchpoint", world.touchpoint_ids[1]),
        "Stage": global_id("Stage", world.stage_ids[1]),
        "JourneyMap": global_id("JourneyMap", world.map_id),
        "Workspace": tenant_a.ws_gid(0),
    }
    for kind, subject in subjects.items():
        body = await gql(
            HISTORY,
            {
                "id": subject,
                "from": (now - timedelta(days=366)).isoformat(),
                "to": now.isoformat(),
                "bucket": "MONTH",
            },
            token=tenant_a.token,
        )
        months = [p["startsAt"][:7] for p in body["data"]["node"]["healthHistory"]]
        assert len(months) >= 12, (kind, months)
        assert months[0] <= earliest.isoformat()[:7], kind
    # Each past day equals what a pass on that day would have computed, at every level.
    for age in (300, 120, 45, 1):
        day = today - timedelta(days=age)
        stored = await _snapshots(database, world, day)
        expected = await _as_a_pass_on(database, world, day)
        assert (
            set(stored)
            == set(expected)
            == {
                *world.touchpoint_ids,
                *world.stage_ids,
                world.map_id,
                world.workspace_id,
            }
        )
        for subject_id, (score, sample, confidence) in expected.items():
            assert stored[subject_id] == (pytest.approx(score), sample, pytest.approx(confidence))


async def test_recent_feedback_asks_for_no_backfill(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    """Today's snapshot is the pass's: feedback from today leaves the history alone."""
    world = await build_world(database, tenant_a.workspace_ids[0])
    async with database.transaction(world.binding(), write=True) as session:
        assert not await backfill.request(session, world.workspace_id, utcnow())
        assert await backfill.request(session, world.workspace_id, utcnow() - timedelta(days=1))
    assert [r.backfill_from for r in await _pending(database, world)] == [
        utcnow().date() - timedelta(days=1)
    ]


async def _step(database: Database, world: World, today: date) -> backfill.Step:
    async with database.transaction(world.binding(), write=True) as session:
        return await backfill.step(session, world.workspace_id, today=today)


async def _request(
    database: Database, world: World, *days: date, today: date | None = None
) -> None:
    """A batch of items that happened on these days asks for its backfill (as an
    ingestion does)."""
    times = [datetime.combine(day, datetime.min.time(), UTC) for day in days]
    async with database.transaction(world.binding(), write=True) as session:
        assert await backfill.request(session, world.workspace_id, *times, today=today or TODAY)


TODAY = date(2026, 11, 30)


async def test_requests_coalesce_and_each_step_takes_at_most_a_month(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    await add_feedback(
        database,
        world,
        world.touchpoint_ids[0],
        occurred_at=backfill.end_of(TODAY - timedelta(days=70)),
    )
    # Three imports ask for overlapping ranges; a pass's own request stays for the pass.
    await _request(database, world, *(TODAY - timedelta(days=d) for d in (10, 70, 40)))
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.request(session, world.workspace_id, recalculate.STRUCTURE_CHANGED)
    first = await _step(database, world, TODAY)
    assert first.days[0] == TODAY - timedelta(days=70)  # the earliest asked for
    assert len(first.days) == backfill.CHUNK_DAYS
    assert first.next_from == TODAY - timedelta(days=70 - backfill.CHUNK_DAYS)
    pending = await _pending(database, world)
    assert sorted((r.reason, r.backfill_from) for r in pending) == [
        ("backfill", first.next_from),  # one range left, not three
        (recalculate.STRUCTURE_CHANGED, None),
    ]
    second = await _step(database, world, TODAY)
    third = await _step(database, world, TODAY)
    assert [len(second.days), len(third.days)] == [31, 70 - 62]
    assert third.days[-1] == TODAY - timedelta(days=1)
    assert third.next_from is None
    assert (await _step(database, world, TODAY)).days == ()  # nothing left: nothing done
    # Every day of the range has its snapshot, and the pass still finds its request.
    for age in range(1, 71):
        assert await _snapshots(database, world, TODAY - timedelta(days=age)), age
    async with database.transaction(world.binding(), write=True) as session:
        assert (await recalculate.recalculate(session, world.workspace_id)) is not None


async def test_a_backfill_reaches_no_further_back_than_the_history(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    # An item older than the history and its windows' reach changes no day kept.
    await _request(database, world, TODAY - timedelta(days=5 * 365))
    assert (await _step(database, world, TODAY)).days == ()
    assert not await _pending(database, world)
    await _request(database, world, TODAY - timedelta(days=MAX_DAYS + 30))
    first = await _step(database, world, TODAY)
    assert first.days[0] == TODAY - timedelta(days=MAX_DAYS)


async def _rate_every_day(database: Database, world: World, days: int, a_day: int) -> None:
    """``a_day`` CSAT answers a touchpoint on each of the last ``days`` days, in one go."""
    async with database.transaction(world.binding(), write=True) as session:
        session.add_all(
            Feedback(
                workspace_id=world.workspace_id,
                source=FeedbackSource.SURVEY,
                external_id=f"{touchpoint}-{age}-{n}",
                journey_map_id=world.map_id,
                touchpoint_id=touchpoint,
                measure=MeasureKind.CSAT,
                measure_value=1 + (age + n) % 5,
                text="",
                occurred_at=backfill.end_of(TODAY - timedelta(days=age)),
            )
            for touchpoint in world.touchpoint_ids
            for age in range(1, days + 1)
            for n in range(a_day)
        )


async def _statements_of_a_step(
    database: Database, world: World, sql_statements: list[str], a_day: int
) -> list[str]:
    await _rate_every_day(database, world, 2 * backfill.CHUNK_DAYS, a_day)
    await _request(database, world, TODAY - timedelta(days=backfill.CHUNK_DAYS))
    sql_statements.clear()
    done = await _step(database, world, TODAY)
    assert len(done.days) == backfill.CHUNK_DAYS
    return list(sql_statements)


async def test_the_work_of_a_day_does_not_grow_with_feedback(
    database: Database, tenant_a: Tenant, tenant_b: Tenant, sql_statements: list[str]
) -> None:
    """A day costs the same statements at any volume: feedback is read by one grouped
    statement per day recomputed."""
    quiet = await build_world(database, tenant_a.workspace_ids[0])
    busy = await build_world(database, tenant_b.workspace_ids[0])
    few = await _statements_of_a_step(database, quiet, sql_statements, 1)
    many = await _statements_of_a_step(database, busy, sql_statements, 20)
    assert len(few) == len(many)
    reading_feedback = [s for s in many if "FROM feedback" in s]
    assert len(reading_feedback) == backfill.CHUNK_DAYS  # one a day, grouped


async def test_housekeeping_resumes_a_backfill_whose_message_was_lost(
    background: Background, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    today = utcnow().date()
    since = today - timedelta(days=40)
    await add_feedback(database, world, world.touchpoint_ids[0], occurred_at=backfill.end_of(since))
    await _request(database, world, since, today=today)  # pending, no message on its way
    await background.housekeep()

    async def resumed() -> bool:
        return bool(
            not await _pending(database, world)
            and await _snapshots(database, world, since)
            and await _snapshots(database, world, today - timedelta(days=1))
        )

    await eventually(resumed, within=60)


def _reach(day: date) -> set[date]:
    """The days an item of ``day`` can move: its own and the two windows after it."""
    return {day + timedelta(days=n) for n in range(2 * WINDOW.days + 1)}


async def _drain(database: Database, world: World) -> list[tuple[date, ...]]:
    """Every step's days until nothing is pending."""
    steps = []
    while (done := await _step(database, world, TODAY)).days:
        steps.append(done.days)
        assert len(done.days) <= backfill.CHUNK_DAYS
    assert not await _pending(database, world)
    return steps


async def test_an_item_from_a_thousand_days_ago_recomputes_only_the_days_it_reaches(
    database: Database, tenant_a: Tenant
) -> None:
    """Not every day up to yesterday: after two windows the item counts for no score."""
    world = await build_world(database, tenant_a.workspace_ids[0])
    old = TODAY - timedelta(days=1000)
    await add_feedback(database, world, world.touchpoint_ids[0], occurred_at=backfill.end_of(old))
    await _request(database, world, old)
    steps = await _drain(database, world)
    assert {day for days in steps for day in days} == _reach(old)
    assert sum(len(days) for days in steps) == len(_reach(old))  # no day twice
    # The same item again once the cursor moved on (its data changed again): its reach
    # once more, never beyond it.
    await _request(database, world, old)
    await _step(database, world, TODAY)
    await _request(database, world, old)
    again = await _drain(database, world)
    assert {day for days in again for day in days} <= _reach(old)


async def test_the_same_request_twice_while_pending_is_one_interval(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    old = TODAY - timedelta(days=400)
    await _request(database, world, old)
    await _request(database, world, old, old + timedelta(days=3))
    async with database.transaction(world.binding(), write=True) as session:
        taken = await requests.take_backfill(session, world.workspace_id, reach=backfill.REACH)
    assert taken == [Days(old, old + timedelta(days=183))]


async def test_two_far_apart_old_items_each_recompute_only_their_own_reach(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    older, old = TODAY - timedelta(days=1000), TODAY - timedelta(days=500)
    await _request(database, world, old, older)
    async with database.transaction(world.binding()) as session:
        pending = (await session.scalars(select(HealthRequest))).all()
        assert len(pending) == 2
    steps = await _drain(database, world)
    assert {day for days in steps for day in days} == _reach(older) | _reach(old)
    assert steps[0][0] == older  # oldest first, and the gap between them never filled
    assert sum(len(days) for days in steps) == len(_reach(older)) + len(_reach(old))


async def test_recomputing_a_day_keeps_the_history_of_a_deleted_map(
    database: Database, tenant_a: Tenant
) -> None:
    """A deleted map may be restored: its snapshots outlive a backfill that no longer
    scores it."""
    world = await build_world(database, tenant_a.workspace_ids[0])
    day = TODAY - timedelta(days=20)
    await add_feedback(database, world, world.touchpoint_ids[0], occurred_at=backfill.end_of(day))
    await _request(database, world, day)
    await _drain(database, world)
    before = await _snapshots(database, world, day)
    assert world.map_id in before
    async with database.transaction(world.binding(), write=True) as session:
        deleted = await session.get(JourneyMap, (world.workspace_id, world.map_id))
        assert deleted is not None
        deleted.deleted_at = utcnow()
    await _request(database, world, day)
    await _drain(database, world)
    after = await _snapshots(database, world, day)
    assert after[world.map_id] == before[world.map_id]
    assert world.touchpoint_ids[0] in after
