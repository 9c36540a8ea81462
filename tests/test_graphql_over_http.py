"""GraphQL over HTTP as clients read it: the media type they ask for, status codes they
can branch on, JSON for every refusal, 401 with the reason for a credential refused, a
code on every error.

The graphql-http audit (every MUST and SHOULD of the GraphQL-over-HTTP specification)
runs against a real server in ``tests/graphql/test_graphql_http_audit.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import ApiToken
from backend.tenancy import service
from tests.fixtures.graphql import global_id
from tests.fixtures.tenants import Tenant

GRAPHQL_RESPONSE = "application/graphql-response+json"
VIEWER = "{ viewer { user { email } } }"
ONE_NODE = "query One($id: ID!) { node(id: $id) { id } }"
REVOKE = """mutation($id: ID!) { revokeApiToken(input: {id: $id}) { errors { code } } }"""


async def post(
    client: httpx.AsyncClient,
    body: dict[str, Any] | list[dict[str, Any]] | bytes,
    *,
    token: str | None = None,
    accept: str | None = None,
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if accept is not None:
        headers["Accept"] = accept
    if isinstance(body, bytes):
        return await client.post("/graphql", content=body, headers=headers)
    return await client.post("/graphql", json=body, headers=headers)


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


# -- the media type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(None, "application/json", id="none"),
        pytest.param("*/*", "application/json", id="anything"),
        pytest.param("application/json", "application/json", id="json"),
        pytest.param(GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, id="graphql-response"),
        # Apollo Client 4's own header.
        pytest.param(f"{GRAPHQL_RESPONSE},application/json;q=0.9", GRAPHQL_RESPONSE, id="apollo"),
        pytest.param(f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json", id="q"),
        pytest.param(f"{GRAPHQL_RESPONSE};q=0, */*", "application/json", id="refused"),
    ],
)
async def test_the_answer_comes_in_the_media_type_the_client_prefers(
    client: httpx.AsyncClient, tenant_a: Tenant, accept: str | None, expected: str
) -> None:
    response = await post(client, {"query": VIEWER}, token=tenant_a.token, accept=accept)
    assert response.status_code == 200
    assert media_type(response) == expected
    assert response.headers["content-type"].endswith("charset=utf-8")
    assert response.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email


# -- request errors: nothing executed, so no data, and a status saying so ----------------


REQUEST_ERRORS = [
    pytest.param({"query": "{ viewer { "}, "GRAPHQL_PARSE_FAILED", id="parse"),
    pytest.param({"query": "{ viewer { nope } }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
    pytest.param(
        {"query": ONE_NODE, "variables": {"id": {"not": "an id"}}}, "BAD_USER_INPUT", id="variable"
    ),
    pytest.param({"query": ONE_NODE}, "BAD_USER_INPUT", id="missing-variable"),
]


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_is_400_with_no_data_for_graphql_response_json(
    client: httpx.AsyncClient, tenant_a: Tenant, body: dict[str, Any], code: str
) -> None:
    response = await post(client, body, token=tenant_a.token, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400, response.text
    assert media_type(response) == GRAPHQL_RESPONSE
    assert "data" not in response.json()
    assert set(codes(response)) == {code}


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_is_200_with_no_data_for_plain_json(
    client: httpx.AsyncClient, tenant_a: Tenant, body: dict[str, Any], code: str
) -> None:
    response = await post(client, body, token=tenant_a.token, accept="application/json")
    assert response.status_code == 200, response.text
    assert "data" not in response.json()
    assert set(codes(response)) == {code}


async def test_an_error_while_executing_keeps_its_data_and_200(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    # A malformed cursor is refused by the field that reads it: the rest ran.
    query = '{ viewer { user { email } workspaces(first: 1, after: "bad") { totalCount } } }'
    response = await post(client, {"query": query}, token=tenant_a.token, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    body = response.json()
    assert "data" in body
    assert body["errors"]
    assert all(e["extensions"]["code"] for e in body["errors"])


# -- transport errors: JSON with a code, never plain text ---------------------------------


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        pytest.param(b"{", 400, "BAD_REQUEST", id="bad-json"),
        pytest.param(b'{"variables": {}}', 400, "BAD_REQUEST", id="no-query"),
        pytest.param(b'{"query": 7}', 400, "BAD_REQUEST", id="query-not-a-string"),
        pytest.param(
            b'{"query": "query A { __typename }", "operationName": "B"}',
            400,
            "OPERATION_RESOLUTION_FAILURE",
            id="unknown-operation",
        ),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_a_request_that_is_not_graphql_over_http_is_refused_in_json(
    client: httpx.AsyncClient, tenant_a: Tenant, send: bytes, status: int, code: str, accept: str
) -> None:
    response = await post(client, send, token=tenant_a.token, accept=accept)
    assert response.status_code == status, response.text
    assert media_type(response) == accept
    assert codes(response) == [code]
    assert response.json()["errors"][0]["message"]


async def test_a_mutation_over_get_is_405_in_json(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "mutation { __typename }"},
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert media_type(response) == "application/json"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_a_body_in_another_media_type_is_415(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await client.post(
        "/graphql",
        content=b"query { __typename }",
        headers={"Authorization": f"Bearer {tenant_a.token}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


# -- 401: a credential missing, invalid or expired ---------------------------------------


async def _token(database: Database, tenant: Tenant) -> tuple[str, ApiToken]:
    async with database.transaction(tenant.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        issued = await service.issue_token(session, tenant.owner_id, name="http")
    return issued.plaintext, issued.token


def challenge(response: httpx.Response) -> str:
    return response.headers["www-authenticate"]


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_no_credential_is_401_with_a_bare_challenge(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await post(client, {"query": VIEWER}, accept=accept)
    assert response.status_code == 401
    assert challenge(response) == 'Bearer realm="waypost"'
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


@pytest.mark.parametrize("sent", ["wp_unknown_but_well_formed_0123456789abcdef", "not-a-token"])
async def test_an_invalid_token_is_401_invalid(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {sent}"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge(response)
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "INVALID"}


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
async def test_no_bearer_token_gets_the_bare_challenge(
    client: httpx.AsyncClient, authorization: str
) -> None:
    """Another scheme, or none: no bearer token was sent, so none is called invalid
    (RFC 6750: no error code then)."""
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert challenge(response) == 'Bearer realm="waypost"'
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_an_expired_token_is_401_and_says_it_expired(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    plaintext, token = await _token(database, tenant_a)
    assert (await post(client, {"query": VIEWER}, token=plaintext)).status_code == 200
    async with inspector_engine.begin() as conn:
        await conn.execute(
            update(ApiToken)
            .where(ApiToken.id == token.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await post(client, {"query": VIEWER}, token=plaintext)
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "EXPIRED"}
    assert "expired" in error["message"]
    assert 'error="invalid_token"' in challenge(response)
    assert "expired" in challenge(response)


async def test_a_revoked_token_is_invalid_not_expired(
    client: httpx.AsyncClient, database: Database, tenant_a: Tenant
) -> None:
    plaintext, token = await _token(database, tenant_a)
    gid = global_id("ApiToken", token.id)
    revoked = await post(client, {"query": REVOKE, "variables": {"id": gid}}, token=plaintext)
    assert revoked.json()["data"]["revokeApiToken"]["errors"] == []
    response = await post(client, {"query": VIEWER}, token=plaintext)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["reason"] == "INVALID"


async def test_a_batch_with_a_refused_credential_is_401(client: httpx.AsyncClient) -> None:
    response = await post(
        client, [{"query": VIEWER}, {"query": VIEWER}], token="wp_unknown_0123456789abcdefghij"
    )
    assert response.status_code == 401
    assert [b["errors"][0]["extensions"]["code"] for b in response.json()] == [
        "UNAUTHENTICATED",
        "UNAUTHENTICATED",
    ]


async def test_introspection_needs_no_credential_and_is_not_401(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, {"query": "{ __schema { queryType { name } } }"})
    assert response.status_code == 200
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


# -- the server's log: one line per client mistake, never a traceback --------------------

SECRET_FIELD = "aFieldNamedLikeASecret"


def server_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the server logged at INFO and above (the test's own HTTP client aside)."""
    return [r for r in caplog.records if r.levelno >= logging.INFO and r.name != "httpx"]


