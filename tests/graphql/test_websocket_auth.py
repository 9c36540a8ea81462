"""GraphQL over WebSocket is authenticated like HTTP, operation by operation.

Each test drives a real socket (graphql-transport-ws) against the app under uvicorn
on loopback, the way a browser library or a script would: credentials in
``connectionParams`` or the handshake, queries and mutations as ``subscribe``
messages, revocations made meanwhile over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.sessions import CSRF_HEADER, NewSession
from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.models import OrganizationMembership
from backend.settings import Settings
from backend.tenancy import service
from backend.vocabulary.roles import OrgRole
from tests.fixtures.graphql import global_id
from tests.fixtures.node_clients import run_graphql_ws
from tests.fixtures.sockets import (
    GraphQLSocket,
    cookie_header,
    graphql_socket,
    open_browser_session,
    serve,
)
from tests.fixtures.tenants import Tenant

APP_ORIGIN = "https://app.waypost.example"  # the server's own origin (base_url)
SESSION_SETTINGS = Settings()  # only its session lifetimes are read

VIEWER = "{ viewer { user { email } } }"
CREATE_WORKSPACE = """mutation($input: CreateWorkspaceInput!) {
  createWorkspace(input: $input) { workspace { name } errors { code field } } }"""
REVOKE_TOKEN = """mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { apiToken { revokedAt } errors { code } } }"""
SIGN_OUT_EVERYWHERE = """mutation {
  signOutEverywhere(input: {}) { sessionsEnded errors { code } } }"""
REMOVE_FROM_ORG = """mutation($org: ID!, $user: ID!) {
  removeOrganizationMember(input: {organizationId: $org, userId: $user}) {
    removedUserId errors { code } } }"""


@dataclass
class Server:
    address: str  # host:port on loopback
    http: httpx.AsyncClient  # plain HTTP to the same server

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body


@pytest_asyncio.fixture(loop_scope="session")
async def server(settings: Settings, database: Database) -> AsyncIterator[Server]:
    app = create_app(settings.model_copy(update={"base_url": APP_ORIGIN}), database=database)
    async with serve(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        yield Server(address, http)


def code_of(result: dict[str, Any]) -> str | None:
    errors = result.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None


def email_of(result: dict[str, Any]) -> str:
    assert not result.get("errors"), result
    email: str = result["data"]["viewer"]["user"]["email"]
    return email


async def second_token(database: Database, tenant: Tenant, name: str = "socket") -> tuple[str, str]:
    """Another full token of the tenant's owner: (plaintext, global id)."""
    async with database.transaction(tenant.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        issued = await service.issue_token(session, tenant.owner_id, name=name)
    return issued.plaintext, global_id("ApiToken", issued.token.id)


async def owner_session(database: Database, tenant: Tenant) -> NewSession:
    return await open_browser_session(
        database,
        SESSION_SETTINGS,
        user_id=tenant.owner_id,
        organization_id=tenant.organization_id,
    )


def cookie_socket(
    server: Server,
    opened: NewSession,
    params: dict[str, Any] | None = None,
    origin: str | None = APP_ORIGIN,
) -> Any:
    """Signed in by cookie: a browser page on our own origin, or a client sending none."""
    return graphql_socket(
        server.address, headers=cookie_header(opened), origin=origin, params=params
    )


# Who holds a cookie: our own page in a browser, or a script that sends no Origin.
COOKIE_CLIENTS = pytest.mark.parametrize(
    "origin", [pytest.param(APP_ORIGIN, id="own-page"), pytest.param(None, id="no-origin")]
)


def token_socket(server: Server, token: str, how: str) -> Any:
    if how == "params":
        return graphql_socket(server.address, params={"authorization": f"Bearer {token}"})
    return graphql_socket(server.address, headers={"Authorization": f"Bearer {token}"})


TOKEN_CLIENTS = pytest.mark.parametrize("how", ["params", "handshake-header"])


# -- frames --------------------------------------------------------------------------------


async def test_every_frame_is_text(server: Server, tenant_a: Tenant) -> None:
    params = {"authorization": f"Bearer {tenant_a.token}"}
    async with graphql_socket(server.address, params=params) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
    assert len(socket.frame_types) == 5  # ack, then next and complete twice
    assert set(socket.frame_types) == {str}


async def test_the_legacy_graphql_ws_protocol_is_not_offered(server: Server) -> None:
    async with connect(
        f"ws://{server.address}/graphql", subprotocols=[Subprotocol("graphql-ws")]
    ) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    assert ws.subprotocol is None
    assert ws.close_code == 4406


# -- credentials in connectionParams --------------------------------------------------------


@pytest.mark.parametrize("key", ["authorization", "Authorization", "AUTHORIZATION"])
async def test_a_token_in_connection_params_signs_in(
    key: str, server: Server, tenant_a: Tenant
) -> None:
    async with graphql_socket(server.address, params={key: f"Bearer {tenant_a.token}"}) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email


async def test_a_token_in_the_handshake_header_signs_in(server: Server, tenant_a: Tenant) -> None:
    headers = {"Authorization": f"Bearer {tenant_a.token}"}
    async with graphql_socket(server.address, headers=headers) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("Bearer wp_not_a_real_token_at_all_0123456789", id="unknown-token"),
        pytest.param("Basic b3duZXI6cGFzcw==", id="other-scheme"),
        pytest.param(42, id="not-a-string"),
    ],
)
async def test_a_bad_credential_in_connection_params_does_not_fall_back_to_the_cookie(
    sent: object, server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    async with cookie_socket(server, opened, {"authorization": sent}) as socket:
        assert code_of(await socket.execute(VIEWER)) == "UNAUTHENTICATED"


@pytest.mark.parametrize("sent", ["", None])
async def test_an_empty_authorization_param_is_no_credential_as_on_http(
    sent: object, server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    async with cookie_socket(server, opened, {"authorization": sent}) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email


async def test_without_any_credential_an_operation_is_unauthenticated(server: Server) -> None:
    async with graphql_socket(server.address) as socket:
        result = await socket.execute(VIEWER)
    assert code_of(result) == "UNAUTHENTICATED"
    assert result["data"] is None


# -- revocation takes effect at the next operation ------------------------------------------


@TOKEN_CLIENTS
async def test_a_token_revoked_mid_socket_is_refused_at_the_next_operation(
    how: str, server: Server, database: Database, tenant_a: Tenant
) -> None:
    token, token_id = await second_token(database, tenant_a)
    async with token_socket(server, token, how) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
        revoked = await server.graphql(
            REVOKE_TOKEN, {"id": token_id}, Authorization=f"Bearer {tenant_a.token}"
        )
        assert revoked["data"]["revokeApiToken"]["errors"] == []
        assert code_of(await socket.execute(VIEWER)) == "UNAUTHENTICATED"
        refused = await socket.execute(
            CREATE_WORKSPACE, {"input": {"organizationId": tenant_a.org_gid, "name": "late"}}
        )
        assert code_of(refused) == "UNAUTHENTICATED"
        assert refused["data"] is None


@TOKEN_CLIENTS
async def test_a_token_that_revokes_itself_over_the_socket_is_refused_next(
    how: str, server: Server, database: Database, tenant_a: Tenant
) -> None:
    token, token_id = await second_token(database, tenant_a)
    async with token_socket(server, token, how) as socket:
        revoked = await socket.execute(REVOKE_TOKEN, {"id": token_id})
        assert revoked["data"]["revokeApiToken"]["errors"] == []
        assert code_of(await socket.execute(VIEWER)) == "UNAUTHENTICATED"


@COOKIE_CLIENTS
async def test_sign_out_everywhere_ends_an_open_cookie_socket(
    origin: str | None, server: Server, database: Database, tenant_a: Tenant
) -> None:
    laptop = await owner_session(database, tenant_a)
    phone = await owner_session(database, tenant_a)
    async with cookie_socket(server, laptop, origin=origin) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
        ended = await server.graphql(
            SIGN_OUT_EVERYWHERE,
            Cookie=cookie_header(phone)["Cookie"],
            **{CSRF_HEADER: phone.csrf_token},
        )
        assert ended["data"]["signOutEverywhere"] == {"sessionsEnded": 2, "errors": []}
        assert code_of(await socket.execute(VIEWER)) == "UNAUTHENTICATED"


@COOKIE_CLIENTS
async def test_logout_ends_an_open_cookie_socket(
    origin: str | None, server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    async with cookie_socket(server, opened, origin=origin) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
        response = await server.http.post(
            "/auth/logout", headers={**cookie_header(opened), CSRF_HEADER: opened.csrf_token}
        )
        assert response.status_code == 204
        assert code_of(await socket.execute(VIEWER)) == "UNAUTHENTICATED"


@COOKIE_CLIENTS
async def test_removal_from_the_organization_ends_an_open_cookie_socket(
    origin: str | None, server: Server, database: Database, tenant_a: Tenant
) -> None:
    member_id = await _org_member(database, tenant_a, "leaver@alpha.example")
    opened = await open_browser_session(
        database, SESSION_SETTINGS, user_id=member_id, organization_id=tenant_a.organization_id
    )
    async with cookie_socket(server, opened, origin=origin) as socket:
        assert email_of(await socket.execute(VIEWER)) == "leaver@alpha.example"
        removed = await server.graphql(
            REMOVE_FROM_ORG,
            {"org": tenant_a.org_gid, "user": global_id("User", member_id)},
            Authorization=f"Bearer {tenant_a.token}",
        )
        assert removed["data"]["removeOrganizationMember"]["errors"] == []
        assert code_of(await socket.execute(VIEWER)) == "UNAUTHENTICATED"


async def _org_member(database: Database, tenant: Tenant, email: str) -> UUID:
    async with database.transaction(tenant.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        user = await service.user_for_email(session, email)
        session.add(
            OrganizationMembership(
                organization_id=tenant.organization_id, user_id=user.id, role=OrgRole.MEMBER
            )
        )
    return user.id


# -- CSRF on cookie sockets -----------------------------------------------------------------


def _new_workspace(tenant: Tenant, name: str) -> dict[str, Any]:
    return {"input": {"organizationId": tenant.org_gid, "name": name}}


@COOKIE_CLIENTS
async def test_a_cookie_socket_without_the_csrf_token_runs_no_mutation(
    origin: str | None, server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    async with cookie_socket(server, opened, origin=origin) as socket:
        # A query first: what the socket learned then must not carry over to a mutation.
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
        refused = await socket.execute(CREATE_WORKSPACE, _new_workspace(tenant_a, "forged"))
    assert code_of(refused) == "UNAUTHENTICATED"
    assert refused["data"] is None
    assert "forged" not in await _workspace_names(server, tenant_a)


async def test_a_wrong_csrf_token_is_refused(
    server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    async with cookie_socket(server, opened, {"csrfToken": "not-the-token"}) as socket:
        refused = await socket.execute(CREATE_WORKSPACE, _new_workspace(tenant_a, "forged"))
    assert code_of(refused) == "UNAUTHENTICATED"


@pytest.mark.parametrize("key", ["csrfToken", "X-Waypost-CSRF", "x-waypost-csrf"])
async def test_the_csrf_token_in_connection_params_lets_a_cookie_socket_mutate(
    key: str, server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    async with cookie_socket(server, opened, {key: opened.csrf_token}) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
        made = await socket.execute(CREATE_WORKSPACE, _new_workspace(tenant_a, "by socket"))
    assert made["data"]["createWorkspace"] == {"workspace": {"name": "by socket"}, "errors": []}


async def test_a_token_socket_needs_no_csrf_token(server: Server, tenant_a: Tenant) -> None:
    params = {"authorization": f"Bearer {tenant_a.token}"}
    async with graphql_socket(server.address, params=params) as socket:
        made = await socket.execute(CREATE_WORKSPACE, _new_workspace(tenant_a, "by token"))
    assert made["data"]["createWorkspace"]["errors"] == []


async def _workspace_names(server: Server, tenant: Tenant) -> set[str]:
    body = await server.graphql(
        "{ viewer { workspaces { edges { node { name } } } } }",
        Authorization=f"Bearer {tenant.token}",
    )
    return {e["node"]["name"] for e in body["data"]["viewer"]["workspaces"]["edges"]}


# -- Origin: cross-site WebSocket hijacking -------------------------------------------------


async def test_a_page_on_another_site_cannot_open_a_socket_with_the_cookie(
    server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    with pytest.raises(InvalidStatus) as refused:
        async with graphql_socket(
            server.address,
            headers=cookie_header(opened),
            origin="https://evil.example",
            params={"csrfToken": opened.csrf_token},
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_the_cookie_counts_only_from_the_servers_own_origin(
    server: Server, database: Database, tenant_a: Tenant
) -> None:
    """An origin matching the Host the socket reached, but not base_url: no cookie identity."""
    opened = await owner_session(database, tenant_a)
    async with graphql_socket(
        server.address,
        headers=cookie_header(opened),
        origin=f"http://{server.address}",
        params={"csrfToken": opened.csrf_token},
    ) as socket:
        assert code_of(await socket.execute(VIEWER)) == "UNAUTHENTICATED"
        refused = await socket.execute(CREATE_WORKSPACE, _new_workspace(tenant_a, "hijacked"))
    assert code_of(refused) == "UNAUTHENTICATED"
    assert "hijacked" not in await _workspace_names(server, tenant_a)


LISTED_ORIGIN = "https://spa.customer.example"  # a single-page app listed for CORS


@pytest_asyncio.fixture(loop_scope="session")
async def cors_server(settings: Settings, database: Database) -> AsyncIterator[Server]:
    listed = settings.model_copy(update={"base_url": APP_ORIGIN, "cors_origins": (LISTED_ORIGIN,)})
    app = create_app(listed, database=database)
    async with serve(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        yield Server(address, http)


async def test_a_page_on_an_origin_listed_for_cors_opens_a_socket(
    cors_server: Server, database: Database, tenant_a: Tenant
) -> None:
    """The app on its own origin signs in with a token in connectionParams, or with the
    session cookie it is trusted with over HTTP; any other site stays refused."""
    token, _ = await second_token(database, tenant_a)
    async with graphql_socket(
        cors_server.address,
        origin=LISTED_ORIGIN,
        params={"authorization": f"Bearer {token}"},
    ) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
    opened = await owner_session(database, tenant_a)
    async with cookie_socket(cors_server, opened, origin=LISTED_ORIGIN) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email
    with pytest.raises(InvalidStatus) as refused:
        async with graphql_socket(
            cors_server.address, origin="https://spa.customer.example.evil.example"
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_a_cookie_socket_without_an_origin_is_a_non_browser_client(
    server: Server, database: Database, tenant_a: Tenant
) -> None:
    """Browsers always send Origin; a client that does not holds the cookie itself."""
    opened = await owner_session(database, tenant_a)
    async with graphql_socket(server.address, headers=cookie_header(opened)) as socket:
        assert email_of(await socket.execute(VIEWER)) == tenant_a.owner_email


# -- operations on one socket do not share what they learned ----------------------------------


async def test_concurrent_operations_each_authenticate(
    server: Server, database: Database, tenant_a: Tenant
) -> None:
    token, _ = await second_token(database, tenant_a)
    async with graphql_socket(
        server.address, params={"authorization": f"Bearer {token}"}
    ) as socket:
        ids = [await _start(socket, VIEWER) for _ in range(5)]
        results = await _collect(socket, ids)
    assert [email_of(r) for r in results] == [tenant_a.owner_email] * 5


async def _start(socket: GraphQLSocket, query: str) -> str:
    op_id = str(next(socket._ids))
    await socket.send({"id": op_id, "type": "subscribe", "payload": {"query": query}})
    return op_id


async def _collect(socket: GraphQLSocket, ids: list[str]) -> list[dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    done: set[str] = set()
    while done != set(ids):
        message = await socket.receive()
        if message["type"] == "next":
            results[message["id"]] = message["payload"]
        elif message["type"] == "complete":
            done.add(message["id"])
    return [results[i] for i in ids]


# -- the standard JavaScript client (graphql-ws on node) ------------------------------------


async def test_the_graphql_ws_client_signs_in_with_a_token_and_sees_its_revocation(
    server: Server, database: Database, tenant_a: Tenant
) -> None:
    token, token_id = await second_token(database, tenant_a)
    results = await run_graphql_ws(
        {
            "url": f"ws://{server.address}/graphql",
            "connectionParams": {"authorization": f"Bearer {token}"},
            "operations": [
                {"query": VIEWER},
                {"query": REVOKE_TOKEN, "variables": {"id": token_id}},
                {"query": VIEWER},
            ],
        }
    )
    viewer, revoked, after = results
    assert email_of(viewer) == tenant_a.owner_email
    assert revoked["data"]["revokeApiToken"]["errors"] == []
    assert code_of(after) == "UNAUTHENTICATED"


async def test_the_graphql_ws_client_on_our_page_mutates_with_the_csrf_token(
    server: Server, database: Database, tenant_a: Tenant
) -> None:
    opened = await owner_session(database, tenant_a)
    create = {"query": CREATE_WORKSPACE, "variables": _new_workspace(tenant_a, "from node")}
    spec = {
        "url": f"ws://{server.address}/graphql",
        "origin": APP_ORIGIN,
        "headers": cookie_header(opened),
        "operations": [{"query": VIEWER}, create],
    }
    without_csrf = await run_graphql_ws(spec)
    assert email_of(without_csrf[0]) == tenant_a.owner_email
    assert code_of(without_csrf[1]) == "UNAUTHENTICATED"
    with_csrf = await run_graphql_ws({**spec, "connectionParams": {"csrfToken": opened.csrf_token}})
    assert with_csrf[1]["data"]["createWorkspace"]["errors"] == []
