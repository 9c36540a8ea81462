"""Request bodies are capped while they stream in, before anything parses them.

An anonymous 60 MB body used to be read whole and parsed on /graphql, and /ingest read
everything before checking its 5 MiB cap. Each test counts the bytes the app pulled
from the server: never more than the route's limit and one chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.entrypoints.http.ingestion import ingestion_routes
from backend.settings import Settings
from tests.edge.asgi import CHUNK, Answer, call, chunks_of
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

MiB = 1024 * 1024
ATTACK = 60 * MiB
GRAPHQL_LIMIT = 1 * MiB
INGEST_LIMIT = 5 * MiB
AUTH_LIMIT = 16 * 1024
INGEST = "/ingest/v1/feedback"
CREATE_INGESTION_TOKEN = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Pipe"}) { token errors { code } } }"""
JSON = (b"content-type", b"application/json")

# How the attacker says (or does not say) how long the body is.
LENGTHS = {
    "declared": lambda size: [(b"content-length", str(size).encode())],
    "chunked": lambda _size: [(b"transfer-encoding", b"chunked")],
    "lying": lambda _size: [(b"content-length", b"100")],
}


def graphql_body(size: int) -> Iterator[bytes]:
    """A well-formed GraphQL request padded with whitespace to ``size`` bytes."""
    head = b'{"query": "{ __typename }", "pad": "'
    tail = b'"}'
    yield head
    yield from chunks_of(size - len(head) - len(tail), fill=b"a")
    yield tail


def assert_refused(answer: Answer, limit: int) -> None:
    assert answer.status == 413, (answer.status, answer.body[:300])
    assert answer.headers["content-type"].startswith("application/json")
    [error] = json.loads(answer.body)["errors"]
    assert error["code"] == "REQUEST_TOO_LARGE"
    assert error["extensions"] == {"code": "REQUEST_TOO_LARGE", "maxBytes": limit}
    assert str(limit // 1024) in error["message"] or str(limit // MiB) in error["message"]
    assert answer.pulled <= limit + CHUNK, f"read {answer.pulled} bytes of a {ATTACK} body"


@pytest.mark.parametrize("length", list(LENGTHS))
async def test_an_anonymous_60_mb_graphql_body_is_refused_before_it_is_read(
    settings: Settings, database: Database, length: str
) -> None:
    app = create_app(settings, database=database)
    answer = await call(
        app, "POST", "/graphql", body=graphql_body(ATTACK), headers=[JSON, *LENGTHS[length](ATTACK)]
    )
    assert_refused(answer, GRAPHQL_LIMIT)
    if length == "declared":
        assert answer.pulled == 0  # refused on the header alone
    assert answer.headers.get("x-request-id")


async def test_a_graphql_body_just_under_the_limit_is_served(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database)
    size = GRAPHQL_LIMIT - 64
    answer = await call(
        app, "POST", "/graphql", body=graphql_body(size), headers=[JSON, *LENGTHS["chunked"](size)]
    )
    assert answer.status == 200, answer.body[:300]
    assert json.loads(answer.body) == {"data": {"__typename": "Query"}}
    assert answer.pulled == size


async def test_a_graphql_body_one_byte_over_the_limit_is_refused(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database)
    size = GRAPHQL_LIMIT + 1
    answer = await call(
        app, "POST", "/graphql", body=graphql_body(size), headers=[JSON, *LENGTHS["chunked"](size)]
    )
    assert_refused(answer, GRAPHQL_LIMIT)


async def _ingestion_token(gql: GraphQLClient, tenant: Tenant) -> str:
    body = await gql(CREATE_INGESTION_TOKEN, {"ws": tenant.ws_gid(0)}, token=tenant.token)
    token: str = body["data"]["createIngestionToken"]["token"]
    return token


@pytest.mark.parametrize("length", list(LENGTHS))
async def test_a_60_mb_ingestion_body_is_refused_while_it_streams(
    settings: Settings, database: Database, gql: GraphQLClient, tenant_a: Tenant, length: str
) -> None:
    token = await _ingestion_token(gql, tenant_a)
    app = create_app(settings, database=database)
    headers = [JSON, (b"authorization", f"Bearer {token}".encode()), *LENGTHS[length](ATTACK)]
    answer = await call(app, "POST", INGEST, body=chunks_of(ATTACK, fill=b"["), headers=headers)
    assert_refused(answer, INGEST_LIMIT)


async def test_the_ingestion_route_reads_through_its_cap_on_its_own(
    database: Database, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    """Mounted without the app's middleware, the endpoint still never holds more."""
    token = await _ingestion_token(gql, tenant_a)
    bare = Starlette(routes=ingestion_routes(database))
    headers = [JSON, (b"authorization", f"Bearer {token}".encode())]
    answer = await call(bare, "POST", INGEST, body=chunks_of(ATTACK, fill=b"["), headers=headers)
    assert_refused(answer, INGEST_LIMIT)


async def test_an_ingestion_body_under_its_cap_is_taken_in(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    token = await _ingestion_token(gql, tenant_a)
    item = {"source": "SURVEY", "externalId": "r1", "measure": "NPS", "measureValue": 9}
    padded = json.dumps([item]).encode() + b" " * (2 * MiB)  # over GraphQL's cap, under ours
    response = await client.post(
        INGEST,
        content=padded,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    "path", ["/auth/invitations/some-secret", "/auth/logout", "/healthz", "/no-such-page"]
)
@pytest.mark.parametrize("length", list(LENGTHS))
async def test_small_routes_take_only_small_bodies(
    settings: Settings, database: Database, path: str, length: str
) -> None:
    app = create_app(settings, database=database)
    answer = await call(
        app,
        "POST",
        path,
        body=chunks_of(ATTACK),
        headers=[(b"content-type", b"application/x-www-form-urlencoded"), *LENGTHS[length](ATTACK)],
    )
    assert answer.pulled <= AUTH_LIMIT + CHUNK
    if length == "declared":
        assert_refused(answer, AUTH_LIMIT)


@pytest.mark.parametrize("value", [b"lots", b"-1", b"1e9", b"12 34"])
async def test_a_malformed_content_length_is_refused_as_json(
    settings: Settings, database: Database, value: bytes
) -> None:
    app = create_app(settings, database=database)
    answer = await call(
        app, "POST", "/graphql", body=graphql_body(200), headers=[JSON, (b"content-length", value)]
    )
    assert answer.status == 400
    [error] = json.loads(answer.body)["errors"]
    assert error["code"] == "BAD_REQUEST"
    assert answer.pulled == 0