@pytest.mark.parametrize(
    ("send", "code"),
    [
        pytest.param({"query": "{ " + SECRET_FIELD + " "}, "GRAPHQL_PARSE_FAILED", id="parse"),
        pytest.param(
            {"query": "{ " + SECRET_FIELD + " }"}, "GRAPHQL_VALIDATION_FAILED", id="valid"
        ),
        pytest.param(
            {"query": ONE_NODE, "variables": {"id": {SECRET_FIELD: 1}}}, "BAD_USER_INPUT", id="var"
        ),
        pytest.param(b'{"query": "' + SECRET_FIELD.encode(), "BAD_REQUEST", id="bad-json"),
        pytest.param(
            {"query": "query A { __typename }", "operationName": SECRET_FIELD},
            "OPERATION_RESOLUTION_FAILURE",
            id="operation",
        ),
    ],
)
async def test_a_client_mistake_is_one_log_line_naming_its_request_and_code(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    caplog: pytest.LogCaptureFixture,
    send: dict[str, Any] | bytes,
    code: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await post(client, send, token=tenant_a.token)
    assert codes(response) == [code]
    request_id = response.headers["x-request-id"]
    lines = server_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    (line,) = lines
    assert request_id in line.getMessage()
    assert code in line.getMessage()
    assert line.exc_info is None
    assert SECRET_FIELD not in line.getMessage()  # nothing of what the client sent


async def test_a_refused_credential_is_logged_without_the_credential(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent = "wp_aSecretThatMustNotBeLogged0123456789"
    response = await post(client, {"query": VIEWER}, token=sent)
    assert response.status_code == 401
    messages = [r.getMessage() for r in server_lines(caplog)]
    assert messages == [
        f"client error request={response.headers['x-request-id']} code=UNAUTHENTICATED"
    ]
    assert not any(r.exc_info for r in caplog.records)


async def test_a_hash_not_yet_known_is_a_step_of_the_protocol_not_a_logged_mistake(
    client: httpx.AsyncClient, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}
    response = await post(client, {"extensions": unknown}, token=tenant_a.token)
    assert codes(response) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert server_lines(caplog) == []
