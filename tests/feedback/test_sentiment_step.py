"""The background step on stored feedback: PENDING texts are read once, unreadable ones are
UNSCORED (never 0.0), a redelivered event changes nothing, and a workspace's texts can be
read again, resumably, after a change of scorer (`waypost rescore-sentiment`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from itertools import count
from uuid import UUID

from sqlalchemy import select

from backend.db.engine import Database
from backend.feedback.sentiment import rescore_after, score_feedback
from backend.models import Feedback, HealthRequest
from backend.vocabulary.feedback import FeedbackSource, SentimentStatus
from tests.fixtures.databases import TestDatabase
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, build_world

_serial = count()
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ANGRY = "The agent was rude and my problem is still not solved."
GERMAN = "Der Kundenservice war unfreundlich und hat mir überhaupt nicht geholfen."


async def _add(
    database: Database,
    world: World,
    text: str,
    *,
    touchpoint: int = 0,
    status: SentimentStatus = SentimentStatus.PENDING,
    sentiment: float | None = None,
) -> UUID:
    async with database.transaction(world.binding(), write=True) as session:
        row = Feedback(
            workspace_id=world.workspace_id,
            source=FeedbackSource.SURVEY,
            external_id=f"sentiment-{next(_serial)}",
            journey_map_id=world.map_id,
            touchpoint_id=world.touchpoint_ids[touchpoint],
            text=text,
            sentiment=sentiment,
            sentiment_status=status,
            occurred_at=WHEN,
        )
        session.add(row)
        await session.flush()
        return row.id


async def _rows(
    database: Database, world: World
) -> dict[str, tuple[SentimentStatus, float | None, str | None]]:
    async with database.transaction(world.binding()) as session:
        rows = (await session.scalars(select(Feedback))).all()
        return {r.text: (r.sentiment_status, r.sentiment, r.language) for r in rows}


async def _score(database: Database, world: World, ids: list[UUID]) -> set[UUID]:
    async with database.transaction(world.binding(), write=True) as session:
        return await score_feedback(session, world.workspace_id, ids)


async def _waypost(test_database: TestDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    """The `waypost` command as an operator runs it, against the test database."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "backend.entrypoints", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "WAYPOST_DATABASE_URL": test_database.app_url, "WAYPOST_ENV": "test"},
        timeout=120,
        check=False,
    )


