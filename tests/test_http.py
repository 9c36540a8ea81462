"""The HTTP surface: health, request ids, GraphiQL, error masking, auth, GET and batches."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import backend.entrypoints.app
from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Environment, Settings
from graphql_schema.schema import MAX_BATCH_OPERATIONS
from tests.fixtures.databases import TestDatabase
from tests.fixtures.settings import production_settings as production_settings_for
from tests.fixtures.tenants import Tenant

# Nothing listens on port 1: the connection is refused at once.
UNREACHABLE_URL = "postgresql+asyncpg://nobody@127.0.0.1:1/nope"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
VIEWER_EMAIL = "{ viewer { user { email } } }"
WORKSPACE_COUNT = "{ viewer { workspaces { totalCount } } }"
WRITE_STATEMENT = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
LEAK_MARKERS = ("Traceback", 'File "', "SELECT", "secret", "leaked", "RuntimeError")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def http_client(
    settings: Settings, database: Database, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def production_settings(test_database: TestDatabase) -> Settings:
    return production_settings_for(test_database.app_url)


async def post(
    http: httpx.AsyncClient, query: str, *, token: str | None = None, **extra: Any
) -> httpx.Response:
    headers = bearer(token) if token else {}
    return await http.post("/graphql", json={"query": query, **extra}, headers=headers)


async def workspace_count(http: httpx.AsyncClient, token: str) -> int:
    response = await post(http, WORKSPACE_COUNT, token=token)
    body = response.json()
    assert "errors" not in body, body
    count: int = body["data"]["viewer"]["workspaces"]["totalCount"]
    return count


async def raw_get(app: Starlette, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """Call the ASGI app directly, with header bytes no HTTP client would send."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {"status": start["status"], "headers": start["headers"]}


# --------------------------------------------------------------------------- health


async def test_healthz_answers_ok_without_touching_the_database(
    client: httpx.AsyncClient, sql_statements: list[str]
) -> None:
    sql_statements.clear()
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}
    assert sql_statements == []


async def test_healthz_answers_ok_even_when_the_database_is_down(settings: Settings) -> None:
    database = Database(UNREACHABLE_URL)
    try:
        async with http_client(settings, database) as http:
            response = await http.get("/healthz")
    finally:
        await database.dispose()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_ok_when_the_database_answers(
    client: httpx.AsyncClient, sql_statements: list[str]
) -> None:
    sql_statements.clear()
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert sql_statements, "readiness must actually ask the database"


async def test_readyz_answers_503_as_json_when_the_database_is_down(settings: Settings) -> None:
    database = Database(UNREACHABLE_URL)
    try:
        async with http_client(settings, database) as http, asyncio.timeout(20):
            response = await http.get("/readyz")
    finally:
        await database.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] != "ok"
    for leak in ("Traceback", 'File "', "nobody", "127.0.0.1", "nope", "asyncpg"):
        assert leak not in response.text, response.text
    assert "x-request-id" in response.headers


