"""What made a revision, how two versions differ and what an audit event records are
enums, named after the texts the tables keep (which stay as they are)."""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLEnumType, GraphQLNonNull

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.models import JourneyMapRevision
from backend.settings import Settings
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.journeys import ChangeKind, RevisionAction
from graphql_schema.relay import decode_global_id
from graphql_schema.schema import build_schema
from tests.fixtures.audited import record_note
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.planned import answer, ordinary_and_planned
from tests.fixtures.tenants import Tenant

CREATE = """mutation($ws: ID!) { createJourneyMap(input: {workspaceId: $ws, title: "Checkout",
  template: FIVE_STAGE}) { journeyMap { id stages { id } } errors { code } } }"""
RENAME = """mutation($id: ID!) { updateJourneyMap(input: {id: $id, title: "Checkout v2"}) {
  errors { code } } }"""
REMOVE_STAGE = """mutation($id: ID!) { removeStage(input: {id: $id}) { errors { code } } }"""
RESTORE = """mutation($id: ID!) { restoreJourneyMapRevision(input: {journeyMapId: $id,
  version: 1}) { errors { code } } }"""
DUPLICATE = """mutation($id: ID!) { duplicateJourneyMap(input: {id: $id}) {
  journeyMap { id } errors { code } } }"""
REVISIONS = """query($id: ID!) { journeyMap(id: $id) {
  revisions { edges { node { version action restoredVersion copiedFrom { id } } } } } }"""
HISTORY = """query($id: ID!) { journeyMap(id: $id) {
  revisions { edges { node { version action restoredVersion copiedFrom { id } } } }
  diff(fromVersion: 1, toVersion: 3) { path kind } } }"""
TRAIL = """query($ws: ID!) { workspace(id: $ws) {
  auditEvents(first: 100) { edges { node { sequence action subjectType } } } } }"""


def test_each_audit_action_is_named_by_the_text_it_stores() -> None:
    for action in AuditAction:
        if action is not AuditAction.UNKNOWN:
            assert action.name == action.value.upper().replace(".", "_"), action
    assert AuditAction.of("workspace_member.add") is AuditAction.WORKSPACE_MEMBER_ADD
    assert AuditAction.of("note.add") is AuditAction.UNKNOWN


def test_a_revision_names_its_change_as_the_trail_does() -> None:
    for action in RevisionAction:
        if action is not RevisionAction.UNKNOWN:
            assert AuditAction(action.value).name == action.name
    assert RevisionAction.of("journey_map.restore:4") is RevisionAction.JOURNEY_MAP_RESTORE
    assert RevisionAction.JOURNEY_MAP_RESTORE.stored(4) == "journey_map.restore:4"
    assert RevisionAction.of("seed") is RevisionAction.UNKNOWN


def test_actions_and_change_kinds_are_enums_in_the_schema(settings: Settings) -> None:
    schema = build_schema(settings)._schema
    expected = {
        ("JourneyMapRevision", "action"): ("JourneyMapRevisionAction", RevisionAction),
        ("RevisionChange", "kind"): ("RevisionChangeKind", ChangeKind),
        ("AuditEvent", "action"): ("AuditAction", AuditAction),
    }
    for (type_name, field_name), (enum_name, members) in expected.items():
        field_type = schema.get_type(type_name).fields[field_name].type  # type: ignore[union-attr]
        assert isinstance(field_type, GraphQLNonNull)
        enum = field_type.of_type
        assert isinstance(enum, GraphQLEnumType)
        assert enum.name == enum_name
        assert set(enum.values) == {m.name for m in members}


async def _ok(gql: GraphQLClient, tenant: Tenant, query: str, **variables: Any) -> Any:
    body = await gql(query, variables, token=tenant.token)
    (payload,) = body["data"].values()
    assert payload["errors"] == [], payload
    return payload