async def test_unreadable_texts_are_unscored_not_neutral(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    ids = [
        await _add(database, world, ANGRY, touchpoint=0),
        await _add(database, world, GERMAN, touchpoint=1),
        await _add(database, world, "", touchpoint=2),
        await _add(database, world, "😡😡", touchpoint=3),
    ]
    changed = await _score(database, world, ids)

    rows = await _rows(database, world)
    status, value, language = rows[ANGRY]
    assert status is SentimentStatus.SCORED
    assert value is not None
    assert value < 0
    assert language == "en"
    assert rows[GERMAN] == (SentimentStatus.UNSCORED, None, "de")
    assert rows[""] == (SentimentStatus.UNSCORED, None, None)
    assert rows["😡😡"][0] is SentimentStatus.SCORED
    # Only the touchpoints that gained a score need a health pass.
    assert changed == {world.touchpoint_ids[0], world.touchpoint_ids[3]}


async def test_a_redelivered_event_changes_nothing(database: Database, tenant_a: Tenant) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    ids = [await _add(database, world, ANGRY), await _add(database, world, GERMAN)]
    assert await _score(database, world, ids) == {world.touchpoint_ids[0]}
    first = await _rows(database, world)

    assert await _score(database, world, ids) == set()
    assert await _rows(database, world) == first


async def test_only_pending_rows_are_read(database: Database, tenant_a: Tenant) -> None:
    # A row the scorer already judged keeps its verdict: the worker does not re-read it.
    world = await build_world(database, tenant_a.workspace_ids[0])
    judged = await _add(database, world, GERMAN, status=SentimentStatus.SCORED, sentiment=0.0)
    assert await _score(database, world, [judged]) == set()
    assert (await _rows(database, world))[GERMAN] == (SentimentStatus.SCORED, 0.0, None)


async def test_rescoring_replaces_the_former_scorers_neutral_in_resumable_chunks(
    database: Database, tenant_a: Tenant
) -> None:
    # The former scorer stored 0.0 ("neutral") for German and for "not helpful at all".
    world = await build_world(database, tenant_a.workspace_ids[0])
    for n, text in enumerate([GERMAN, "not helpful at all", ANGRY]):
        await _add(
            database, world, text, touchpoint=n, status=SentimentStatus.SCORED, sentiment=0.0
        )

    after: UUID | None = None
    chunks, changed = 0, set()
    while True:
        async with database.transaction(world.binding(), write=True) as session:
            chunk = await rescore_after(session, world.workspace_id, after, limit=2)
        if not chunk.count:
            break
        chunks, after, changed = chunks + 1, chunk.last_id, changed | chunk.changed
    assert chunks == 2  # 2 + 1 texts, each chunk resuming after the last id

    rows = await _rows(database, world)
    assert rows[GERMAN] == (SentimentStatus.UNSCORED, None, "de")
    negation = rows["not helpful at all"]
    assert negation[0] is SentimentStatus.SCORED
    assert negation[1] is not None
    assert negation[1] < 0
    assert changed == set(world.touchpoint_ids[:3])

    # Run again: nothing moves, so no touchpoint needs a new pass.
    async with database.transaction(world.binding(), write=True) as session:
        again = await rescore_after(session, world.workspace_id, None, limit=10)
    assert again.count == 3
    assert again.changed == set()


async def test_the_rescore_command_reads_a_workspace_again_and_asks_for_health(
    test_database: TestDatabase, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    await _add(database, world, GERMAN, status=SentimentStatus.SCORED, sentiment=0.0)
    await _add(database, world, "not helpful at all", touchpoint=1)

    done = await _waypost(
        test_database, "rescore-sentiment", "--workspace", str(world.workspace_id)
    )
    assert done.returncode == 0, done.stderr
    assert "read 2 texts again" in done.stdout
    rows = await _rows(database, world)
    assert rows[GERMAN] == (SentimentStatus.UNSCORED, None, "de")
    assert rows["not helpful at all"][0] is SentimentStatus.SCORED
    async with database.transaction(world.binding()) as session:
        asked = (await session.scalars(select(HealthRequest))).all()
    assert asked  # the touchpoints whose evidence changed are due for a health pass


async def test_the_rescore_command_names_an_unknown_workspace(
    test_database: TestDatabase, database: Database
) -> None:
    unknown = "00000000-0000-0000-0000-000000000001"
    done = await _waypost(test_database, "rescore-sentiment", "--workspace", unknown)
    assert done.returncode == 2
    assert "--workspace: no such workspace" in done.stderr


async def test_rescoring_feedback_on_a_stage_alone_asks_for_a_pass_and_its_history(
    test_database: TestDatabase, database: Database, tenant_a: Tenant
) -> None:
    """Stage-only feedback names no touchpoint, yet its sentiment is evidence of the stage."""
    world = await build_world(database, tenant_a.workspace_ids[0])
    async with database.transaction(world.binding(), write=True) as session:
        session.add(
            Feedback(
                workspace_id=world.workspace_id,
                source=FeedbackSource.SURVEY,
                external_id="stage-only",
                journey_map_id=world.map_id,
                stage_id=world.stage_ids[0],
                text="not helpful at all",
                occurred_at=WHEN,
            )
        )
    done = await _waypost(
        test_database, "rescore-sentiment", "--workspace", str(world.workspace_id)
    )
    assert done.returncode == 0, done.stderr
    async with database.transaction(world.binding()) as session:
        asked = (await session.scalars(select(HealthRequest))).all()
    assert [r.touchpoint_id for r in asked if r.backfill_from is None] == [None]  # a pass
    assert [r.backfill_from for r in asked if r.backfill_from is not None] == [WHEN.date()]
