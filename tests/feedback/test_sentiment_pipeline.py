"""Through the real path: feedback posted to the ingestion route, the worker's sentiment
step, and what GraphQL then shows (sentiment, sentimentStatus, language)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from backend.db.engine import Database
from backend.settings import Settings
from tests.fixtures.background import eventually
from tests.fixtures.databases import configured_broker_url
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant
from workers.background import Background

CREATE_TOKEN = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Survey tool"}) {
    token errors { code } } }"""
FEEDBACK = """query($ws: ID!) { workspace(id: $ws) { feedback(first: 50) {
  edges { node { externalId sentiment sentimentStatus language } } } } }"""
TEXTS = {
    "sarcasm": "Great, another hour on hold",
    "negation": "not helpful at all",
    "angry": "😡😡",
    "thumbs": "👍",
    "german": "Der Kundenservice war unfreundlich und hat mir überhaupt nicht geholfen.",
    "french": "Le service client ne répond jamais, c'est inadmissible.",
    "empty": "",
    "factual": "I paid by bank transfer on Monday morning.",
}


@pytest_asyncio.fixture(loop_scope="session")
async def background(settings: Settings, database: Database) -> AsyncIterator[Background]:
    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "health_coalesce_ms": 200}
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        yield running


async def test_sentiment_read_by_the_worker_is_shown_honestly(
    background: Background, client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    issued = await gql(CREATE_TOKEN, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    token = issued["data"]["createIngestionToken"]["token"]
    items = [
        {"source": "SURVEY", "externalId": key, "measure": "CSAT", "measureValue": 3, "text": text}
        for key, text in TEXTS.items()
    ]
    answer = await client.post(
        "/ingest/v1/feedback", json=items, headers={"authorization": f"Bearer {token}"}
    )
    assert answer.json()["accepted"] == len(TEXTS)

    async def read() -> dict[str, dict[str, Any]] | None:
        body = await gql(FEEDBACK, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
        nodes = {
            e["node"]["externalId"]: e["node"]
            for e in body["data"]["workspace"]["feedback"]["edges"]
        }
        pending = any(n["sentimentStatus"] == "PENDING" for n in nodes.values())
        return None if pending or len(nodes) < len(TEXTS) else nodes

    nodes = await eventually(read)

    for key in ("german", "french", "empty"):
        assert nodes[key]["sentimentStatus"] == "UNSCORED"
        assert nodes[key]["sentiment"] is None  # unknown, never 0.0
    assert nodes["german"]["language"] == "de"
    assert nodes["french"]["language"] == "fr"
    assert nodes["negation"]["sentiment"] < 0
    assert nodes["angry"]["sentiment"] < 0
    assert nodes["thumbs"]["sentiment"] > 0
    assert nodes["angry"]["language"] is None
    assert nodes["factual"] == {
        "externalId": "factual",
        "sentiment": 0.0,
        "sentimentStatus": "SCORED",
        "language": "en",
    }
    # A known limit of a lexicon scorer, documented rather than hidden.
    assert nodes["sarcasm"]["sentiment"] > 0