async def test_revisions_and_their_differences_are_named_by_enums(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    created = await _ok(gql, tenant_a, CREATE, ws=tenant_a.ws_gid(0))
    map_id = created["journeyMap"]["id"]
    await _ok(gql, tenant_a, RENAME, id=map_id)  # version 2
    await _ok(gql, tenant_a, REMOVE_STAGE, id=created["journeyMap"]["stages"][4]["id"])  # 3
    await _ok(gql, tenant_a, RESTORE, id=map_id)  # 4
    copy = (await _ok(gql, tenant_a, DUPLICATE, id=map_id))["journeyMap"]["id"]

    history = (await gql(HISTORY, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert [e["node"] for e in history["revisions"]["edges"]] == [
        {"version": 4, "action": "JOURNEY_MAP_RESTORE", "restoredVersion": 1, "copiedFrom": None},
        {"version": 3, "action": "STAGE_REMOVE", "restoredVersion": None, "copiedFrom": None},
        {"version": 2, "action": "JOURNEY_MAP_UPDATE", "restoredVersion": None, "copiedFrom": None},
        {"version": 1, "action": "JOURNEY_MAP_CREATE", "restoredVersion": None, "copiedFrom": None},
    ]
    kinds = {(c["path"].split("/")[0], c["kind"]) for c in history["diff"]}
    assert kinds == {("title", "CHANGED"), ("stages", "REMOVED")}

    copied = (await gql(REVISIONS, {"id": copy}, token=tenant_a.token))["data"]["journeyMap"]
    (first,) = [e["node"] for e in copied["revisions"]["edges"]]
    assert first == {
        "version": 1,
        "action": "JOURNEY_MAP_DUPLICATE",
        "restoredVersion": None,
        "copiedFrom": {"id": map_id},
    }

    trail = (await gql(TRAIL, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token))["data"]
    actions = [e["node"]["action"] for e in trail["workspace"]["auditEvents"]["edges"]]
    assert actions[:5] == [
        "JOURNEY_MAP_DUPLICATE",
        "JOURNEY_MAP_RESTORE",
        "STAGE_REMOVE",
        "JOURNEY_MAP_UPDATE",
        "JOURNEY_MAP_CREATE",
    ]


async def test_an_action_this_version_does_not_know_reads_as_unknown_on_both_engines(
    settings: Settings, database: Database, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    """A text no enum member stores (a newer server's, or one altered in the table) is
    UNKNOWN, never an error that would hide the rest of the trail or the history."""
    created = await _ok(gql, tenant_a, CREATE, ws=tenant_a.ws_gid(0))
    map_id = decode_global_id(created["journeyMap"]["id"])
    assert map_id is not None
    workspace = tenant_a.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as session:
        bind_actor(session, Actor.system())
        await record_note(session, workspace, "from a newer server")
        session.add(
            JourneyMapRevision(
                workspace_id=workspace,
                journey_map_id=map_id[1],
                version=2,
                action="journey_map.recolor",
                snapshot={},
                created_at=utcnow(),
            )
        )
    answers = {}
    async with ordinary_and_planned(settings, database) as clients:
        for planned, client in clients.items():
            trail = await answer(client, TRAIL, {"ws": tenant_a.ws_gid(0)}, tenant_a.token)
            history = await answer(
                client, REVISIONS, {"id": created["journeyMap"]["id"]}, tenant_a.token
            )
            answers[planned] = (trail, history)
    assert answers[True] == answers[False]
    trail, history = (json.loads(text)["data"] for text in answers[True])
    newest = trail["workspace"]["auditEvents"]["edges"][0]["node"]
    assert (newest["action"], newest["subjectType"]) == ("UNKNOWN", "Note")
    revisions = [e["node"] for e in history["journeyMap"]["revisions"]["edges"]]
    assert [(r["version"], r["action"]) for r in revisions] == [
        (2, "UNKNOWN"),
        (1, "JOURNEY_MAP_CREATE"),
    ]