# --------------------------------------------------------------------------- request ids


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("POST", "/graphql", {"json": {"query": "{ __typename }"}}),
        ("POST", "/graphql", {"json": {"query": VIEWER_EMAIL}}),  # unauthenticated
        (
            "POST",
            "/graphql",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
        ),
        ("GET", "/graphql", {"params": {"query": "mutation { __typename }"}}),  # refused over GET
        ("GET", "/graphql", {"headers": {"accept": "text/html"}}),
        ("PUT", "/graphql", {}),
        ("GET", "/no-such-page", {}),
    ],
)
async def test_every_response_carries_a_request_id(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    first = await client.request(method, path, **kwargs)
    second = await client.request(method, path, **kwargs)
    assert GENERATED_ID.match(first.headers.get("x-request-id", "")), first.headers
    assert GENERATED_ID.match(second.headers.get("x-request-id", "")), second.headers
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_crashing_endpoint_still_carries_a_request_id(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(_request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(backend.entrypoints.app, "healthz", crash)
    async with http_client(settings, database, raise_app_exceptions=False) as http:
        response = await http.get("/healthz", headers={"x-request-id": "crash-1"})
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert "boom" not in response.text
    request_id = response.headers.get("x-request-id", "")
    assert GENERATED_ID.match(request_id)
    assert response.json()["errors"][0]["extensions"]["requestId"] == request_id


async def test_a_crashing_endpoint_shows_no_stack_trace(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(_request: object) -> None:
        raise RuntimeError("SELECT secret FROM leaked")

    monkeypatch.setattr(backend.entrypoints.app, "healthz", crash)
    async with http_client(settings, database, raise_app_exceptions=False) as http:
        response = await http.get("/healthz")
    assert response.status_code == 500
    for leak in LEAK_MARKERS:
        assert leak not in response.text, response.text


@pytest.mark.parametrize(
    "incoming",
    ["abc", "A-b_c.9", "x" * 64, "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "0"],
)
async def test_a_sane_incoming_request_id_is_not_taken_as_ours(
    client: httpx.AsyncClient, incoming: str
) -> None:
    """The audit trail names requests by this id: the caller does not get to choose it."""
    for path in ("/healthz", "/graphql?query=%7B__typename%7D"):
        response = await client.get(path, headers={"x-request-id": incoming})
        assert response.headers["x-request-id"] != incoming
        assert GENERATED_ID.match(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "incoming",
    [
        b"x" * 65,
        b"has space",
        b"new\nline",
        b"crlf\r\nx-injected: 1",
        b"tab\there",
        b"",
        b"caf\xc3\xa9",
        b"\xff\xfe",
        b"<script>alert(1)</script>",
        b"../../etc/passwd",
        b"a;b",
        b"\x00",
    ],
)
async def test_an_insane_incoming_request_id_is_replaced(
    settings: Settings, database: Database, incoming: bytes
) -> None:
    app = create_app(settings, database=database)
    response = await raw_get(app, "/healthz", [(b"x-request-id", incoming)])
    assert response["status"] == 200
    ids = [value for name, value in response["headers"] if name.lower() == b"x-request-id"]
    assert len(ids) == 1
    assert ids[0] != incoming
    assert GENERATED_ID.match(ids[0].decode("latin-1")), ids


# --------------------------------------------------------------------------- GraphiQL


@pytest.mark.parametrize("env", [Environment.DEVELOPMENT, Environment.TEST])
async def test_graphiql_is_served_to_a_browser_outside_production(
    test_database: TestDatabase, database: Database, env: Environment
) -> None:
    settings = Settings(env=env, database_url=test_database.app_url)
    async with http_client(settings, database) as http:
        response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_is_not_served_in_production(
    test_database: TestDatabase, database: Database
) -> None:
    async with http_client(production_settings(test_database), database) as http:
        for accept in ("text/html", "text/html,application/xhtml+xml,*/*;q=0.8", "*/*"):
            response = await http.get("/graphql", headers={"Accept": accept})
            assert not response.headers["content-type"].startswith("text/html")
            assert "graphiql" not in response.text.lower()
            assert 400 <= response.status_code < 500


# --------------------------------------------------------------------------- production schema


INTROSPECTION = [
    "{ __schema { queryType { name } types { name } } }",
    '{ __type(name: "Query") { fields { name } } }',
    "query IntrospectionQuery { __schema { mutationType { fields { name } } } }",
    "{ viewer { user { email } } __schema { types { name } } }",
]


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_introspection_is_refused_in_production(
    test_database: TestDatabase, database: Database, tenant_a: Tenant, query: str
) -> None:
    async with http_client(production_settings(test_database), database) as http:
        for token in (None, tenant_a.token):
            response = await post(http, query, token=token)
            # Anonymous callers are told to sign in; the signed-in, that it is not allowed.
            assert response.status_code == (200 if token else 401)
            body = response.json()
            assert "data" not in body, body
            assert body["errors"], body
            # Anonymous callers learn nothing of a private schema, not even this.
            refusal = "introspection" if token else "unauthenticated"
            assert refusal in json.dumps(body["errors"]).lower()
            assert "Mutation" not in response.text
            assert "createWorkspace" not in response.text


async def test_introspection_works_outside_production(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    body = (await post(client, INTROSPECTION[0])).json()
    assert "errors" not in body, body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_a_misspelled_field_gets_no_suggestion_in_production(
    test_database: TestDatabase, database: Database, tenant_a: Tenant
) -> None:
    async with http_client(production_settings(test_database), database) as http:
        for query in ("{ viewer { user { emial } } }", '{ organizaton(slug: "x") { id } }'):
            response = await post(http, query, token=tenant_a.token)
            body = response.json()
            assert body["errors"], body
            assert "Did you mean" not in response.text
            assert "'email'" not in response.text
            assert "'organization'" not in response.text


async def test_a_misspelled_field_gets_a_suggestion_outside_production(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await post(client, "{ viewer { user { emial } } }", token=tenant_a.token)
    assert "Did you mean 'email'?" in response.text


@pytest.mark.parametrize(
    ("query", "hidden"),
    [
        ('{ organization(slugg: "alpha") { id } }', "'slug'"),
        ("{ viewer { ...F } } fragment F on Viewr { user { id } }", "'Viewer'"),
        (
            'mutation { addWorkspaceMember(input: {workspaceId: "x", email: "a@b.co", role: ADMN})'
            " { errors { code } } }",
            "'ADMIN'",
        ),
        (
            'mutation { createApiToken(input: {name: "n", readOnlyy: true}) { errors { code } } }',
            "'readOnly'",
        ),
    ],
)
async def test_no_schema_suggestion_of_any_kind_in_production(
    test_database: TestDatabase, database: Database, tenant_a: Tenant, query: str, hidden: str
) -> None:
    """Arguments, types, enum values and input fields are not suggested either."""
    async with http_client(production_settings(test_database), database) as http:
        response = await post(http, query, token=tenant_a.token)
    assert response.json()["errors"]
    assert "Did you mean" not in response.text
    assert hidden not in response.text


async def test_schema_suggestions_are_given_outside_production(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await post(client, '{ organization(slugg: "alpha") { id } }', token=tenant_a.token)
    assert "Did you mean 'slug'?" in response.text


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize("env", [Environment.TEST, Environment.PRODUCTION])
@pytest.mark.parametrize("incoming_id", [None, "client-chosen-id-42"])
async def test_an_unexpected_exception_is_masked_with_the_request_id(
    test_database: TestDatabase,
    database: Database,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    env: Environment,
    incoming_id: str | None,
) -> None:
    async def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM leaked")

    monkeypatch.setattr("backend.tenancy.repository.TenancyRepository.organizations_page", explode)
    settings = (
        production_settings(test_database)
        if env is Environment.PRODUCTION
        else Settings(env=env, database_url=test_database.app_url)
    )
    headers = {**bearer(tenant_a.token)}
    if incoming_id:
        headers["x-request-id"] = incoming_id
    query = "{ viewer { user { email } organizations { totalCount } } }"
    with caplog.at_level(logging.ERROR, logger="waypost.graphql"):
        async with http_client(settings, database) as http:
            response = await http.post("/graphql", json={"query": query}, headers=headers)

    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.match(request_id)  # ours, whatever the caller sent
    body = response.json()
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert error["path"] == ["viewer", "organizations"]
    assert body["data"] is None  # organizations is non-null: the null bubbles up to data
    for leak in LEAK_MARKERS:
        assert leak not in response.text, response.text
    # The operator finds the real exception in the log, under the same request id.
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    assert any(r.exc_info and "SELECT secret FROM leaked" in str(r.exc_info[1]) for r in logged)


# --------------------------------------------------------------------------- authentication


def _assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="waypost"')
    body = response.json()
    assert "data" not in body, body  # refused before anything ran
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED", body
    assert "path" not in error  # top-level, not attached to a field
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "query",
    [
        VIEWER_EMAIL,
        '{ organization(slug: "alpha") { id } }',
        'mutation { createApiToken(input: {name: "sneaky"}) { token errors { code } } }',
    ],
)
async def test_a_missing_token_is_unauthenticated(
    client: httpx.AsyncClient, tenant_a: Tenant, query: str
) -> None:
    _assert_unauthenticated(await post(client, query))
    tokens = (
        await post(client, "{ viewer { apiTokens { totalCount } } }", token=tenant_a.token)
    ).json()
    assert tokens["data"]["viewer"]["apiTokens"]["totalCount"] == 1


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Token {token}",
        "Basic dXNlcjpwYXNzd29yZA==",
        "{token}",
        "Bearer{token}",
        "Bearer {token} extra",
        "Bearer {token}x",
        "Bearer {token_head}",
        "Bearer \x00{token}",
    ],
)
async def test_a_malformed_authorization_header_is_unauthenticated(
    client: httpx.AsyncClient, tenant_a: Tenant, authorization: str
) -> None:
    value = authorization.format(token=tenant_a.token, token_head=tenant_a.token[:-1])
    response = await client.post(
        "/graphql", json={"query": VIEWER_EMAIL}, headers={"Authorization": value}
    )
    _assert_unauthenticated(response)


@pytest.mark.parametrize(
    "token",
    [
        "wp_" + "A" * 43,
        "wp_" + "x" * 300,
        "wp_short",
        "not-even-our-format-" + "y" * 30,
    ],
)
async def test_an_unknown_token_is_unauthenticated(
    client: httpx.AsyncClient, tenant_a: Tenant, token: str
) -> None:
    _assert_unauthenticated(await post(client, VIEWER_EMAIL, token=token))


async def test_a_revoked_token_is_unauthenticated(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    created = (
        await post(
            client,
            'mutation { createApiToken(input: {name: "to revoke"}) '
            "{ token apiToken { id } errors { code } } }",
            token=tenant_a.token,
        )
    ).json()["data"]["createApiToken"]
    assert created["errors"] == []
    secret, token_id = created["token"], created["apiToken"]["id"]
    works = (await post(client, VIEWER_EMAIL, token=secret)).json()
    assert works["data"]["viewer"]["user"]["email"] == tenant_a.owner_email

    revoked = (
        await post(
            client,
            "mutation($id: ID!) { revokeApiToken(input: {id: $id}) "
            "{ apiToken { revokedAt } errors { code } } }",
            token=tenant_a.token,
            variables={"id": token_id},
        )
    ).json()["data"]["revokeApiToken"]
    assert revoked["errors"] == []
    assert revoked["apiToken"]["revokedAt"] is not None

    _assert_unauthenticated(await post(client, VIEWER_EMAIL, token=secret))
    _assert_unauthenticated(
        await post(
            client, 'mutation { createApiToken(input: {name: "x"}) { token } }', token=secret
        )
    )
    still = (await post(client, VIEWER_EMAIL, token=tenant_a.token)).json()
    assert still["data"]["viewer"]["user"]["email"] == tenant_a.owner_email


# --------------------------------------------------------------------------- GET


async def test_a_mutation_over_get_is_refused(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    before = await workspace_count(client, tenant_a.token)
    create = (
        'mutation($o: ID!) { createWorkspace(input: {organizationId: $o, name: "via GET"}) '
        "{ workspace { id } errors { code } } }"
    )
    variables = json.dumps({"o": tenant_a.org_gid})
    documents = [
        {"query": create, "variables": variables},
        {
            "query": create.replace("mutation(", "mutation Make(", 1),
            "operationName": "Make",
            "variables": variables,
        },
        {
            "query": "query Read { __typename } " + create.replace("mutation(", "mutation M(", 1),
            "operationName": "M",
            "variables": variables,
        },
    ]
    sql_statements.clear()
    for params in documents:
        for accept in ("application/json", "text/html", "*/*"):
            response = await client.get(
                "/graphql", params=params, headers={**bearer(tenant_a.token), "Accept": accept}
            )
            assert 400 <= response.status_code < 500, response.text
            assert "via GET" not in response.text
    assert not [s for s in sql_statements if WRITE_STATEMENT.match(s)], sql_statements
    assert await workspace_count(client, tenant_a.token) == before


async def test_a_query_over_get_works(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    response = await client.get(
        "/graphql", params={"query": VIEWER_EMAIL}, headers=bearer(tenant_a.token)
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email


# --------------------------------------------------------------------------- batches


def _create_workspace(tenant: Tenant, name: str) -> dict[str, Any]:
    return {
        "query": "mutation($o: ID!, $n: String!) { createWorkspace(input: "
        "{organizationId: $o, name: $n}) { workspace { name } errors { code } } }",
        "variables": {"o": tenant.org_gid, "n": name},
    }


@pytest.mark.parametrize("size", [MAX_BATCH_OPERATIONS + 1, MAX_BATCH_OPERATIONS * 5])
async def test_an_oversized_batch_is_refused_without_sql(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str], size: int
) -> None:
    before = await workspace_count(client, tenant_a.token)
    batch = [_create_workspace(tenant_a, f"batch {i}") for i in range(size)]
    sql_statements.clear()
    response = await client.post("/graphql", json=batch, headers=bearer(tenant_a.token))
    assert 400 <= response.status_code < 500, response.text
    assert "batch 0" not in response.text
    assert sql_statements == []
    assert await workspace_count(client, tenant_a.token) == before


async def test_a_batch_within_the_limit_works(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    batch: list[dict[str, Any]] = [{"query": VIEWER_EMAIL} for _ in range(MAX_BATCH_OPERATIONS - 2)]
    batch.append(_create_workspace(tenant_a, "batched one"))
    batch.append(
        {
            "query": "query($s: String!) { organization(slug: $s) { slug } }",
            "variables": {"s": "alpha"},
        }
    )
    assert len(batch) == MAX_BATCH_OPERATIONS
    response = await client.post("/graphql", json=batch, headers=bearer(tenant_a.token))
    assert response.status_code == 200, response.text
    results = response.json()
    assert isinstance(results, list)
    assert len(results) == MAX_BATCH_OPERATIONS
    for result in results[:-2]:
        assert result == {"data": {"viewer": {"user": {"email": tenant_a.owner_email}}}}
    assert results[-2] == {
        "data": {"createWorkspace": {"workspace": {"name": "batched one"}, "errors": []}}
    }
    assert results[-1] == {"data": {"organization": {"slug": "alpha"}}}


async def test_each_operation_of_a_batch_is_authenticated(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await client.post("/graphql", json=[{"query": VIEWER_EMAIL}] * 2)
    assert response.status_code == 401
    for result in response.json():
        assert "data" not in result
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_what_start_up_built_is_kept_out_of_the_collectors_sight(
    settings: Settings, database: Database
) -> None:
    """A full collection would otherwise scan the schema and mappers: long pauses."""
    gc.unfreeze()
    app = create_app(settings, database=database)
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
