"""A touchpoint read as a CX lead reads it: what customers talk about (with counts),
how far the score is from the workspace's target, and the open pain points and the
initiatives that address it, on the touchpoint and on the drivers of its stage and map."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any
from uuid import UUID

import pytest

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.health.repository.links import links_of
from backend.models import Feedback, HealthSubject
from backend.vocabulary.feedback import FeedbackSource, MeasureKind, SentimentStatus
from backend.vocabulary.journeys import PainPointStatus, Severity
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import World, add_pain, build_world

_serial = count()

RECALCULATE = """mutation($input: RecalculateHealthInput!) {
  recalculateHealth(input: $input) { errors { code field } } }"""

TOUCHPOINT = """query($id: ID!) { node(id: $id) { ... on Touchpoint { name
  health { score explanation { target gap
    themes { textsRead unscored
      negative { phrase count examples { externalId } }
      positive { phrase count examples { externalId } } }
    painPoints { title severity status }
    initiatives { title status shippedAt } } } } } }"""

MAP = """query($id: ID!) { journeyMap(id: $id) { health { explanation {
  themes { negative { phrase count } }
  painPoints { title }
  initiatives { title }
  drivers { kind subjectId painPoints { title } initiatives { title } } } }
  stages { health { explanation { drivers { kind subjectId
    painPoints { title } initiatives { title } } } } } } }"""

THEMES_ONLY = """query($id: ID!) { node(id: $id) { ... on Touchpoint {
  health { explanation { themes { negative { phrase count } } } } } } }"""

CREATE_INITIATIVE = """mutation($input: CreateInitiativeInput!) {
  createInitiative(input: $input) { initiative { id } errors { code field } } }"""

SET_TARGET = """mutation($input: SetHealthTargetInput!) { setHealthTarget(input: $input) {
  settings { targetScore alertBelow } errors { code field } } }"""

SETTINGS = """query($id: ID!) { node(id: $id) { ... on Workspace {
  healthSettings { targetScore alertBelow } } } }"""

ON_HOLD = [
    ("I waited 40 minutes on hold", -0.6, 1),
    ("hold time is ridiculous", -0.5, 2),
    ("on hold again, nobody answered", -0.7, 1),
    ("the agent hung up on me", -0.6, 2),
    ("the agent could not find my order", -0.4, 2),
    ("Maria, the agent, sorted it in a minute", 0.8, 5),  # one positive mention of agent
    ("Quick refund, thank you", 0.7, 5),
    ("refund arrived the next day", 0.5, 4),
    ("¿dónde está mi pedido?", None, 3),  # the scorer could not read it: unscored
]


async def _say(
    db: Database,
    world: World,
    touchpoint_id: UUID,
    said: list[tuple[str, float | None, int]],
    occurred_at: datetime,
) -> None:
    """Feedback as the pipeline leaves it: a CSAT answer, its text, the text's sentiment."""
    async with db.transaction(world.binding(), write=True) as session:
        session.add_all(
            Feedback(
                workspace_id=world.workspace_id,
                source=FeedbackSource.SURVEY,
                external_id=f"said-{next(_serial)}",
                journey_map_id=world.map_id,
                touchpoint_id=touchpoint_id,
                measure=MeasureKind.CSAT,
                measure_value=value,
                text=text,
                sentiment=sentiment,
                sentiment_status=SentimentStatus.UNSCORED
                if sentiment is None
                else SentimentStatus.SCORED,
                occurred_at=occurred_at,
            )
            for text, sentiment, value in said
        )


async def _initiative(
    gql: GraphQLClient, tenant: Tenant, title: str, status: str, **links: list[str]
) -> None:
    body = await gql(
        CREATE_INITIATIVE,
        {"input": {"workspaceId": tenant.ws_gid(0), "title": title, "status": status, **links}},
        token=tenant.token,
    )
    assert body["data"]["createInitiative"]["errors"] == []


async def _recalculate(gql: GraphQLClient, tenant: Tenant) -> None:
    body = await gql(RECALCULATE, {"input": {"workspaceId": tenant.ws_gid(0)}}, token=tenant.token)
    assert body["data"]["recalculateHealth"]["errors"] == []


