"""Reading the audit trail and dead letters through GraphQL: who may, and filters."""

from __future__ import annotations

from backend.authz.roles import WorkspaceRole
from backend.db.engine import Database
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
    assert newest["action"] == "workspace_member.update"
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
    assert await sequences({"occurredAfter": "2999-01-01T00:00:00+00:00"}) == []


async def test_only_workspace_admins_see_the_trail_and_dead_letters(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    await _add(gql, tenant_a, "one@x.io")
    _, editor = await add_guest(database, tenant_a.workspace_ids[0], "e@x.io", WorkspaceRole.EDITOR)
    query = """query($ws: ID!) { workspace(id: $ws) { id auditEvents { totalCount }
                 deadLetters { totalCount } } }"""
    as_editor = await gql(query, {"ws": tenant_a.ws_gid(0)}, token=editor)
    assert as_editor["data"]["workspace"]["auditEvents"] is None
    assert as_editor["data"]["workspace"]["deadLetters"] is None
    as_admin = await gql(query, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    assert as_admin["data"]["workspace"]["auditEvents"]["totalCount"] == 1
    assert as_admin["data"]["workspace"]["deadLetters"]["totalCount"] == 0


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
        "action": "workspace.create",
        "subjectId": created["data"]["createWorkspace"]["workspace"]["id"],
    }
    assert actions[-1]["action"] == "organization.create"
    _, guest = await add_guest(database, tenant_a.workspace_ids[0], "g@x.io", WorkspaceRole.ADMIN)
    as_guest = await gql(query, token=guest)
    assert as_guest["data"]["organization"]["auditEvents"] is None


async def test_viewer_reads_their_own_account_trail(gql: GraphQLClient, tenant_a: Tenant) -> None:
    await gql('mutation { createApiToken(input: {name: "ci"}) { token } }', token=tenant_a.token)
    body = await gql(
        "{ viewer { auditEvents { edges { node { action changes } } } } }", token=tenant_a.token
    )
    [newest, *_] = body["data"]["viewer"]["auditEvents"]["edges"]
    assert newest["node"]["action"] == "api_token.create"
    assert newest["node"]["changes"]["name"] == {"before": None, "after": "ci"}
