"""The foundation operations, as a client uses them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import ApiToken
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest

CREATE_WORKSPACE = """
mutation($input: CreateWorkspaceInput!) {
  createWorkspace(input: $input) {
    workspace { id name viewerRole organization { slug } }
    errors { code message field }
  }
}"""

UPDATE_WORKSPACE = """
mutation($input: UpdateWorkspaceInput!) {
  updateWorkspace(input: $input) {
    workspace { id name viewerRole }
    errors { code message field }
  }
}"""

ADD_MEMBER = """
mutation($input: AddWorkspaceMemberInput!) {
  addWorkspaceMember(input: $input) {
    member { id role user { email } workspace { id } }
    errors { code message field }
  }
}"""

CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    token
    apiToken { id name prefix readOnly workspace { id } lastUsedAt revokedAt }
    errors { code message field }
  }
}"""

REVOKE_TOKEN = """
mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } errors { code field } }
}"""

VIEWER_WORKSPACES = "{ viewer { workspaces { totalCount edges { node { id name viewerRole } } } } }"


def workspace_ids(body: dict[str, Any]) -> set[str]:
    return {e["node"]["id"] for e in body["data"]["viewer"]["workspaces"]["edges"]}


async def test_viewer_answers_the_token_owner(gql: GraphQLClient, tenant_a: Tenant) -> None:
    body = await gql("{ viewer { user { email } } }", token=tenant_a.token)
    assert body["data"]["viewer"]["user"]["email"] == tenant_a.owner_email


async def test_org_owner_is_admin_in_every_workspace(gql: GraphQLClient, tenant_a: Tenant) -> None:
    body = await gql(VIEWER_WORKSPACES, token=tenant_a.token)
    workspaces = body["data"]["viewer"]["workspaces"]
    assert workspaces["totalCount"] == 2
    assert {e["node"]["viewerRole"] for e in workspaces["edges"]} == {"ADMIN"}


async def test_organization_by_slug_with_viewer_role(gql: GraphQLClient, tenant_a: Tenant) -> None:
    body = await gql(
        '{ organization(slug: "ALPHA") { id slug kind viewerRole workspaces { totalCount } } }',
        token=tenant_a.token,
    )
    org = body["data"]["organization"]
    assert org == {
        "id": tenant_a.org_gid,
        "slug": "alpha",
        "kind": "AGENCY",
        "viewerRole": "OWNER",
        "workspaces": {"totalCount": 2},
    }


async def test_workspace_by_id_and_node_agree(gql: GraphQLClient, tenant_a: Tenant) -> None:
    ws = tenant_a.ws_gid(0)
    body = await gql(
        """query($id: ID!) {
             workspace(id: $id) { id name viewerRole }
             node(id: $id) { id ... on Workspace { name } }
           }""",
        {"id": ws},
        token=tenant_a.token,
    )
    assert body["data"]["workspace"]["id"] == ws
    assert body["data"]["workspace"]["viewerRole"] == "ADMIN"
    assert body["data"]["node"] == {"id": ws, "name": body["data"]["workspace"]["name"]}


async def test_global_ids_are_opaque(gql: GraphQLClient, tenant_a: Tenant) -> None:
    body = await gql("{ viewer { user { id } } }", token=tenant_a.token)
    assert str(tenant_a.owner_id) not in body["data"]["viewer"]["user"]["id"]


async def test_create_workspace_as_org_owner(gql: GraphQLClient, tenant_a: Tenant) -> None:
    body = await gql(
        CREATE_WORKSPACE,
        {"input": {"organizationId": tenant_a.org_gid, "name": "  New client  "}},
        token=tenant_a.token,
    )
    payload = body["data"]["createWorkspace"]
    assert payload["errors"] == []
    assert payload["workspace"]["name"] == "New client"
    assert payload["workspace"]["organization"] == {"slug": "alpha"}
    after = await gql(VIEWER_WORKSPACES, token=tenant_a.token)
    assert payload["workspace"]["id"] in workspace_ids(after)


