"""End to end: feedback over HTTP -> outbox -> broker -> worker (sentiment, health) -> GraphQL.

Runs on the configured broker: Redis with Postgres in CI, RabbitMQ in the pipeline leg.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select, update

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import HealthSnapshot, HealthSubject, Touchpoint
from backend.settings import Settings
from tests.fixtures.background import eventually
from tests.fixtures.databases import configured_broker_url
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, build_world
from workers.background import Background

CREATE_TOKEN = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Survey tool"}) {
    ingestionToken { id } token errors { code } } }"""
TOUCHPOINT = """query($id: ID!) { node(id: $id) { ... on Touchpoint {
  health { score sampleSize components { name value sampleSize } } } } }"""
FEEDBACK = """query($ws: ID!) { workspace(id: $ws) {
  feedback(first: 50) { edges { node { externalId text sentiment } } } } }"""
TRAIL = """query($ws: ID!) { workspace(id: $ws) { auditEvents(first: 20) {
  edges { node { action subjectType requestId changes
    actor { type tokenId user { email } } } } } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def background(settings: Settings, database: Database) -> AsyncIterator[Background]:
    worker_settings = settings.model_copy(
        update={
            "broker_url": configured_broker_url(),
            "outbox_redeliver_after_seconds": 600,
            "health_coalesce_ms": 200,
        }
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        yield running


async def _checkout_world(database: Database, tenant: Tenant) -> World:
    world = await build_world(database, tenant.workspace_ids[0])
    async with database.transaction(world.binding(), write=True) as session:
        await session.execute(
            update(Touchpoint)
            .where(Touchpoint.id == world.touchpoint_ids[1])
            .values(match_keys={"event_names": ["checkout.completed"]})
        )
    return world


def _item(n: int, value: int, text: str) -> dict[str, Any]:
    return {
        "source": "SURVEY",
        "externalId": f"e2e-{n}",
        "eventName": "checkout.completed",
        "measure": "CSAT",
        "measureValue": value,
        "text": text,
    }


async def test_ingested_feedback_moves_health_through_the_worker(
    background: Background,
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    database: Database,
    tenant_a: Tenant,
) -> None:
    world = await _checkout_world(database, tenant_a)
    checkout = global_id("Touchpoint", world.touchpoint_ids[1])
    issued = (await gql(CREATE_TOKEN, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token))["data"][
        "createIngestionToken"
    ]
    headers = {"authorization": f"Bearer {issued['token']}"}

    async def health() -> dict[str, Any] | None:
        body = await gql(TOUCHPOINT, {"id": checkout}, token=tenant_a.token)
        found: dict[str, Any] | None = body["data"]["node"]["health"]
        return found

    happy = [_item(n, 5, "Checkout was quick and lovely, great service") for n in range(5)]
    answer = await client.post("/ingest/v1/feedback", json=happy, headers=headers)
    assert answer.json()["accepted"] == 5

    first = await eventually(lambda: _with_answers(health, 5))
    assert first["score"] is not None  # five answers: enough for a score

    unhappy = [_item(n, 1, "Terrible, the payment failed twice") for n in range(5, 11)]
    answer = await client.post("/ingest/v1/feedback", json=unhappy, headers=headers)
    assert answer.json()["accepted"] == 6
    second = await eventually(lambda: _with_answers(health, 11))
    assert second["score"] < first["score"]

    # The same payload again changes nothing: duplicates, and the score stays.
    again = await client.post("/ingest/v1/feedback", json=unhappy, headers=headers)
    counts = {k: again.json()[k] for k in ("accepted", "duplicates", "rejected", "errors")}
    assert counts == {"accepted": 0, "duplicates": 6, "rejected": 0, "errors": []}
    await background.relay.relay_once()
    assert (await health()) == second

    texts = (await gql(FEEDBACK, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token))["data"]
    sentiments = {
        e["node"]["externalId"]: e["node"]["sentiment"]
        for e in texts["workspace"]["feedback"]["edges"]
    }
    assert all(sentiments[f"e2e-{n}"] > 0 for n in range(5))
    assert all(sentiments[f"e2e-{n}"] < 0 for n in range(5, 11))

    # Who did what: the owner made the token; the token's requests submitted feedback.
    trail = (await gql(TRAIL, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token))["data"]
    events = [e["node"] for e in trail["workspace"]["auditEvents"]["edges"]]
    token_id = issued["ingestionToken"]["id"]
    submits = [e for e in events if e["action"] == "FEEDBACK_SUBMIT"]
    assert len(submits) == 3
    assert {(e["actor"]["type"], e["actor"]["tokenId"]) for e in submits} == {
        ("INGESTION_TOKEN", token_id)
    }
    assert len({e["requestId"] for e in submits}) == 3  # each request's own id
    assert sorted(e["changes"]["accepted"]["after"] for e in submits) == [0, 5, 6]
    [created] = [e for e in events if e["action"] == "INGESTION_TOKEN_CREATE"]
    assert created["actor"]["user"]["email"] == tenant_a.owner_email
    assert token_id


async def _with_answers(health: Any, n: int) -> dict[str, Any] | None:
    """The health once its CSAT counts ``n`` answers (scored texts count apart)."""
    found: dict[str, Any] | None = await health()
    if not found:
        return None
    csat = [c for c in found["components"] if c["name"] == "csat"]
    return found if csat and csat[0]["sampleSize"] == n else None


async def test_the_scheduled_full_pass_scores_every_workspace_and_snapshots_today(
    background: Background, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    worlds = [
        await build_world(database, tenant_a.workspace_ids[0]),
        await build_world(database, tenant_b.workspace_ids[1]),
    ]
    scheduled = await background.recalculate_all_health()
    assert scheduled == 4  # every workspace of both tenants, with a map or not

    async def scored() -> list[Any]:
        found = []
        for world in worlds:
            async with database.transaction(world.binding()) as session:
                found += (
                    await session.scalars(
                        select(HealthSnapshot).where(
                            HealthSnapshot.subject_type == HealthSubject.WORKSPACE
                        )
                    )
                ).all()
        return found if len(found) == 2 else []

    snapshots = await eventually(scored)
    assert {s.subject_id for s in snapshots} == {w.workspace_id for w in worlds}
    assert {s.day for s in snapshots} == {utcnow().date()}
