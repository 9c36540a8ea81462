"""Personas and journey maps through GraphQL: the first part of journey mapping."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.journeys.maps import purge_deleted_maps
from backend.models import JourneyMap
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.relay import decode_global_id
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant, add_guest

CREATE_PERSONA = """mutation($input: CreatePersonaInput!) { createPersona(input: $input) {
  persona { id name goals preferredChannels ageMin ageMax segmentShare }
  errors { code message field } } }"""
UPDATE_PERSONA = """mutation($input: UpdatePersonaInput!) { updatePersona(input: $input) {
  persona { id name summary goals ageMin ageMax } errors { code message field } } }"""
CREATE_MAP = """mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) {
  journeyMap { id title version status scenario personas { name } stages { name position } }
  errors { code message field } } }"""
UPDATE_MAP = """mutation($input: UpdateJourneyMapInput!) { updateJourneyMap(input: $input) {
  journeyMap { id title version personas { name } } errors { code message field } } }"""


async def _persona(gql: GraphQLClient, tenant: Tenant, name: str, **extra: Any) -> str:
    body = await gql(
        CREATE_PERSONA,
        {"input": {"workspaceId": tenant.ws_gid(0), "name": name, **extra}},
        token=tenant.token,
    )
    payload = body["data"]["createPersona"]
    assert payload["errors"] == [], payload
    return str(payload["persona"]["id"])


async def _map(gql: GraphQLClient, tenant: Tenant, **extra: Any) -> dict[str, Any]:
    body = await gql(
        CREATE_MAP,
        {"input": {"workspaceId": tenant.ws_gid(0), "title": "Onboarding", **extra}},
        token=tenant.token,
    )
    payload = body["data"]["createJourneyMap"]
    assert payload["errors"] == [], payload
    return dict(payload["journeyMap"])


async def test_persona_is_created_cleaned_and_searchable(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    await _persona(
        gql,
        tenant_a,
        "  Busy Parent ",
        goals=["Save time", "save money", "Save time"],
        preferredChannels=["MOBILE_APP", "EMAIL"],
        ageMin=30,
        ageMax=45,
        segmentShare=0.4,
    )
    await _persona(gql, tenant_a, "Student")
    body = await gql(
        """query($ws: ID!) { workspace(id: $ws) { personas(search: "pare") { totalCount
             edges { node { name goals preferredChannels ageMin ageMax segmentShare } } } } }""",
        {"ws": tenant_a.ws_gid(0)},
        token=tenant_a.token,
    )
    personas = body["data"]["workspace"]["personas"]
    assert personas["totalCount"] == 1
    assert personas["edges"][0]["node"] == {
        "name": "Busy Parent",
        "goals": ["Save time", "save money"],
        "preferredChannels": ["MOBILE_APP", "EMAIL"],
        "ageMin": 30,
        "ageMax": 45,
        "segmentShare": 0.4,
    }


async def test_persona_validation_errors_are_located(gql: GraphQLClient, tenant_a: Tenant) -> None:
    cases = [
        ({"name": " "}, "input.name"),
        ({"name": "x", "ageMin": 50, "ageMax": 20}, "input.ageMin"),
        ({"name": "x", "segmentShare": 1.5}, "input.segmentShare"),
        ({"name": "x", "goals": ["ok", " "]}, "input.goals[1]"),
        ({"name": "x", "avatarUrl": "javascript:alert(1)"}, "input.avatarUrl"),
        ({"name": "x", "ageMin": -1}, "input.ageMin"),
    ]
    for values, field in cases:
        body = await gql(
            CREATE_PERSONA,
            {"input": {"workspaceId": tenant_a.ws_gid(0), **values}},
            token=tenant_a.token,
        )
        payload = body["data"]["createPersona"]
        assert payload["persona"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", field)]
    await _persona(gql, tenant_a, "Taken")
    dup = await gql(
        CREATE_PERSONA,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "name": "Taken"}},
        token=tenant_a.token,
    )
    assert dup["data"]["createPersona"]["errors"][0]["field"] == "input.name"


async def test_persona_update_changes_only_given_fields(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    persona = await _persona(gql, tenant_a, "Parent", goals=["a"], ageMin=30, ageMax=40)
    body = await gql(
        UPDATE_PERSONA, {"input": {"id": persona, "summary": "Tired"}}, token=tenant_a.token
    )
    updated = body["data"]["updatePersona"]["persona"]
    assert updated == {
        "id": persona,
        "name": "Parent",
        "summary": "Tired",
        "goals": ["a"],
        "ageMin": 30,
        "ageMax": 40,
    }
    cleared = await gql(
        UPDATE_PERSONA, {"input": {"id": persona, "ageMin": None}}, token=tenant_a.token
    )
    assert cleared["data"]["updatePersona"]["persona"]["ageMin"] is None
    refused = await gql(
        UPDATE_PERSONA, {"input": {"id": persona, "name": None}}, token=tenant_a.token
    )
    assert refused["data"]["updatePersona"]["errors"][0]["field"] == "input.name"


async def test_viewer_cannot_write_personas_or_maps(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    _, viewer = await add_guest(database, tenant_a.workspace_ids[0], "v@x.io", WorkspaceRole.VIEWER)
    body = await gql(
        CREATE_PERSONA, {"input": {"workspaceId": tenant_a.ws_gid(0), "name": "P"}}, token=viewer
    )
    assert body["data"]["createPersona"]["errors"][0]["code"] == "FORBIDDEN"
    body = await gql(
        CREATE_MAP, {"input": {"workspaceId": tenant_a.ws_gid(0), "title": "M"}}, token=viewer
    )
    assert body["data"]["createJourneyMap"]["errors"][0]["code"] == "FORBIDDEN"


async def test_other_tenant_cannot_touch_personas_or_maps(
    gql: GraphQLClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    persona = await _persona(gql, tenant_a, "Mine")
    journey = await _map(gql, tenant_a)
    for query, input_ in (
        (UPDATE_PERSONA, {"id": persona, "summary": "x"}),
        (UPDATE_MAP, {"id": journey["id"], "title": "x"}),
    ):
        body = await gql(query, {"input": input_}, token=tenant_b.token)
        payload = next(iter(body["data"].values()))
        assert payload["errors"] == [
            {"code": "NOT_FOUND", "message": payload["errors"][0]["message"], "field": "input.id"}
        ]
    seen = await gql(
        "query($id: ID!) { journeyMap(id: $id) { id } node(id: $id) { id } }",
        {"id": journey["id"]},
        token=tenant_b.token,
    )
    assert seen["data"] == {"journeyMap": None, "node": None}
    stolen = await gql(
        CREATE_MAP,
        {"input": {"workspaceId": tenant_b.ws_gid(0), "title": "T", "personaIds": [persona]}},
        token=tenant_b.token,
    )
    assert stolen["data"]["createJourneyMap"]["errors"][0] == {
        "code": "NOT_FOUND",
        "message": "Persona not found.",
        "field": "input.personaIds[0]",
    }


async def test_map_from_the_five_stage_template_with_personas(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    parent = await _persona(gql, tenant_a, "Parent")
    journey = await _map(gql, tenant_a, template="FIVE_STAGE", personaIds=[parent])
    assert journey["version"] == 1
    assert journey["status"] == "DRAFT"
    assert [s["name"] for s in journey["stages"]] == [
        "Awareness",
        "Consideration",
        "Purchase",
        "Retention",
        "Advocacy",
    ]
    assert [s["position"] for s in journey["stages"]] == [0, 1, 2, 3, 4]
    assert journey["personas"] == [{"name": "Parent"}]


async def test_stale_expected_version_is_a_conflict_and_changes_nothing(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    journey = await _map(gql, tenant_a)
    ok = await gql(
        UPDATE_MAP,
        {"input": {"id": journey["id"], "title": "v2", "expectedVersion": 1}},
        token=tenant_a.token,
    )
    assert ok["data"]["updateJourneyMap"]["journeyMap"]["version"] == 2
    stale = await gql(
        UPDATE_MAP,
        {"input": {"id": journey["id"], "title": "lost", "expectedVersion": 1}},
        token=tenant_a.token,
    )
    [error] = stale["data"]["updateJourneyMap"]["errors"]
    assert error["code"] == "CONFLICT"
    assert error["field"] == "input.expectedVersion"
    assert "version 2" in error["message"]
    # The payload carries the map as it is now: the client needs no second request.
    assert stale["data"]["updateJourneyMap"]["journeyMap"] == {
        "id": journey["id"],
        "title": "v2",
        "version": 2,
        "personas": [],
    }
    now = await gql(
        """query($id: ID!) { journeyMap(id: $id) { title version
             revisions { totalCount edges { node { version action } } } } }""",
        {"id": journey["id"]},
        token=tenant_a.token,
    )
    current = now["data"]["journeyMap"]
    assert (current["title"], current["version"]) == ("v2", 2)
    assert [e["node"]["version"] for e in current["revisions"]["edges"]] == [2, 1]


async def test_concurrent_writers_get_one_success_and_conflicts_nothing_lost(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    journey = await _map(gql, tenant_a)
    writers = 8
    answers = await asyncio.gather(
        *(
            gql(
                UPDATE_MAP,
                {"input": {"id": journey["id"], "title": f"writer {n}", "expectedVersion": 1}},
                token=tenant_a.token,
            )
            for n in range(writers)
        )
    )
    payloads = [a["data"]["updateJourneyMap"] for a in answers]
    winners = [p for p in payloads if not p["errors"]]
    conflicts = [p for p in payloads if p["errors"] and p["errors"][0]["code"] == "CONFLICT"]
    assert len(winners) == 1
    assert len(conflicts) == writers - 1
    # Each loser is told the winner's map and version.
    assert {(c["journeyMap"]["title"], c["journeyMap"]["version"]) for c in conflicts} == {
        (winners[0]["journeyMap"]["title"], 2)
    }
    final = await gql(
        "query($id: ID!) { journeyMap(id: $id) { title version } }",
        {"id": journey["id"]},
        token=tenant_a.token,
    )
    assert final["data"]["journeyMap"] == {
        "title": winners[0]["journeyMap"]["title"],
        "version": 2,
    }


async def test_deleted_persona_leaves_its_maps_with_a_new_version(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    parent = await _persona(gql, tenant_a, "Parent")
    journey = await _map(gql, tenant_a, personaIds=[parent])
    body = await gql(
        """mutation($id: ID!) { deletePersona(input: {id: $id}) {
             deletedPersonaId errors { code } } }""",
        {"id": parent},
        token=tenant_a.token,
    )
    assert body["data"]["deletePersona"] == {"deletedPersonaId": parent, "errors": []}
    after = await gql(
        "query($id: ID!) { journeyMap(id: $id) { version personas { name } } }",
        {"id": journey["id"]},
        token=tenant_a.token,
    )
    assert after["data"]["journeyMap"] == {"version": 2, "personas": []}


async def test_deleted_map_disappears_and_only_admins_delete(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    journey = await _map(gql, tenant_a)
    _, editor = await add_guest(database, tenant_a.workspace_ids[0], "e@x.io", WorkspaceRole.EDITOR)
    delete = """mutation($id: ID!) { deleteJourneyMap(input: {id: $id}) {
                  deletedJourneyMapId errors { code } } }"""
    refused = await gql(delete, {"id": journey["id"]}, token=editor)
    assert refused["data"]["deleteJourneyMap"]["errors"] == [{"code": "FORBIDDEN"}]
    done = await gql(delete, {"id": journey["id"]}, token=tenant_a.token)
    assert done["data"]["deleteJourneyMap"]["errors"] == []
    listed = await gql(
        "query($ws: ID!, $id: ID!) { workspace(id: $ws) { journeyMaps { totalCount } }"
        " journeyMap(id: $id) { id } }",
        {"ws": tenant_a.ws_gid(0), "id": journey["id"]},
        token=tenant_a.token,
    )
    assert listed["data"]["workspace"]["journeyMaps"]["totalCount"] == 0
    assert listed["data"]["journeyMap"] is None


async def test_journey_maps_filter_by_status_persona_and_title(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    parent = await _persona(gql, tenant_a, "Parent")
    await _map(gql, tenant_a, title="Checkout", status="ACTIVE", personaIds=[parent])
    await _map(gql, tenant_a, title="Returns", scenario="FUTURE_STATE")

    async def titles(**args: Any) -> list[str]:
        body = await gql(
            """query($ws: ID!, $status: JourneyMapStatus, $scenario: JourneyScenario,
                     $persona: ID, $search: String) { workspace(id: $ws) {
                 journeyMaps(status: $status, scenario: $scenario, personaId: $persona,
                             search: $search) { edges { node { title } } } } }""",
            {"ws": tenant_a.ws_gid(0), **args},
            token=tenant_a.token,
        )
        return [e["node"]["title"] for e in body["data"]["workspace"]["journeyMaps"]["edges"]]

    assert await titles() == ["Checkout", "Returns"]
    assert await titles(status="ACTIVE") == ["Checkout"]
    assert await titles(scenario="FUTURE_STATE") == ["Returns"]
    assert await titles(persona=parent) == ["Checkout"]
    assert await titles(search="ETU") == ["Returns"]


async def test_deleted_map_is_restorable_for_thirty_days_then_purged(
    gql: GraphQLClient, database: Database, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    kept = await _map(gql, tenant_a, title="Kept")
    old = await _map(gql, tenant_a, title="Old")
    delete = """mutation($id: ID!) { deleteJourneyMap(input: {id: $id}) { errors { code } } }"""
    restore = """mutation($id: ID!) { restoreDeletedJourneyMap(input: {id: $id}) {
                   journeyMap { title } errors { code field } } }"""
    for journey in (kept, old):
        await gql(delete, {"id": journey["id"]}, token=tenant_a.token)
    listing = """query($ws: ID!) { workspace(id: $ws) {
                   deletedJourneyMaps { edges { node { title } } } journeyMaps { totalCount } } }"""
    body = await gql(listing, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    deleted = body["data"]["workspace"]["deletedJourneyMaps"]["edges"]
    assert sorted(e["node"]["title"] for e in deleted) == ["Kept", "Old"]
    # "Old" was deleted 31 days ago.
    old_id = decode_global_id(old["id"])
    assert old_id is not None
    async with inspector_engine.begin() as conn:
        await conn.execute(
            update(JourneyMap)
            .where(JourneyMap.id == old_id[1])
            .values(deleted_at=utcnow() - timedelta(days=31))
        )
    back = await gql(restore, {"id": kept["id"]}, token=tenant_a.token)
    assert back["data"]["restoreDeletedJourneyMap"]["journeyMap"] == {"title": "Kept"}
    too_late = await gql(restore, {"id": old["id"]}, token=tenant_a.token)
    assert too_late["data"]["restoreDeletedJourneyMap"]["errors"] == [
        {"code": "NOT_FOUND", "field": "input.id"}
    ]
    workspace = tenant_a.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
        bind_actor(s, Actor.system())
        assert await purge_deleted_maps(s, workspace) == 1
    async with inspector_engine.connect() as conn:
        titles = (await conn.execute(select(JourneyMap.title))).scalars().all()
    assert titles == ["Kept"]
    body = await gql(listing, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    assert body["data"]["workspace"]["deletedJourneyMaps"]["edges"] == []
    assert body["data"]["workspace"]["journeyMaps"]["totalCount"] == 1


async def test_every_invalid_field_of_an_input_is_reported_at_once(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    """A form with three mistakes shows three messages, not one per attempt."""
    body = await gql(
        CREATE_PERSONA,
        {
            "input": {
                "workspaceId": tenant_a.ws_gid(0),
                "name": "   ",
                "ageMin": 130,
                "goals": ["ok", " "],
                "avatarUrl": "ftp://example.com/a.png",
            }
        },
        token=tenant_a.token,
    )
    payload = body["data"]["createPersona"]
    assert payload["persona"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION", "input.name"),
        ("VALIDATION", "input.ageMin"),
        ("VALIDATION", "input.goals[1]"),
        ("VALIDATION", "input.avatarUrl"),
    ]
    journey = await _map(gql, tenant_a, template="FIVE_STAGE")
    read = await gql(
        "query($id: ID!) { journeyMap(id: $id) { stages { id } } }",
        {"id": journey["id"]},
        token=tenant_a.token,
    )
    stage = read["data"]["journeyMap"]["stages"][0]["id"]
    added = await gql(
        """mutation($input: AddTouchpointInput!) { addTouchpoint(input: $input) {
             touchpoint { id } errors { code field } } }""",
        {
            "input": {
                "stageId": stage,
                "name": "Ad",
                "emotion": 9,
                "traffic": -1,
                "owningDepartment": "x" * 121,
            }
        },
        token=tenant_a.token,
    )
    assert [e["field"] for e in added["data"]["addTouchpoint"]["errors"]] == [
        "input.emotion",
        "input.traffic",
        "input.owningDepartment",
    ]
    assert added["data"]["addTouchpoint"]["touchpoint"] is None
