"""In production the schema is private: a caller who does not authenticate learns nothing of it.

Before, an anonymous caller could tell fields apart ("Cannot query field" for an
unknown one, UNAUTHENTICATED for a known one) and so map the schema with
introspection off. Now every document from such a caller (no credential, a bad
one, a revoked one) gets the same UNAUTHENTICATED answer, before it is validated
or measured against the limits. Outside production GraphiQL's introspection
still works without a token (``test_limits_http``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from backend.db.engine import Database
from tests.fixtures.databases import TestDatabase
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant
from tests.graphql.test_tenancy_api import CREATE_TOKEN, REVOKE_TOKEN
from tests.test_http import bearer, http_client, production_settings

# A known field, unknown ones, a misspelling, a wrong argument, an over-limit page,
# a costly list (the cost estimate would tell list fields from unknown ones) and
# introspection: each would answer differently if the document were looked at.
PROBES = [
    "{ viewer { user { email } } }",
    "{ nosuchfield }",
    "{ viewer { id } }",
    "{ viewr { user { email } } }",
    '{ organization(slugg: "alpha") { id } }',
    "{ viewer { workspaces(first: 1000) { totalCount } } }",
    "{ viewer { workspaces(first: 100) { edges { node { members(first: 100) {"
    " edges { node { " + " ".join(f"a{i}: role" for i in range(20)) + " } } } } } } } }",
    "{ viewer { nosuchlist(first: 100) { " + " ".join(f"b{i}" for i in range(1001)) + " } } }",
    "{ __schema { types { name } } }",
    '{ __type(name: "Viewer") { fields { name } } }',
    "{ __typename }",
    'mutation { deletePersona(input: {id: "x"}) { errors { code } } }',
    "mutation { nosuchmutation }",
]

UNAUTHENTICATED = {
    "message": "Authentication required: send a valid API token as "
    "'Authorization: Bearer <token>', or sign in.",
    "extensions": {"code": "UNAUTHENTICATED"},
}
REFUSED = (401, {"errors": [UNAUTHENTICATED]})


@pytest_asyncio.fixture(loop_scope="session")
async def production(
    test_database: TestDatabase, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(production_settings(test_database), database) as http:
        yield http


async def _answers(http: httpx.AsyncClient, headers: dict[str, str]) -> list[tuple[int, object]]:
    found = []
    for query in PROBES:
        response = await http.post("/graphql", json={"query": query}, headers=headers)
        found.append((response.status_code, response.json()))
    return found


def _revealing(answers: list[tuple[int, object]]) -> list[str]:
    text = str(answers)
    return [
        word for word in ("Cannot query", "Did you mean", "Viewer", "QUERY_TOO") if word in text
    ]


async def test_an_anonymous_caller_gets_one_answer_for_every_document(
    production: httpx.AsyncClient, sql_statements: list[str]
) -> None:
    answers = await _answers(production, {})
    assert {str(answer) for answer in answers} == {str(REFUSED)}  # all identical
    assert _revealing(answers) == []
    assert sql_statements == []  # no credential: nothing to look up


@pytest.mark.parametrize("credential", ["bearer-garbage", "bearer-revoked", "cookie-garbage"])
async def test_a_credential_that_does_not_authenticate_gets_the_same_answer(
    production: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, credential: str
) -> None:
    headers: dict[str, str] = {}
    if credential == "bearer-garbage":
        headers = bearer("wp_" + "x" * 43)  # shaped like a token: it is looked up
    elif credential == "bearer-revoked":
        created = await gql(CREATE_TOKEN, {"input": {"name": "old"}}, token=tenant_a.token)
        issued = created["data"]["createApiToken"]
        revoked = await gql(REVOKE_TOKEN, {"id": issued["apiToken"]["id"]}, token=tenant_a.token)
        assert revoked["data"]["revokeApiToken"]["errors"] == []
        headers = bearer(issued["token"])
    else:
        production.cookies.set("waypost_session", "not-a-session")
    try:
        answers = await _answers(production, headers)
    finally:
        production.cookies.clear()
    # One answer whatever the document: it says why the credential is refused, nothing
    # about the schema.
    assert len({str(answer) for answer in answers}) == 1, answers
    status, body = answers[0]
    assert status == 401
    assert isinstance(body, dict)
    assert set(body) == {"errors"}
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "INVALID"}
    assert _revealing(answers) == []


async def test_a_signed_in_caller_still_gets_validation_and_limits(
    production: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    """Authenticated once per operation, before validation; the answers are as before."""
    headers = bearer(tenant_a.token)
    ok = await production.post("/graphql", json={"query": PROBES[0]}, headers=headers)
    assert ok.json() == {"data": {"viewer": {"user": {"email": tenant_a.owner_email}}}}
    token_lookups = [s for s in sql_statements if "api_tokens" in s and "SELECT" in s]
    assert len(token_lookups) == 1, sql_statements

    unknown = await production.post("/graphql", json={"query": PROBES[1]}, headers=headers)
    assert "Cannot query field 'nosuchfield'" in unknown.text
    costly = await production.post("/graphql", json={"query": PROBES[6]}, headers=headers)
    assert costly.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_an_anonymous_batch_over_the_limits_is_refused_alike(
    production: httpx.AsyncClient, sql_statements: list[str]
) -> None:
    """The batch's total cost would tell list fields apart too."""
    costly = {"query": PROBES[6]}
    response = await production.post("/graphql", json=[costly, {"query": PROBES[1]}])
    assert response.json() == [REFUSED[1]] * 2
    batch = [{"query": "{ nosuchfield }"}, {"query": "{ viewer { user { email } } }"}]
    response = await production.post("/graphql", json=batch)
    assert response.json() == [REFUSED[1]] * 2
    assert sql_statements == []