async def test_create_workspace_refuses_a_duplicate_or_blank_name(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    for name, message in (("alpha client 1", "already exists"), ("   ", "blank")):
        body = await gql(
            CREATE_WORKSPACE,
            {"input": {"organizationId": tenant_a.org_gid, "name": name}},
            token=tenant_a.token,
        )
        payload = body["data"]["createWorkspace"]
        assert payload["workspace"] is None
        [error] = payload["errors"]
        assert error["code"] == "VALIDATION"
        assert error["field"] == "input.name"
        assert message in error["message"]
    after = await gql(VIEWER_WORKSPACES, token=tenant_a.token)
    assert after["data"]["viewer"]["workspaces"]["totalCount"] == 2


async def _update_workspace(gql: GraphQLClient, token: str, **input_: object) -> dict[str, Any]:
    body = await gql(UPDATE_WORKSPACE, {"input": input_}, token=token)
    return dict(body["data"]["updateWorkspace"])


async def test_a_workspace_admin_renames_the_workspace_and_the_trail_says_so(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    _, admin = await add_guest(database, tenant_a.workspace_ids[0], "a@x.io", WorkspaceRole.ADMIN)
    payload = await _update_workspace(gql, admin, id=tenant_a.ws_gid(0), name="  Acme retail ")
    assert payload == {
        "workspace": {"id": tenant_a.ws_gid(0), "name": "Acme retail", "viewerRole": "ADMIN"},
        "errors": [],
    }
    # Left out, the name stays; the change is in the workspace's own trail.
    assert (await _update_workspace(gql, admin, id=tenant_a.ws_gid(0)))["workspace"]["name"] == (
        "Acme retail"
    )
    trail = await gql(
        """query($ws: ID!) { workspace(id: $ws) { name auditEvents(first: 2) { edges { node {
          action subjectId changes actor { user { email } } } } } } }""",
        {"ws": tenant_a.ws_gid(0)},
        token=tenant_a.token,
    )
    workspace = trail["data"]["workspace"]
    assert workspace["name"] == "Acme retail"
    events = [e["node"] for e in workspace["auditEvents"]["edges"]]
    assert events[1] == {
        "action": "WORKSPACE_UPDATE",
        "subjectId": tenant_a.ws_gid(0),
        "changes": {"name": {"before": "alpha client 1", "after": "Acme retail"}},
        "actor": {"user": {"email": "a@x.io"}},
    }
    assert (events[0]["action"], events[0]["changes"]) == ("WORKSPACE_UPDATE", {})


async def test_update_workspace_refuses_a_taken_blank_or_null_name(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    for name, message in (
        ("alpha client 2", "already exists"),
        ("   ", "blank"),
        (None, "Must not be null."),
    ):
        payload = await _update_workspace(gql, tenant_a.token, id=tenant_a.ws_gid(0), name=name)
        assert payload["workspace"] is None
        [error] = payload["errors"]
        assert (error["code"], error["field"]) == ("VALIDATION", "input.name")
        assert message in error["message"]
    # Its own name again is no clash.
    same = await _update_workspace(
        gql, tenant_a.token, id=tenant_a.ws_gid(0), name="alpha client 1"
    )
    assert same["errors"] == []


async def test_update_workspace_is_for_its_admins_only(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    _, editor = await add_guest(database, tenant_a.workspace_ids[0], "e@x.io", WorkspaceRole.EDITOR)
    refused = await _update_workspace(gql, editor, id=tenant_a.ws_gid(0), name="Mine now")
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    for token, workspace in ((editor, tenant_a.ws_gid(1)), (tenant_b.token, tenant_a.ws_gid(0))):
        unseen = await _update_workspace(gql, token, id=workspace, name="Mine now")
        assert unseen["errors"] == [
            {"code": "NOT_FOUND", "message": "Workspace not found.", "field": "input.id"}
        ]
    names = await gql(VIEWER_WORKSPACES, token=tenant_a.token)
    assert "Mine now" not in json.dumps(names)


async def test_malformed_id_is_a_located_validation_error(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    body = await gql(
        CREATE_WORKSPACE,
        {"input": {"organizationId": "not-an-id", "name": "x"}},
        token=tenant_a.token,
    )
    [error] = body["data"]["createWorkspace"]["errors"]
    assert error == {
        "code": "VALIDATION",
        "message": "Not a valid Organization id.",
        "field": "input.organizationId",
    }


async def test_org_member_without_admin_gets_forbidden(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    # A guest holds a workspace role but sees the organization only through it.
    _, token = await add_guest(database, tenant_a.workspace_ids[0], "g@x.io", WorkspaceRole.ADMIN)
    body = await gql(
        CREATE_WORKSPACE, {"input": {"organizationId": tenant_a.org_gid, "name": "n"}}, token=token
    )
    [error] = body["data"]["createWorkspace"]["errors"]
    assert error["code"] == "FORBIDDEN"


async def test_add_member_invites_a_guest_who_sees_only_that_workspace(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    ws = tenant_a.ws_gid(0)
    body = await gql(
        ADD_MEMBER,
        {"input": {"workspaceId": ws, "email": "Client@Customer.COM", "role": "VIEWER"}},
        token=tenant_a.token,
    )
    member = body["data"]["addWorkspaceMember"]["member"]
    assert member["role"] == "VIEWER"
    assert member["user"]["email"] == "client@customer.com"
    assert member["workspace"]["id"] == ws

    # Adding again changes the role, not the number of members.
    again = await gql(
        ADD_MEMBER,
        {"input": {"workspaceId": ws, "email": "client@customer.com", "role": "EDITOR"}},
        token=tenant_a.token,
    )
    assert again["data"]["addWorkspaceMember"]["member"]["id"] == member["id"]
    members = await gql(
        "query($id: ID!) { workspace(id: $id) { members { totalCount edges { node { role } } } } }",
        {"id": ws},
        token=tenant_a.token,
    )
    assert members["data"]["workspace"]["members"]["totalCount"] == 1
    assert members["data"]["workspace"]["members"]["edges"][0]["node"]["role"] == "EDITOR"


async def test_guest_sees_one_workspace_and_its_org_without_an_org_role(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    _, token = await add_guest(database, tenant_a.workspace_ids[1], "g@x.io", WorkspaceRole.EDITOR)
    body = await gql(VIEWER_WORKSPACES, token=token)
    assert workspace_ids(body) == {tenant_a.ws_gid(1)}
    assert body["data"]["viewer"]["workspaces"]["edges"][0]["node"]["viewerRole"] == "EDITOR"
    org = await gql(
        '{ organization(slug: "alpha") { viewerRole workspaces { totalCount } } }', token=token
    )
    assert org["data"]["organization"] == {"viewerRole": None, "workspaces": {"totalCount": 1}}


async def test_viewer_cannot_add_members(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    _, token = await add_guest(database, tenant_a.workspace_ids[0], "v@x.io", WorkspaceRole.VIEWER)
    body = await gql(
        ADD_MEMBER,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "email": "z@x.io", "role": "ADMIN"}},
        token=token,
    )
    payload = body["data"]["addWorkspaceMember"]
    assert payload["member"] is None
    assert payload["errors"][0]["code"] == "FORBIDDEN"


async def test_add_member_rejects_a_bad_email_with_its_field(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    body = await gql(
        ADD_MEMBER,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "email": "not an email", "role": "VIEWER"}},
        token=tenant_a.token,
    )
    [error] = body["data"]["addWorkspaceMember"]["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", "input.email")


async def test_api_token_is_shown_once_stored_hashed_and_works(
    gql: GraphQLClient, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    body = await gql(CREATE_TOKEN, {"input": {"name": "ci"}}, token=tenant_a.token)
    payload = body["data"]["createApiToken"]
    secret = payload["token"]
    assert secret.startswith("wp_")
    assert secret.startswith(payload["apiToken"]["prefix"])

    listed = await gql(
        "{ viewer { apiTokens { totalCount edges { node { name prefix } } } } }",
        token=secret,
    )
    assert listed["data"]["viewer"]["apiTokens"]["totalCount"] == 2
    assert secret not in str(listed)

    async with inspector_engine.connect() as conn:
        dump = str((await conn.execute(text("select * from api_tokens"))).all())
    assert secret not in dump
    assert secret[len("wp_") :] not in dump


async def test_token_records_its_last_use(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    created = await gql(CREATE_TOKEN, {"input": {"name": "t"}}, token=tenant_a.token)
    assert created["data"]["createApiToken"]["apiToken"]["lastUsedAt"] is None
    await gql("{ viewer { user { email } } }", token=created["data"]["createApiToken"]["token"])
    async with database.transaction(TenantBinding(account_id=tenant_a.owner_id)) as session:
        token = await session.scalar(select(ApiToken).where(ApiToken.name == "t"))
    assert token is not None
    assert token.last_used_at is not None


async def test_revoked_token_is_refused(gql: GraphQLClient, tenant_a: Tenant) -> None:
    created = await gql(CREATE_TOKEN, {"input": {"name": "short-lived"}}, token=tenant_a.token)
    secret = created["data"]["createApiToken"]["token"]
    token_id = created["data"]["createApiToken"]["apiToken"]["id"]
    revoked = await gql(REVOKE_TOKEN, {"id": token_id}, token=tenant_a.token)
    assert revoked["data"]["revokeApiToken"]["apiToken"]["revokedAt"] is not None
    body = await gql("{ viewer { user { email } } }", token=secret, expect_errors=True)
    assert "data" not in body  # refused before anything ran
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_workspace_limited_token_reaches_only_its_workspace(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    created = await gql(
        CREATE_TOKEN,
        {"input": {"name": "one", "workspaceId": tenant_a.ws_gid(1)}},
        token=tenant_a.token,
    )
    payload = created["data"]["createApiToken"]
    assert payload["apiToken"]["workspace"] == {"id": tenant_a.ws_gid(1)}
    limited = payload["token"]
    assert workspace_ids(await gql(VIEWER_WORKSPACES, token=limited)) == {tenant_a.ws_gid(1)}
    other = await gql(
        "query($id: ID!) { workspace(id: $id) { id } }", {"id": tenant_a.ws_gid(0)}, token=limited
    )
    assert other["data"]["workspace"] is None
    # No organization powers either, and no minting of a wider token.
    ws = await gql(
        CREATE_WORKSPACE,
        {"input": {"organizationId": tenant_a.org_gid, "name": "x"}},
        token=limited,
    )
    assert ws["data"]["createWorkspace"]["errors"][0]["code"] == "FORBIDDEN"
    wider = await gql(CREATE_TOKEN, {"input": {"name": "wider"}}, token=limited)
    assert wider["data"]["createApiToken"]["errors"][0]["code"] == "FORBIDDEN"
    assert wider["data"]["createApiToken"]["token"] is None


async def test_read_only_token_reads_but_cannot_write(gql: GraphQLClient, tenant_a: Tenant) -> None:
    created = await gql(
        CREATE_TOKEN, {"input": {"name": "ro", "readOnly": True}}, token=tenant_a.token
    )
    read_only = created["data"]["createApiToken"]["token"]
    assert (await gql(VIEWER_WORKSPACES, token=read_only))["data"]["viewer"]["workspaces"][
        "totalCount"
    ] == 2
    body = await gql(
        CREATE_WORKSPACE,
        {"input": {"organizationId": tenant_a.org_gid, "name": "nope"}},
        token=read_only,
    )
    [error] = body["data"]["createWorkspace"]["errors"]
    assert error["code"] == "FORBIDDEN"
    assert "read-only" in error["message"]
    after = await gql(VIEWER_WORKSPACES, token=tenant_a.token)
    assert after["data"]["viewer"]["workspaces"]["totalCount"] == 2


async def test_connections_page_with_cursors_and_total_count(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    for n in range(3):
        await gql(
            CREATE_WORKSPACE,
            {"input": {"organizationId": tenant_a.org_gid, "name": f"extra {n}"}},
            token=tenant_a.token,
        )
    query = """query($after: String) { viewer { workspaces(first: 2, after: $after) {
                 totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(query, {"after": after}, token=tenant_a.token))["data"]["viewer"][
            "workspaces"
        ]
        assert page["totalCount"] == 5
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 5


async def test_bad_cursor_is_a_located_validation_error(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    body = await gql(
        '{ viewer { workspaces(after: "garbage!!") { totalCount } } }',
        token=tenant_a.token,
        expect_errors=True,
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert error["path"] == ["viewer", "workspaces"]


async def test_node_resolves_every_node_type_of_ones_own(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    member = await gql(
        ADD_MEMBER,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "email": "m@x.io", "role": "VIEWER"}},
        token=tenant_a.token,
    )
    token = await gql(CREATE_TOKEN, {"input": {"name": "n"}}, token=tenant_a.token)
    ids = {
        "Organization": tenant_a.org_gid,
        "Workspace": tenant_a.ws_gid(0),
        "WorkspaceMember": member["data"]["addWorkspaceMember"]["member"]["id"],
        "ApiToken": token["data"]["createApiToken"]["apiToken"]["id"],
        "User": global_id("User", tenant_a.owner_id),
    }
    for type_name, node_id in ids.items():
        body = await gql(
            "query($id: ID!) { node(id: $id) { __typename id } }",
            {"id": node_id},
            token=tenant_a.token,
        )
        assert body["data"]["node"] == {"__typename": type_name, "id": node_id}


async def test_nested_connections_page_through_with_cursors(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    for email in ("m1@x.io", "m2@x.io", "m3@x.io"):
        await gql(
            ADD_MEMBER,
            {"input": {"workspaceId": tenant_a.ws_gid(0), "email": email, "role": "VIEWER"}},
            token=tenant_a.token,
        )
    query = """query($id: ID!, $after: String) { workspace(id: $id) {
                 members(first: 2, after: $after) {
                   totalCount pageInfo { hasNextPage endCursor } edges { node { user { email } } }
               } } }"""
    first = (await gql(query, {"id": tenant_a.ws_gid(0)}, token=tenant_a.token))["data"]
    page = first["workspace"]["members"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    second = await gql(
        query,
        {"id": tenant_a.ws_gid(0), "after": page["pageInfo"]["endCursor"]},
        token=tenant_a.token,
    )
    rest = second["data"]["workspace"]["members"]
    assert rest["totalCount"] == 3
    assert rest["pageInfo"]["hasNextPage"] is False
    emails = [e["node"]["user"]["email"] for e in page["edges"] + rest["edges"]]
    assert sorted(emails) == ["m1@x.io", "m2@x.io", "m3@x.io"]


async def test_limited_token_sees_and_revokes_only_tokens_of_its_workspace(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    created = await gql(
        CREATE_TOKEN,
        {"input": {"name": "one", "workspaceId": tenant_a.ws_gid(0)}},
        token=tenant_a.token,
    )
    limited = created["data"]["createApiToken"]["token"]
    listed = await gql("{ viewer { apiTokens { edges { node { id name } } } } }", token=limited)
    assert [e["node"]["name"] for e in listed["data"]["viewer"]["apiTokens"]["edges"]] == ["one"]
    full_power = await gql(
        "{ viewer { apiTokens { edges { node { id name } } } } }", token=tenant_a.token
    )
    bootstrap_id = next(
        e["node"]["id"]
        for e in full_power["data"]["viewer"]["apiTokens"]["edges"]
        if e["node"]["name"] == "bootstrap"
    )
    revoked = await gql(REVOKE_TOKEN, {"id": bootstrap_id}, token=limited)
    assert revoked["data"]["revokeApiToken"]["errors"] == [
        {"code": "NOT_FOUND", "field": "input.id"}
    ]
    still = await gql("{ viewer { user { email } } }", token=tenant_a.token)
    assert still["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
