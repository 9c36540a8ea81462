"""Themes are real work (a keyword extraction over up to 200 texts): a request may ask for a
few of them, not for every touchpoint of a map, and while they are extracted the server
keeps answering everyone else."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from itertools import count

import graphql
import pytest

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.health import themes
from backend.health.repository import verbatims
from backend.models import Feedback
from backend.settings import Settings
from backend.vocabulary.feedback import FeedbackSource, MeasureKind, SentimentStatus
from graphql_schema.limits import QueryLimits, analyze_operation
from graphql_schema.schema import API_LIMITS, build_schema
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, build_world

SCHEMA = build_schema(Settings())._schema
_serial = count()

THEMES_ON_EVERY_TOUCHPOINT = """query Map($id: ID!) { journeyMap(id: $id) { stages {
  touchpoints { name health { explanation { themes { negative { phrase count } } } } } } } }"""

THEMES_OF_ONE = """query One($id: ID!) { node(id: $id) { ... on Touchpoint {
  health { explanation { themes { textsRead negative { phrase count } } } } } } }"""

RECALCULATE = """mutation Recalculate($input: RecalculateHealthInput!) {
  recalculateHealth(input: $input) { errors { code field } } }"""

_WORDS = [
    *("parcel", "delivery", "courier", "refund", "invoice", "checkout", "password", "login"),
    *("account", "hold", "agent", "callback", "warehouse", "label", "tracking", "address"),
    *("payment", "voucher", "basket", "app", "website", "store", "manager", "queue", "chat"),
    *("email", "phone", "order", "return", "exchange", "size", "colour", "stock", "price"),
]


def _long_complaint(rng: random.Random) -> str:
    sentences = []
    while sum(len(s) for s in sentences) < 1_000:
        a, b, c = rng.sample(_WORDS, 3)
        sentences.append(f"The {a} was late and the {b} never explained the {c} problem. ")
    return "".join(sentences)


async def _complaints(db: Database, world: World, n: int) -> None:
    rng = random.Random(18)
    async with db.transaction(world.binding(), write=True) as session:
        session.add_all(
            Feedback(
                workspace_id=world.workspace_id,
                source=FeedbackSource.SURVEY,
                external_id=f"long-{next(_serial)}",
                journey_map_id=world.map_id,
                touchpoint_id=world.touchpoint_ids[0],
                measure=MeasureKind.CSAT,
                measure_value=1,
                text=_long_complaint(rng),
                sentiment=-0.6,
                sentiment_status=SentimentStatus.SCORED,
                occurred_at=utcnow(),
            )
            for _ in range(n)
        )


async def _recalculate(gql: GraphQLClient, tenant: Tenant) -> None:
    body = await gql(RECALCULATE, {"input": {"workspaceId": tenant.ws_gid(0)}}, token=tenant.token)
    assert body["data"]["recalculateHealth"]["errors"] == []


async def test_themes_on_every_touchpoint_of_a_map_are_refused_before_anything_runs(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(
        database, tenant_a.workspace_ids[0], stages=4, touchpoints_per_stage=3
    )
    assert len(world.touchpoint_ids) == 12
    variables = {"id": global_id("JourneyMap", world.map_id)}
    # Counting every field as 1, the query looked cheap and ran an extraction per touchpoint.
    document = graphql.parse(THEMES_ON_EVERY_TOUCHPOINT)
    flat = QueryLimits(max_cost=API_LIMITS.max_cost)
    assert analyze_operation(SCHEMA, document, "Map", variables, flat)[0].cost < flat.max_cost

    sql_statements.clear()
    body = await gql(
        THEMES_ON_EVERY_TOUCHPOINT, variables, token=tenant_a.token, expect_errors=True
    )

    assert "data" not in body  # refused before anything ran
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "cost"
    assert error["extensions"]["max"] == API_LIMITS.max_cost
    assert not [s for s in sql_statements if "feedback" in s.lower()]


async def test_the_themes_of_one_touchpoint_are_answered(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    await _complaints(database, world, 5)
    await _recalculate(gql, tenant_a)

    body = await gql(
        THEMES_OF_ONE,
        {"id": global_id("Touchpoint", world.touchpoint_ids[0])},
        token=tenant_a.token,
    )

    found = body["data"]["node"]["health"]["explanation"]["themes"]
    assert found["textsRead"] == 5
    assert found["negative"]


async def test_the_server_keeps_answering_while_themes_are_extracted(
    gql: GraphQLClient,
    database: Database,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    await _complaints(database, world, verbatims.MAX_TEXTS + 20)
    await _recalculate(gql, tenant_a)

    extractions: list[tuple[int, float, float]] = []  # (thread, started, ended)
    extract = themes.themes

    def timed(items: object) -> themes.Themes:
        started = time.perf_counter()
        found = extract(items)  # type: ignore[arg-type]
        extractions.append((threading.get_ident(), started, time.perf_counter()))
        return found

    monkeypatch.setattr(themes, "themes", timed)

    beats: list[float] = []

    async def heartbeat() -> None:
        while True:
            beats.append(time.perf_counter())
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeat())
    try:
        body = await gql(
            THEMES_OF_ONE,
            {"id": global_id("Touchpoint", world.touchpoint_ids[0])},
            token=tenant_a.token,
        )
    finally:
        beating.cancel()

    assert body["data"]["node"]["health"]["explanation"]["themes"]["textsRead"] == 200
    [(thread, started, ended)] = extractions
    # The extraction ran beside the event loop, which went on serving other work meanwhile:
    # run on the loop, it would leave no heartbeat between its start and its end. Counted,
    # not timed: on a loaded machine the loop's turns come late, but they come.
    assert thread != threading.get_ident()
    assert sum(started < beat < ended for beat in beats) >= 2, (started, ended, beats)
