"""Apollo Client 4 and urql (npm) against a real server, as a single-page app uses them:
Apollo's automatic persisted queries link, and errors each can branch on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.fixtures.node_clients import run_client
from tests.fixtures.sockets import serve
from tests.fixtures.tenants import Tenant


@pytest_asyncio.fixture(loop_scope="session")
async def url(settings: Settings, database: Database) -> AsyncIterator[str]:
    async with serve(create_app(settings, database=database)) as address:
        yield f"http://{address}/graphql"


async def test_apollo_s_persisted_queries_link_sends_a_hash_then_the_document_once(
    url: str, tenant_a: Tenant
) -> None:
    # A document this server has not seen: the first request by hash is not found.
    query = f"query Viewer {{ viewer {{ user {{ email }} }} }} # {uuid.uuid4()}"
    [run] = await run_client(
        "apollo_run.mjs",
        {
            "url": url,
            "token": tenant_a.token,
            "persisted": True,
            "operations": [{"query": query}, {"query": query}],
        },
    )
    for result in run["results"]:
        assert result["errors"] is None, result
        assert result["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
    sent_in_full = ["query" in body for body in run["requests"]]
    # By hash (not found), in full with the hash (stored), then by hash alone.
    assert sent_in_full == [False, True, False], run["requests"]
    assert all("persistedQuery" in body["extensions"] for body in run["requests"])


async def test_apollo_reads_the_code_of_a_refused_token(url: str) -> None:
    [run] = await run_client(
        "apollo_run.mjs",
        {
            "url": url,
            "token": "wp_not_a_live_token_0123456789abcdefghijkl",
            "operations": [{"query": "{ viewer { user { email } } }"}],
        },
    )
    [result] = run["results"]
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "INVALID"}


async def test_urql_reads_answers_and_error_codes(url: str, tenant_a: Tenant) -> None:
    results = await run_client(
        "urql_run.mjs",
        {
            "url": url,
            "token": tenant_a.token,
            "operations": [
                {"query": "{ viewer { user { email } } }"},
                {"query": "{ viewer { noSuchField } }"},
                {"query": "query One($id: ID!) { node(id: $id) { id } }", "variables": {}},
            ],
        },
    )
    assert results[0] == {
        "data": {"viewer": {"user": {"email": tenant_a.owner_email}}},
        "errors": None,
    }
    assert [r["errors"][0]["extensions"]["code"] for r in results[1:]] == [
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    ]