async def _call_centre(database: Database, gql: GraphQLClient, tenant: Tenant) -> World:
    """The first stage's second touchpoint is the call centre; feedback, pains and work on it."""
    world = await build_world(database, tenant.workspace_ids[0])
    call_centre = world.touchpoint_ids[1]
    await _say(database, world, call_centre, ON_HOLD, utcnow())
    await _say(database, world, world.touchpoint_ids[0], [("fine", 0.4, 4)], utcnow())
    await add_pain(database, world, call_centre, Severity.HIGH, title="Long hold times")
    await add_pain(
        database, world, call_centre, Severity.CRITICAL, title="Agents lack order history"
    )
    fixed = await add_pain(
        database,
        world,
        call_centre,
        Severity.MEDIUM,
        title="No callback",
        status=PainPointStatus.RESOLVED,
    )
    touchpoint_gid = global_id("Touchpoint", call_centre)
    await _initiative(
        gql, tenant, "Callback instead of hold", "SHIPPED", touchpointIds=[touchpoint_gid]
    )
    await _initiative(
        gql,
        tenant,
        "Callback scheduler",
        "IN_PROGRESS",
        painPointIds=[global_id("PainPoint", fixed)],
    )
    await _initiative(gql, tenant, "Hire more agents", "CANCELLED", touchpointIds=[touchpoint_gid])
    await _initiative(
        gql,
        tenant,
        "Faster checkout",
        "IDEA",
        touchpointIds=[global_id("Touchpoint", world.touchpoint_ids[2])],
    )
    await _recalculate(gql, tenant)
    return world


async def _touchpoint(gql: GraphQLClient, tenant: Tenant, touchpoint_id: UUID) -> dict[str, Any]:
    body = await gql(TOUCHPOINT, {"id": global_id("Touchpoint", touchpoint_id)}, token=tenant.token)
    return dict(body["data"]["node"])


async def test_a_touchpoint_explains_what_customers_talk_about_with_counts(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _call_centre(database, gql, tenant_a)
    found = await _touchpoint(gql, tenant_a, world.touchpoint_ids[1])
    themes = found["health"]["explanation"]["themes"]
    negative = {t["phrase"]: t for t in themes["negative"]}
    assert {p: t["count"] for p, t in negative.items()} == {"hold": 3, "agent": 2}
    assert len(negative["hold"]["examples"]) == 3
    assert {t["phrase"]: t["count"] for t in themes["positive"]} == {"refund": 2}
    assert themes["textsRead"] == len(ON_HOLD)
    assert themes["unscored"] == 1


async def test_a_touchpoint_links_its_open_pain_points_and_the_work_on_it(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _call_centre(database, gql, tenant_a)
    explanation = (await _touchpoint(gql, tenant_a, world.touchpoint_ids[1]))["health"][
        "explanation"
    ]
    # Open ones only, most severe first; the resolved one is history.
    assert [p["title"] for p in explanation["painPoints"]] == [
        "Agents lack order history",
        "Long hold times",
    ]
    # Named on the touchpoint or through one of its pain points (even a resolved one);
    # a cancelled initiative addresses nothing, another touchpoint's is not listed.
    work = {i["title"]: i for i in explanation["initiatives"]}
    assert set(work) == {"Callback instead of hold", "Callback scheduler"}
    assert work["Callback instead of hold"]["status"] == "SHIPPED"
    assert work["Callback instead of hold"]["shippedAt"] is not None
    assert work["Callback scheduler"]["shippedAt"] is None


async def test_stage_and_map_drivers_link_the_pain_points_and_work_of_their_touchpoints(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _call_centre(database, gql, tenant_a)
    body = await gql(MAP, {"id": global_id("JourneyMap", world.map_id)}, token=tenant_a.token)
    found = body["data"]["journeyMap"]
    explanation = found["health"]["explanation"]
    assert len(explanation["painPoints"]) == 2
    assert {i["title"] for i in explanation["initiatives"]} == {
        "Callback instead of hold",
        "Callback scheduler",
        "Faster checkout",
    }
    assert explanation["themes"]["negative"][0] == {"phrase": "hold", "count": 3}
    by_stage = {d["subjectId"]: d for d in explanation["drivers"]}
    first, second = (by_stage[global_id("Stage", s)] for s in world.stage_ids)
    assert [p["title"] for p in first["painPoints"]] == [
        "Agents lack order history",
        "Long hold times",
    ]
    assert {i["title"] for i in first["initiatives"]} == {
        "Callback instead of hold",
        "Callback scheduler",
    }
    assert second["painPoints"] == []
    assert [i["title"] for i in second["initiatives"]] == ["Faster checkout"]
    stage_drivers = {
        d["subjectId"]: d for d in found["stages"][0]["health"]["explanation"]["drivers"]
    }
    call_centre = stage_drivers[global_id("Touchpoint", world.touchpoint_ids[1])]
    assert len(call_centre["painPoints"]) == 2
    assert len(call_centre["initiatives"]) == 2
    quiet = stage_drivers[global_id("Touchpoint", world.touchpoint_ids[0])]
    assert quiet["painPoints"] == []
    assert quiet["initiatives"] == []


async def test_an_admin_sets_the_target_and_every_explanation_shows_its_gap(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _call_centre(database, gql, tenant_a)
    before = (await _touchpoint(gql, tenant_a, world.touchpoint_ids[1]))["health"]
    # Until an admin sets one, the default target (75) applies.
    assert before["explanation"]["target"] == 75.0
    assert before["explanation"]["gap"] == pytest.approx(75.0 - before["score"])

    body = await gql(
        SET_TARGET,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "targetScore": 80}},
        token=tenant_a.token,
    )
    assert body["data"]["setHealthTarget"] == {
        "settings": {"targetScore": 80.0, "alertBelow": 50.0},
        "errors": [],
    }
    settings = await gql(SETTINGS, {"id": tenant_a.ws_gid(0)}, token=tenant_a.token)
    assert settings["data"]["node"]["healthSettings"]["targetScore"] == 80.0
    health = (await _touchpoint(gql, tenant_a, world.touchpoint_ids[1]))["health"]
    assert health["explanation"]["target"] == 80.0
    assert health["explanation"]["gap"] == pytest.approx(80.0 - health["score"])
    assert health["explanation"]["gap"] > 0  # an unhappy call centre is short of it


async def test_the_target_is_a_score_and_only_an_admin_sets_it(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    for wrong in (120, -1):
        body = await gql(
            SET_TARGET,
            {"input": {"workspaceId": tenant_a.ws_gid(0), "targetScore": wrong}},
            token=tenant_a.token,
        )
        assert body["data"]["setHealthTarget"]["errors"] == [
            {"code": "VALIDATION", "field": "input.targetScore"}
        ]
    _, editor = await add_guest(
        database, tenant_a.workspace_ids[0], "editor@alpha.example", WorkspaceRole.EDITOR
    )
    body = await gql(
        SET_TARGET,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "targetScore": 70}},
        token=editor,
    )
    assert body["data"]["setHealthTarget"] == {
        "settings": None,
        "errors": [{"code": "FORBIDDEN", "field": "input.workspaceId"}],
    }
    cleared = await gql(
        SET_TARGET,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "targetScore": None}},
        token=tenant_a.token,
    )
    assert cleared["data"]["setHealthTarget"]["settings"]["targetScore"] is None


