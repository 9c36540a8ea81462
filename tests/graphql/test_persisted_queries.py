"""Documents sent by hash, as Apollo Client's persisted-queries link sends them, and the
trusted-documents mode that answers only the app's own documents."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.fixtures.databases import real_broker_url
from tests.fixtures.sockets import SocketClosed, graphql_socket, serve
from tests.fixtures.tenants import Tenant

VIEWER = "query Viewer { viewer { user { email } } }"
WORKSPACES = "query Names { viewer { workspaces(first: 5) { edges { node { name } } } } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}


@asynccontextmanager
async def app_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def ask(
    http: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {tenant.token}", **headers}
    )


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# -- automatic persisted queries -------------------------------------------------------


async def test_an_unknown_hash_is_not_found_then_the_document_is_stored_and_run(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    document = VIEWER + f" # {uuid.uuid4()}"  # a document no earlier test stored
    first = await ask(client, tenant_a, {"extensions": persisted(document)})
    assert first.status_code == 200  # a request error, as application/json answers it
    assert "data" not in first.json()
    assert first.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code_of(first) == "PERSISTED_QUERY_NOT_FOUND"

    both = await ask(client, tenant_a, {"query": document, "extensions": persisted(document)})
    assert both.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email

    again = await ask(client, tenant_a, {"extensions": persisted(document)})
    assert again.json() == both.json()


async def test_a_document_sent_by_hash_over_get(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    document = VIEWER + f" # {uuid.uuid4()}"
    await ask(client, tenant_a, {"query": document, "extensions": persisted(document)})
    response = await client.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(document))},
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email


async def test_a_document_is_never_stored_under_another_documents_hash(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    """A poisoner sends its own document under the hash of a document the app uses."""
    victim = WORKSPACES + f" # {uuid.uuid4()}"
    poison = VIEWER
    refused = await ask(client, tenant_a, {"query": poison, "extensions": persisted(victim)})
    assert code_of(refused) == "BAD_REQUEST"
    assert "data" not in refused.json()
    later = await ask(client, tenant_a, {"extensions": persisted(victim)})
    assert code_of(later) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("document", "token"),
    [
        pytest.param("{ viewer { noSuchField } }", True, id="invalid"),
        pytest.param("{ viewer { ", True, id="unparsable"),
        pytest.param(VIEWER, False, id="anonymous"),
    ],
)
async def test_only_a_document_that_ran_for_a_signed_in_caller_is_kept(
    client: httpx.AsyncClient, tenant_a: Tenant, document: str, token: bool
) -> None:
    """What does not parse or validate, or what an anonymous caller sends, takes no room."""
    document += f" # {uuid.uuid4()}"
    headers = {"Authorization": f"Bearer {tenant_a.token}"} if token else {}
    sent = await client.post(
        "/graphql", json={"query": document, "extensions": persisted(document)}, headers=headers
    )
    assert "data" not in sent.json()  # refused, one way or another
    later = await ask(client, tenant_a, {"extensions": persisted(document)})
    assert code_of(later) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "short"}},
        {"persistedQuery": "not an object"},
    ],
)
async def test_a_malformed_persisted_query_is_a_located_bad_request(
    client: httpx.AsyncClient, tenant_a: Tenant, extensions: dict[str, Any]
) -> None:
    response = await ask(client, tenant_a, {"extensions": extensions})
    assert code_of(response) == "BAD_REQUEST"
    assert "persistedQuery" in response.json()["errors"][0]["message"]


async def test_a_batch_with_one_unknown_hash_runs_the_others(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    unknown = VIEWER + f" # {uuid.uuid4()}"
    response = await client.post(
        "/graphql",
        json=[{"query": VIEWER}, {"extensions": persisted(unknown)}],
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    ran, missing = response.json()
    assert ran["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
    assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_api_processes_share_stored_documents_through_redis(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """Behind a load balancer the hash may reach another process than the document."""
    shared = settings.model_copy(update={"broker_url": real_broker_url("redis")})
    document = VIEWER + f" # {uuid.uuid4()}"
    async with app_client(shared, database) as one, app_client(shared, database) as two:
        stored = await ask(one, tenant_a, {"query": document, "extensions": persisted(document)})
        assert "errors" not in stored.json()
        found = await ask(two, tenant_a, {"extensions": persisted(document)})
        assert found.json() == stored.json()
        await redis_checks(one, tenant_a, document, stored)


async def redis_checks(
    one: httpx.AsyncClient, tenant_a: Tenant, document: str, stored: httpx.Response
) -> None:
    client = redis.asyncio.Redis.from_url(real_broker_url("redis"))
    try:
        [key] = await client.keys(f"waypost:apq:*:{sha(document)}")
        assert tenant_a.token not in key.decode()  # kept under a keyed hash of the token
        assert await client.get(key) == document.encode()
        assert 0 < await client.ttl(key) <= 24 * 3600
        # A hit does not write the document again: gone from Redis, it stays gone.
        await client.delete(key)
        again = await ask(one, tenant_a, {"extensions": persisted(document)})
        assert again.json() == stored.json()
        assert await client.keys(f"waypost:apq:*:{sha(document)}") == []
    finally:
        await client.aclose()


async def test_a_document_kept_for_one_credential_is_not_found_with_another(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Whether a document was ever run tells no one else anything: not another tenant,
    and not a caller without a credential (a guessed document with an email in it)."""
    document = f"query Who {{ viewer {{ user {{ email }} }} }} # alice@{uuid.uuid4()}.example"
    await ask(client, tenant_a, {"query": document, "extensions": persisted(document)})
    assert "data" in (await ask(client, tenant_a, {"extensions": persisted(document)})).json()
    other = await ask(client, tenant_b, {"extensions": persisted(document)})
    assert code_of(other) == "PERSISTED_QUERY_NOT_FOUND"
    anonymous = await client.post("/graphql", json={"extensions": persisted(document)})
    assert code_of(anonymous) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_credential_keeps_a_limited_number_of_new_documents(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    limited = settings.model_copy(
        update={"rate_limits": {**settings.rate_limits, "persisted_query_credential": "2/hour"}}
    )
    documents = [VIEWER + f" # {uuid.uuid4()}" for _ in range(3)]
    async with app_client(limited, database) as http:
        for document in documents:  # each runs
            sent = await ask(http, tenant_a, {"query": document, "extensions": persisted(document)})
            assert sent.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
        found = [await ask(http, tenant_a, {"extensions": persisted(d)}) for d in documents]
    assert ["data" in f.json() for f in found] == [True, True, False]
    assert code_of(found[2]) == "PERSISTED_QUERY_NOT_FOUND"


# -- trusted documents --------------------------------------------------------------------


def codegen_manifest(tmp_path: Path, *documents: str) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({sha(d): d for d in documents}))
    return path


