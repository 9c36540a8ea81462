"""Reading the audit trail and dead letters through GraphQL: who may, and filters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backend.db.engine import Database
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.relay import decode_global_id
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest

ADD_MEMBER = """mutation($ws: ID!, $email: String!, $role: WorkspaceRole!) {
  addWorkspaceMember(input: {workspaceId: $ws, email: $email, role: $role}) {
    member { id } errors { code } } }"""

WORKSPACE_TRAIL = """query($ws: ID!, $filter: AuditEventFilter, $after: String) {
  workspace(id: $ws) { auditEvents(filter: $filter, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { sequence action subjectType subjectId changes requestId
      actor { type tokenId user { email } } prevHash hash } } } } }"""


async def _add(gql: GraphQLClient, tenant: Tenant, email: str, role: str = "VIEWER") -> str:
    body = await gql(
        ADD_MEMBER, {"ws": tenant.ws_gid(0), "email": email, "role": role}, token=tenant.token
    )
    return str(body["data"]["addWorkspaceMember"]["member"]["id"])


async def test_workspace_admin_reads_the_trail_newest_first_with_actor_and_changes(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    first = await _add(gql, tenant_a, "one@x.io")
    await _add(gql, tenant_a, "two@x.io")
    await _add(gql, tenant_a, "one@x.io", "EDITOR")
    body = await gql(WORKSPACE_TRAIL, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    trail = body["data"]["workspace"]["auditEvents"]
    assert trail["totalCount"] == 3
    newest = trail["edges"][0]["node"]
    assert newest["sequence"] == 3
    assert newest["action"] == "WORKSPACE_MEMBER_UPDATE"
    assert newest["subjectId"] == first
    assert newest["changes"]["role"] == {"before": "VIEWER", "after": "EDITOR"}
    assert newest["actor"]["type"] == "API_TOKEN"
    assert newest["actor"]["user"]["email"] == tenant_a.owner_email
    token = decode_global_id(newest["actor"]["tokenId"])
    assert token is not None
    assert token[0] == "ApiToken"
    assert trail["edges"][1]["node"]["hash"] == newest["prevHash"]
    rest = await gql(
        WORKSPACE_TRAIL,
        {"ws": tenant_a.ws_gid(0), "after": trail["pageInfo"]["endCursor"]},
        token=tenant_a.token,
    )
    older = rest["data"]["workspace"]["auditEvents"]
    assert [e["node"]["sequence"] for e in older["edges"]] == [1]
    assert older["pageInfo"]["hasNextPage"] is False


async def test_trail_filters_by_action_prefix_subject_and_actor(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    member = await _add(gql, tenant_a, "one@x.io")
    await _add(gql, tenant_a, "two@x.io")
    await _add(gql, tenant_a, "one@x.io", "EDITOR")

    async def sequences(filter: dict[str, object]) -> list[int]:
        body = await gql(
            WORKSPACE_TRAIL.replace("first: 2", "first: 50"),
            {"ws": tenant_a.ws_gid(0), "filter": filter},
            token=tenant_a.token,
        )
        return [e["node"]["sequence"] for e in body["data"]["workspace"]["auditEvents"]["edges"]]

    assert await sequences({"action": "workspace_member.update"}) == [3]
    assert await sequences({"action": "workspace_member"}) == [3, 2, 1]
    assert await sequences({"action": "workspace_member.ad"}) == []
    assert await sequences({"subjectId": member}) == [3, 1]
    owner = global_id("User", tenant_a.owner_id)
    assert await sequences({"actorId": owner}) == [3, 2, 1]
    assert await sequences({"actorId": global_id("User", tenant_a.workspace_ids[1])}) == []
    assert await sequences({"actorId": "garbage"}) == []
    # Times are taken up to 2200 (docs/security.md, "Input limits").
    assert await sequences({"occurredAfter": "2199-01-01T00:00:00+00:00"}) == []


async def test_trail_filters_by_a_half_open_time_range(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    """occurredAfter is inclusive and occurredBefore exclusive: [after, before)."""
    for n in range(4):
        await _add(gql, tenant_a, f"m{n}@x.io")
    query = WORKSPACE_TRAIL.replace("first: 2", "first: 50").replace(
        "node { sequence", "node { occurredAt sequence"
    )

    async def trail(filter: dict[str, object] | None = None) -> list[tuple[int, datetime]]:
        body = await gql(query, {"ws": tenant_a.ws_gid(0), "filter": filter}, token=tenant_a.token)
        edges = body["data"]["workspace"]["auditEvents"]["edges"]
        return [
            (e["node"]["sequence"], datetime.fromisoformat(e["node"]["occurredAt"])) for e in edges
        ]

    async def sequences(**bounds: datetime) -> list[int]:
        filter = {name: moment.isoformat() for name, moment in bounds.items()}
        return [sequence for sequence, _ in await trail(filter)]

    everything = await trail()
    assert [sequence for sequence, _ in everything] == [4, 3, 2, 1]
    t4, t3, t2, t1 = (moment for _, moment in everything)
    assert t1 < t2 < t3 < t4  # real, distinct times that split the events
    tick = timedelta(microseconds=1)

    assert await sequences(occurredAfter=t2, occurredBefore=t4) == [3, 2]
    assert await sequences(occurredAfter=t2) == [4, 3, 2]
    assert await sequences(occurredBefore=t2) == [1]
    # At the boundaries, to the microsecond.
    assert await sequences(occurredAfter=t2 + tick, occurredBefore=t4 + tick) == [4, 3]
    assert await sequences(occurredAfter=t2 - tick, occurredBefore=t4 - tick) == [3, 2]
    assert await sequences(occurredAfter=t3, occurredBefore=t3) == []
    assert await sequences(occurredAfter=t3, occurredBefore=t3 + tick) == [3]
    assert await sequences(occurredAfter=t4, occurredBefore=t1) == []
    # The same instants written in another zone select the same events.
    elsewhere = timezone(timedelta(hours=-5, minutes=-30))
    assert await sequences(
        occurredAfter=t2.astimezone(elsewhere), occurredBefore=t4.astimezone(elsewhere)
    ) == [3, 2]
    # The count and the pages follow the range too.
    body = await gql(
        WORKSPACE_TRAIL,
        {
            "ws": tenant_a.ws_gid(0),
            "filter": {"occurredAfter": t1.isoformat(), "occurredBefore": t4.isoformat()},
        },
        token=tenant_a.token,
    )
    ranged = body["data"]["workspace"]["auditEvents"]
    assert ranged["totalCount"] == 3
    assert [e["node"]["sequence"] for e in ranged["edges"]] == [3, 2]
    assert ranged["pageInfo"]["hasNextPage"] is True


async def test_only_workspace_admins_see_the_trail_and_dead_letters(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    await _add(gql, tenant_a, "one@x.io")
    _, editor = await add_guest(database, tenant_a.workspace_ids[0], "e@x.io", WorkspaceRole.EDITOR)
    query = """query($ws: ID!) { workspace(id: $ws) { id auditEvents { totalCount }
                 deadLetters { totalCount } } }"""
    as_editor = await gql(query, {"ws": tenant_a.ws_gid(0)}, token=editor)
    assert as_editor["data"]["workspace"]["id"] == tenant_a.ws_gid(0)  # sees the workspace
    assert as_editor["data"]["workspace"]["auditEvents"] is None
    assert as_editor["data"]["workspace"]["deadLetters"] is None
    as_admin = await gql(query, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    assert as_admin["data"]["workspace"]["auditEvents"]["totalCount"] == 1
    assert as_admin["data"]["workspace"]["deadLetters"]["totalCount"] == 0


async def test_a_workspace_admin_without_org_membership_sees_that_workspace_trail_only(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    await _add(gql, tenant_a, "one@x.io")
    _, admin = await add_guest(database, tenant_a.workspace_ids[0], "a@x.io", WorkspaceRole.ADMIN)
    query = """query($ws: ID!) { workspace(id: $ws) { viewerRole auditEvents { totalCount
                 edges { node { sequence action actor { user { email } } } } }
                 deadLetters { totalCount } } }"""
    # The guest's own change lands in the trail they read.
    body = await gql(
        ADD_MEMBER,
        {"ws": tenant_a.ws_gid(0), "email": "two@x.io", "role": "VIEWER"},
        token=admin,
    )
    assert body["data"]["addWorkspaceMember"]["errors"] == []
    as_guest = await gql(query, {"ws": tenant_a.ws_gid(0)}, token=admin)
    workspace = as_guest["data"]["workspace"]
    assert workspace["viewerRole"] == "ADMIN"
    assert workspace["auditEvents"]["totalCount"] == 2
    [newest, oldest] = [e["node"] for e in workspace["auditEvents"]["edges"]]
    assert (newest["sequence"], newest["actor"]["user"]["email"]) == (2, "a@x.io")
    assert (oldest["sequence"], oldest["action"]) == (1, "WORKSPACE_MEMBER_ADD")
    assert workspace["deadLetters"]["totalCount"] == 0
    # The role is in one workspace: the organization's other workspace stays out of reach.
    other = await gql(query, {"ws": tenant_a.ws_gid(1)}, token=admin)
    assert other["data"]["workspace"] is None


async def test_organization_trail_is_for_org_admins(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    created = await gql(
        """mutation($org: ID!) { createWorkspace(input: {organizationId: $org, name: "New"}) {
             workspace { id } } }""",
        {"org": tenant_a.org_gid},
        token=tenant_a.token,
    )
    query = (
        '{ organization(slug: "alpha") { auditEvents { edges { node { action subjectId } } } } }'
    )
    body = await gql(query, token=tenant_a.token)
    actions = [e["node"] for e in body["data"]["organization"]["auditEvents"]["edges"]]
    assert actions[0] == {
        "action": "WORKSPACE_CREATE",
        "subjectId": created["data"]["createWorkspace"]["workspace"]["id"],
    }
    assert actions[-1]["action"] == "ORGANIZATION_CREATE"
    _, guest = await add_guest(database, tenant_a.workspace_ids[0], "g@x.io", WorkspaceRole.ADMIN)
    as_guest = await gql(query, token=guest)
    assert as_guest["data"]["organization"]["auditEvents"] is None


async def test_viewer_reads_their_own_account_trail(gql: GraphQLClient, tenant_a: Tenant) -> None:
    await gql('mutation { createApiToken(input: {name: "ci"}) { token } }', token=tenant_a.token)
    body = await gql(
        "{ viewer { auditEvents { edges { node { action changes } } } } }", token=tenant_a.token
    )
    [newest, *_] = body["data"]["viewer"]["auditEvents"]["edges"]
    assert newest["node"]["action"] == "API_TOKEN_CREATE"
    assert newest["node"]["changes"]["name"] == {"before": None, "after": "ci"}


@pytest.mark.parametrize("moment", ["2024-01-01T00:00:00", "2024-01-01"])
async def test_a_time_bound_without_an_offset_is_refused_with_a_located_error(
    gql: GraphQLClient, tenant_a: Tenant, moment: str
) -> None:
    await _add(gql, tenant_a, "one@x.io")
    body = await gql(
        WORKSPACE_TRAIL,
        {"ws": tenant_a.ws_gid(0), "filter": {"occurredAfter": moment}},
        token=tenant_a.token,
        expect_errors=True,
    )
    [error] = body["errors"]
    assert "occurredAfter" in error["message"]
    assert "it needs a UTC offset, like 2026-01-31T09:00:00Z" in error["message"]
    assert error["locations"]
    assert error.get("extensions", {}).get("code") != "INTERNAL"
