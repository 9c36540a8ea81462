"""Building a map's inside through GraphQL: stages, touchpoints, pain points, moves."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.health import recalculate
from backend.models import (
    JourneyMap,
    JourneyMapPersona,
    Opportunity,
    PainPoint,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from backend.vocabulary.journeys import Severity
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.relay import decode_global_id
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest

MAP = """mutation($ws: ID!, $personas: [ID!]!) { createJourneyMap(input: {workspaceId: $ws,
  title: "Checkout", personaIds: $personas}) { journeyMap { id version } errors { code } } }"""
ADD_STAGE = """mutation($input: AddStageInput!) { addStage(input: $input) {
  stage { id name position } journeyMap { version } errors { code message field } } }"""
ADD_TOUCHPOINT = """mutation($input: AddTouchpointInput!) { addTouchpoint(input: $input) {
  touchpoint { id name position emotion channel matchKeys { eventNames urlPatterns surveyIds }
    personaEmotions { current target persona { name } } }
  journeyMap { version } errors { code message field } } }"""
READ = """query($id: ID!) { journeyMap(id: $id) { version personas { name }
  stages { name position touchpoints { name position emotion
    painPoints { title severity status } opportunities { title painPointId } } } } }"""


async def _call(gql: GraphQLClient, tenant: Tenant, query: str, input_: dict[str, Any]) -> Any:
    body = await gql(query, {"input": input_}, token=tenant.token)
    return next(iter(body["data"].values()))


async def _new_map(gql: GraphQLClient, tenant: Tenant, personas: list[str] | None = None) -> str:
    body = await gql(MAP, {"ws": tenant.ws_gid(0), "personas": personas or []}, token=tenant.token)
    return str(body["data"]["createJourneyMap"]["journeyMap"]["id"])


async def _stage(gql: GraphQLClient, tenant: Tenant, map_id: str, name: str, **extra: Any) -> str:
    payload = await _call(gql, tenant, ADD_STAGE, {"journeyMapId": map_id, "name": name, **extra})
    assert payload["errors"] == [], payload
    return str(payload["stage"]["id"])


async def _touchpoint(
    gql: GraphQLClient, tenant: Tenant, stage: str, name: str, **extra: Any
) -> str:
    payload = await _call(gql, tenant, ADD_TOUCHPOINT, {"stageId": stage, "name": name, **extra})
    assert payload["errors"] == [], payload
    return str(payload["touchpoint"]["id"])


async def _read(gql: GraphQLClient, tenant: Tenant, map_id: str) -> dict[str, Any]:
    return dict((await gql(READ, {"id": map_id}, token=tenant.token))["data"]["journeyMap"])


async def test_a_complete_map_built_through_graphql_alone(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    persona = await _call(
        gql,
        tenant_a,
        "mutation($input: CreatePersonaInput!) { createPersona(input: $input) { persona { id } } }",
        {"workspaceId": tenant_a.ws_gid(0), "name": "Parent"},
    )
    parent = persona["persona"]["id"]
    map_id = await _new_map(gql, tenant_a, [parent])
    aware = await _stage(gql, tenant_a, map_id, "Awareness")
    buy = await _stage(gql, tenant_a, map_id, "Purchase")
    payload = await _call(
        gql,
        tenant_a,
        ADD_TOUCHPOINT,
        {
            "stageId": buy,
            "name": "Pay",
            "channel": "WEB",
            "emotion": -1,
            "momentOfTruth": True,
            "matchKeys": {"eventNames": ["checkout_paid"], "urlPatterns": ["/pay*"]},
            "personaEmotions": [{"personaId": parent, "current": -2, "target": 1}],
        },
    )
    assert payload["errors"] == []
    touchpoint = payload["touchpoint"]
    assert touchpoint["matchKeys"] == {
        "eventNames": ["checkout_paid"],
        "urlPatterns": ["/pay*"],
        "surveyIds": [],
    }
    assert touchpoint["personaEmotions"] == [
        {"current": -2, "target": 1, "persona": {"name": "Parent"}}
    ]
    pain = await _call(
        gql,
        tenant_a,
        """mutation($input: AddPainPointInput!) { addPainPoint(input: $input) {
             painPoint { id } errors { code } } }""",
        {"touchpointId": touchpoint["id"], "title": "Card declined", "severity": "HIGH"},
    )
    idea = await _call(
        gql,
        tenant_a,
        """mutation($input: AddOpportunityInput!) { addOpportunity(input: $input) {
             opportunity { id painPointId } journeyMap { version } errors { code } } }""",
        {
            "touchpointId": touchpoint["id"],
            "title": "Offer PayPal",
            "painPointId": pain["painPoint"]["id"],
        },
    )
    assert idea["errors"] == []
    await _touchpoint(gql, tenant_a, aware, "Ad")
    read = await _read(gql, tenant_a, map_id)
    # 1 create + 2 stages + 1 touchpoint + pain + idea + 1 touchpoint = version 7.
    assert read["version"] == 7
    assert [s["name"] for s in read["stages"]] == ["Awareness", "Purchase"]
    pay = read["stages"][1]["touchpoints"][0]
    assert pay["painPoints"] == [{"title": "Card declined", "severity": "HIGH", "status": "OPEN"}]
    assert pay["opportunities"] == [
        {"title": "Offer PayPal", "painPointId": pain["painPoint"]["id"]}
    ]
    resolved = await _call(
        gql,
        tenant_a,
        """mutation($input: UpdatePainPointInput!) { updatePainPoint(input: $input) {
             painPoint { status } journeyMap { version } errors { code } } }""",
        {"id": pain["painPoint"]["id"], "status": "RESOLVED", "expectedVersion": 7},
    )
    assert resolved["painPoint"]["status"] == "RESOLVED"
    assert resolved["journeyMap"]["version"] == 8


async def test_moves_keep_positions_dense_across_stages(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id = await _new_map(gql, tenant_a)
    first = await _stage(gql, tenant_a, map_id, "One")
    second = await _stage(gql, tenant_a, map_id, "Two")
    third = await _stage(gql, tenant_a, map_id, "Three", position=0)
    names = [s["name"] for s in (await _read(gql, tenant_a, map_id))["stages"]]
    assert names == ["Three", "One", "Two"]
    moved = await _call(
        gql,
        tenant_a,
        "mutation($input: MoveStageInput!) { moveStage(input: $input) { errors { code } } }",
        {"id": third, "position": 2},
    )
    assert moved["errors"] == []
    tps = [await _touchpoint(gql, tenant_a, first, f"t{n}") for n in range(3)]
    move = await _call(
        gql,
        tenant_a,
        """mutation($input: MoveTouchpointInput!) { moveTouchpoint(input: $input) {
             touchpoint { position } errors { code } } }""",
        {"id": tps[0], "stageId": second, "position": 0},
    )
    assert move["errors"] == []
    read = await _read(gql, tenant_a, map_id)
    assert [(s["name"], s["position"]) for s in read["stages"]] == [
        ("One", 0),
        ("Two", 1),
        ("Three", 2),
    ]
    assert [(t["name"], t["position"]) for t in read["stages"][0]["touchpoints"]] == [
        ("t1", 0),
        ("t2", 1),
    ]
    assert [t["name"] for t in read["stages"][1]["touchpoints"]] == ["t0"]
    removed = await _call(
        gql,
        tenant_a,
        "mutation($input: RemoveInput!) { removeStage(input: $input) { errors { code } } }",
        {"id": first},
    )
    assert removed["errors"] == []
    read = await _read(gql, tenant_a, map_id)
    assert [(s["name"], s["position"]) for s in read["stages"]] == [("Two", 0), ("Three", 1)]


async def test_concurrent_moves_leave_positions_dense_and_unique(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id = await _new_map(gql, tenant_a)
    stage = await _stage(gql, tenant_a, map_id, "S")
    tps = [await _touchpoint(gql, tenant_a, stage, f"t{n}") for n in range(6)]
    moves = [
        _call(
            gql,
            tenant_a,
            """mutation($input: MoveTouchpointInput!) { moveTouchpoint(input: $input) {
                 errors { code } } }""",
            {"id": tp, "position": (n * 5) % 6},
        )
        for n, tp in enumerate(tps)
    ]
    results = await asyncio.gather(*moves)
    assert all(r["errors"] == [] for r in results)
    read = await _read(gql, tenant_a, map_id)
    positions = [t["position"] for t in read["stages"][0]["touchpoints"]]
    assert positions == list(range(6))
    assert read["version"] == 1 + 1 + 6 + 6


async def test_structure_validation_is_located(gql: GraphQLClient, tenant_a: Tenant) -> None:
    map_id = await _new_map(gql, tenant_a)
    stage = await _stage(gql, tenant_a, map_id, "S")
    cases = [
        (ADD_TOUCHPOINT, {"stageId": stage, "name": "x", "emotion": 3}, "input.emotion"),
        (ADD_TOUCHPOINT, {"stageId": stage, "name": " "}, "input.name"),
        (ADD_TOUCHPOINT, {"stageId": stage, "name": "x", "position": 5}, "input.position"),
        (ADD_TOUCHPOINT, {"stageId": map_id, "name": "x"}, "input.stageId"),
        (ADD_STAGE, {"journeyMapId": map_id, "name": "x", "position": -1}, "input.position"),
        (
            ADD_TOUCHPOINT,
            {
                "stageId": stage,
                "name": "x",
                "personaEmotions": [{"personaId": map_id, "current": 0}],
            },
            "input.personaEmotions[0].personaId",
        ),
    ]
    for query, input_, field in cases:
        payload = await _call(gql, tenant_a, query, input_)
        assert [e["field"] for e in payload["errors"]] == [field], (input_, payload)
    assert (await _read(gql, tenant_a, map_id))["version"] == 2


async def test_viewer_and_other_tenant_cannot_change_structure(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    map_id = await _new_map(gql, tenant_a)
    stage = await _stage(gql, tenant_a, map_id, "S")
    _, viewer = await add_guest(database, tenant_a.workspace_ids[0], "v@x.io", WorkspaceRole.VIEWER)
    as_viewer = await gql(ADD_TOUCHPOINT, {"input": {"stageId": stage, "name": "x"}}, token=viewer)
    assert as_viewer["data"]["addTouchpoint"]["errors"][0]["code"] == "FORBIDDEN"
    as_other = await gql(
        ADD_TOUCHPOINT, {"input": {"stageId": stage, "name": "x"}}, token=tenant_b.token
    )
    assert as_other["data"]["addTouchpoint"]["errors"][0] == {
        "code": "NOT_FOUND",
        "message": "Stage not found.",
        "field": "input.stageId",
    }
    assert (await _read(gql, tenant_a, map_id))["version"] == 2


NESTED = """query($id: ID!) { journeyMap(id: $id) { title version personas { name }
  health { score trend }
  stages { name health { score sampleSize }
    touchpoints { name emotion personaEmotions { current persona { name } }
    painPoints { title } opportunities { title }
    health { score confidence components { name value } } } } } }"""


async def _seed_map(
    database: Database, tenant: Tenant, stages: int, touchpoints: int, persona: UUID
) -> str:
    """A map of the given size written straight to the database (fast, no versions)."""
    workspace = tenant.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
        journey = JourneyMap(workspace_id=workspace, title=f"{stages}x{touchpoints}", version=1)
        s.add(journey)
        await s.flush()
        s.add(
            JourneyMapPersona(workspace_id=workspace, journey_map_id=journey.id, persona_id=persona)
        )
        rows: list[Any] = []
        for n in range(stages):
            stage = Stage(
                workspace_id=workspace,
                id=uuid4(),
                journey_map_id=journey.id,
                position=n,
                name=f"S{n}",
            )
            s.add(stage)
            for m in range(touchpoints):
                touchpoint = Touchpoint(
                    workspace_id=workspace,
                    id=uuid4(),
                    journey_map_id=journey.id,
                    stage_id=stage.id,
                    position=m,
                    name=f"T{n}.{m}",
                    emotion=0,
                )
                rows.append(touchpoint)
        await s.flush()
        s.add_all(rows)
        await s.flush()
        for touchpoint in rows:
            s.add(
                PainPoint(
                    workspace_id=workspace,
                    touchpoint_id=touchpoint.id,
                    title="p",
                    severity=Severity.LOW,
                )
            )
            s.add(Opportunity(workspace_id=workspace, touchpoint_id=touchpoint.id, title="o"))
            s.add(
                TouchpointEmotion(
                    workspace_id=workspace,
                    touchpoint_id=touchpoint.id,
                    persona_id=persona,
                    current=1,
                )
            )
        return global_id("JourneyMap", journey.id)


async def test_nested_map_read_costs_the_same_statements_for_1x1_and_12x20(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    persona = await _call(
        gql,
        tenant_a,
        "mutation($input: CreatePersonaInput!) { createPersona(input: $input) { persona { id } } }",
        {"workspaceId": tenant_a.ws_gid(0), "name": "P"},
    )
    persona_id = decode_global_id(persona["persona"]["id"])
    assert persona_id is not None
    small = await _seed_map(database, tenant_a, 1, 1, persona_id[1])
    large = await _seed_map(database, tenant_a, 12, 20, persona_id[1])
    workspace = tenant_a.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
        await recalculate.recalculate(s, workspace, full=True)  # every level has a score

    async def statements_for(map_id: str) -> tuple[int, int]:
        await gql(NESTED, {"id": map_id}, token=tenant_a.token)  # warm the token's last use
        sql_statements.clear()
        body = await gql(NESTED, {"id": map_id}, token=tenant_a.token)
        stages = body["data"]["journeyMap"]["stages"]
        assert all(t["health"] for s in stages for t in s["touchpoints"])
        return len(sql_statements), sum(len(s["touchpoints"]) for s in stages)

    small_count, small_touchpoints = await statements_for(small)
    large_count, large_touchpoints = await statements_for(large)
    assert (small_touchpoints, large_touchpoints) == (1, 240)
    assert small_count == large_count


RENAME = """mutation($input: UpdateJourneyMapInput!) {
  updateJourneyMap(input: $input) { errors { code } } }"""


async def test_journey_maps_order_by_title_or_most_recently_changed(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    first = await _new_map(gql, tenant_a)
    await _call(
        gql,
        tenant_a,
        RENAME,
        {"id": first, "title": "Zebra"},
    )
    second = await _new_map(gql, tenant_a)
    await _call(
        gql,
        tenant_a,
        RENAME,
        {"id": second, "title": "Aardvark"},
    )
    await _stage(gql, tenant_a, first, "touched last")
    query = """query($ws: ID!, $order: JourneyMapOrder!) { workspace(id: $ws) {
                 journeyMaps(orderBy: $order) { edges { node { title } } } } }"""

    async def titles(order: str) -> list[str]:
        body = await gql(query, {"ws": tenant_a.ws_gid(0), "order": order}, token=tenant_a.token)
        return [e["node"]["title"] for e in body["data"]["workspace"]["journeyMaps"]["edges"]]

    assert await titles("TITLE") == ["Aardvark", "Zebra"]
    assert await titles("UPDATED_AT") == ["Zebra", "Aardvark"]


async def test_opportunity_status_moves_and_the_map_versions(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id = await _new_map(gql, tenant_a)
    stage = await _stage(gql, tenant_a, map_id, "S")
    touchpoint = await _touchpoint(gql, tenant_a, stage, "T")
    idea = await _call(
        gql,
        tenant_a,
        """mutation($input: AddOpportunityInput!) { addOpportunity(input: $input) {
             opportunity { id status } journeyMap { version } errors { code } } }""",
        {"touchpointId": touchpoint, "title": "Idea"},
    )
    assert idea["opportunity"]["status"] == "OPEN"
    planned = await _call(
        gql,
        tenant_a,
        """mutation($input: UpdateOpportunityInput!) { updateOpportunity(input: $input) {
             opportunity { status title } journeyMap { version } errors { code field } } }""",
        {"id": idea["opportunity"]["id"], "status": "PLANNED", "expectedVersion": 4},
    )
    assert planned["errors"] == []
    assert planned["opportunity"] == {"status": "PLANNED", "title": "Idea"}
    assert planned["journeyMap"]["version"] == 5
    blank = await _call(
        gql,
        tenant_a,
        """mutation($input: UpdateOpportunityInput!) { updateOpportunity(input: $input) {
             errors { code field } } }""",
        {"id": idea["opportunity"]["id"], "title": " "},
    )
    assert blank["errors"] == [{"code": "VALIDATION", "field": "input.title"}]


async def test_concurrent_moves_of_one_touchpoint_between_stages_apply_in_turn(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    """Editors who send no expectedVersion get last-writer-wins, never a lost move or a
    500: each move reads the touchpoint after it holds the map, so a move queued behind
    another starts from where that one left it."""
    map_id = await _new_map(gql, tenant_a)
    stages = [await _stage(gql, tenant_a, map_id, name) for name in ("A", "B")]
    for stage in stages:
        for n in range(3):
            await _touchpoint(gql, tenant_a, stage, f"{stage[-4:]}-{n}")
    moving = await _touchpoint(gql, tenant_a, stages[0], "moving")
    move = """mutation($input: MoveTouchpointInput!) { moveTouchpoint(input: $input) {
      touchpoint { id } journeyMap { version } errors { code } } }"""
    targets = [(stages[n % 2 - 1], n % 3) for n in range(10)]  # B, A, B, A, ...
    results = await asyncio.gather(
        *(
            gql(move, {"input": {"id": moving, "stageId": s, "position": p}}, token=tenant_a.token)
            for s, p in targets
        )
    )
    assert all("errors" not in body for body in results), results
    payloads = [body["data"]["moveTouchpoint"] for body in results]
    assert all(p["errors"] == [] for p in payloads), payloads
    last = max(range(len(targets)), key=lambda n: payloads[n]["journeyMap"]["version"])
    final_stage, final_position = targets[last]

    read = await _read(gql, tenant_a, map_id)
    by_stage = {s["name"]: s["touchpoints"] for s in read["stages"]}
    for touchpoints in by_stage.values():
        assert [t["position"] for t in touchpoints] == list(range(len(touchpoints)))
    named = "A" if final_stage == stages[0] else "B"
    assert [t["name"] for t in by_stage[named]].index("moving") == final_position
    assert sum(len(t) for t in by_stage.values()) == 7