def apollo_manifest(tmp_path: Path, *documents: str) -> Path:
    path = tmp_path / "persisted-query-manifest.json"
    operations = [{"id": sha(d), "name": "Op", "type": "query", "body": d} for d in documents]
    path.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    return path


@pytest.mark.parametrize("manifest", [codegen_manifest, apollo_manifest])
async def test_trusted_documents_answer_the_apps_own_documents_only(
    settings: Settings, database: Database, tenant_a: Tenant, tmp_path: Path, manifest: Any
) -> None:
    trusted = settings.model_copy(update={"trusted_documents": manifest(tmp_path, VIEWER)})
    async with app_client(trusted, database) as http:
        by_hash = await ask(http, tenant_a, {"extensions": persisted(VIEWER)})
        assert by_hash.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
        in_full = await ask(http, tenant_a, {"query": VIEWER})
        assert in_full.json() == by_hash.json()
        for body in (
            {"query": WORKSPACES},  # an attacker's own document, in full
            {"extensions": persisted(WORKSPACES)},  # or by its hash
            {"query": WORKSPACES, "extensions": persisted(WORKSPACES)},  # nor registered
            {"query": WORKSPACES, "extensions": persisted(VIEWER)},  # nor smuggled
        ):
            refused = await ask(http, tenant_a, body, accept="application/graphql-response+json")
            assert refused.status_code == 400, body
            assert code_of(refused) == "PERSISTED_QUERY_NOT_IN_LIST"
            assert "data" not in refused.json()
        still = await ask(http, tenant_a, {"extensions": persisted(WORKSPACES)})
        assert code_of(still) == "PERSISTED_QUERY_NOT_IN_LIST"


async def test_trusted_documents_hold_on_the_websocket_too(
    settings: Settings, database: Database, tenant_a: Tenant, tmp_path: Path
) -> None:
    trusted = settings.model_copy(update={"trusted_documents": codegen_manifest(tmp_path, VIEWER)})
    async with (
        serve(create_app(trusted, database=database)) as address,
        graphql_socket(address, params={"authorization": f"Bearer {tenant_a.token}"}) as socket,
    ):
        listed = await socket.execute(VIEWER)
        assert listed["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
        refused = await socket.execute(WORKSPACES)
    assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"


async def test_a_malformed_subscribe_closes_the_socket_without_a_crash(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with (
        serve(create_app(settings, database=database)) as address,
        graphql_socket(address, params={"authorization": f"Bearer {tenant_a.token}"}) as socket,
    ):
        await socket.send(
            {"id": "1", "type": "subscribe", "payload": {"query": VIEWER, "extensions": "x"}}
        )
        with pytest.raises(SocketClosed) as closed:
            await socket.receive()
    assert closed.value.code == 4400


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "cannot read"),
        ('{"' + "0" * 64 + '": "query { __typename }"}', "is not the SHA-256 of its document"),
        ("{}", "lists no document"),
        ("[1, 2]", "not a manifest"),
    ],
)
def test_a_bad_manifest_stops_the_start_naming_the_file(
    settings: Settings, database: Database, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="WAYPOST_TRUSTED_DOCUMENTS") as raised:
        create_app(settings.model_copy(update={"trusted_documents": path}), database=database)
    assert problem in str(raised.value)
    assert str(path) in str(raised.value)