async def test_another_tenant_never_sees_the_themes_or_the_work(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    world = await _call_centre(database, gql, tenant_a)
    call_centre = world.touchpoint_ids[1]
    body = await gql(TOUCHPOINT, {"id": global_id("Touchpoint", call_centre)}, token=tenant_b.token)
    assert body["data"]["node"] is None
    # Below the API too: under tenant_b's binding the links of tenant_a's touchpoint
    # and map are empty, whatever ids are asked for.
    async with database.transaction(tenant_b.binding()) as session:
        found = await links_of(
            session,
            [(HealthSubject.TOUCHPOINT, call_centre), (HealthSubject.JOURNEY_MAP, world.map_id)],
        )
    assert all(not links.pain_points and not links.initiatives for links in found.values())


async def test_the_themes_read_is_one_statement_whatever_the_volume(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    call_centre = world.touchpoint_ids[1]
    await _say(database, world, call_centre, ON_HOLD, utcnow())
    await _recalculate(gql, tenant_a)

    async def feedback_reads() -> int:
        sql_statements.clear()
        await gql(THEMES_ONLY, {"id": global_id("Touchpoint", call_centre)}, token=tenant_a.token)
        return len([s for s in sql_statements if "FROM feedback" in s])

    few = await feedback_reads()
    await _say(database, world, call_centre, ON_HOLD * 40, utcnow())
    assert await feedback_reads() == few


async def test_settings_say_the_same_target_whether_read_or_just_updated(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    """No target set: both the updated settings and a read say null (the default
    applies in explanations), not 75 in one place and null in the other."""
    update = """mutation($input: UpdateHealthSettingsInput!) { updateHealthSettings(
      input: $input) { settings { targetScore alertBelow } errors { code } } }"""
    updated = await gql(
        update,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "alertBelow": 40}},
        token=tenant_a.token,
    )
    read = await gql(SETTINGS, {"id": tenant_a.ws_gid(0)}, token=tenant_a.token)
    assert updated["data"]["updateHealthSettings"]["settings"] == {
        "targetScore": None,
        "alertBelow": 40.0,
    }
    assert read["data"]["node"]["healthSettings"] == {"targetScore": None, "alertBelow": 40.0}
