"""A document is parsed and validated once (graphql_schema/document_cache.py), and every
per-request check still runs on the requests that reuse it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
import strawberry.schema.schema as strawberry_schema
from graphql import parse

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from graphql_schema.document_cache import ValidDocuments
from tests.fixtures.tenants import Tenant

MAPS = """query Maps($id: ID!, $first: Int) { workspace(id: $id) {
  name journeyMaps(first: $first) { totalCount } } }"""
UNKNOWN_FIELD = "query Nope($id: ID!) { workspace(id: $id) { nameOfTheRose } }"
TWO_OPERATIONS = """query One($id: ID!) { workspace(id: $id) { name } }
query Two { viewer { user { email } } }"""


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often strawberry parsed and validated a document."""
    counts: Counter[str] = Counter()

    def counted(name: str, step: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return step(*args, **kwargs)

        return run

    monkeypatch.setattr(strawberry_schema, "parse", counted("parse", strawberry_schema.parse))
    monkeypatch.setattr(
        strawberry_schema, "validate", counted("validate", strawberry_schema.validate)
    )
    return counts


async def _client(settings: Settings, database: Database) -> httpx.AsyncClient:
    # A fresh app, so a fresh schema and cache: nothing cached by earlier tests.
    app = create_app(settings, database=database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest_asyncio.fixture(loop_scope="session")
async def api(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(settings, database) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def private_api(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """Introspection off: the schema is private from callers who do not authenticate."""
    async with await _client(settings.model_copy(update={"introspection": False}), database) as h:
        yield h


async def _ask(
    http: httpx.AsyncClient,
    query: str,
    token: str | None,
    operation: str | None = None,
    **variables: Any,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = {"query": query, "variables": variables}
    if operation:
        body["operationName"] = operation
    response = await http.post("/graphql", json=body, headers=headers)
    return response.json()


def _codes(answer: Any) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in answer.get("errors", [])]


async def test_a_valid_document_is_parsed_and_validated_once(
    api: httpx.AsyncClient, tenant_a: Tenant, steps: Counter[str]
) -> None:
    for first in (1, 2, 3):
        answer = await _ask(api, MAPS, tenant_a.token, id=tenant_a.ws_gid(0), first=first)
        assert "errors" not in answer, answer
        assert answer["data"]["workspace"]["name"]
    assert steps == {"parse": 1, "validate": 1}


async def test_an_invalid_document_is_validated_every_time(
    api: httpx.AsyncClient, tenant_a: Tenant, steps: Counter[str]
) -> None:
    answers = [await _ask(api, UNKNOWN_FIELD, tenant_a.token, id=tenant_a.ws_gid(0)) for _ in "ab"]
    assert answers[0] == answers[1]
    assert "data" not in answers[0]  # refused before anything ran
    assert "Cannot query field 'nameOfTheRose'" in answers[0]["errors"][0]["message"]
    assert steps == {"parse": 2, "validate": 2}


async def test_the_limits_still_read_each_requests_variables(
    api: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    fine = await _ask(api, MAPS, tenant_a.token, id=tenant_a.ws_gid(0), first=5)
    assert "errors" not in fine, fine
    too_many = await _ask(api, MAPS, tenant_a.token, id=tenant_a.ws_gid(0), first=10_000)
    assert "data" not in too_many  # refused before anything ran
    assert _codes(too_many) == ["QUERY_TOO_COMPLEX"]


async def test_a_cached_multi_operation_document_still_needs_an_operation_name(
    api: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    named = await _ask(api, TWO_OPERATIONS, tenant_a.token, "Two")
    assert "errors" not in named, named
    unnamed = await _ask(api, TWO_OPERATIONS, tenant_a.token)
    assert _codes(unnamed) == ["OPERATION_NAME_REQUIRED"]


async def test_an_anonymous_caller_learns_nothing_from_a_cached_document(
    private_api: httpx.AsyncClient, tenant_a: Tenant, steps: Counter[str]
) -> None:
    known = await _ask(private_api, MAPS, tenant_a.token, id=tenant_a.ws_gid(0), first=1)
    assert "errors" not in known, known
    anonymous = {
        query: await _ask(private_api, query, None, id=tenant_a.ws_gid(0))
        for query in (MAPS, UNKNOWN_FIELD)
    }
    # The same answer for a cached valid document as for an invalid one: no oracle.
    assert anonymous[MAPS] == anonymous[UNKNOWN_FIELD]
    assert _codes(anonymous[MAPS]) == ["UNAUTHENTICATED"]
    assert steps["validate"] == 1  # the owner's request alone was validated


def test_the_cache_is_bounded_by_the_length_of_its_texts() -> None:
    documents = ValidDocuments(max_total_chars=100, max_document_chars=60)
    rules: tuple[Any, ...] = ()
    texts = [f"{{ a{i} }}".ljust(40) for i in range(3)]
    for text in texts:
        documents.add((text, rules), parse(text))
    # 120 characters do not fit in 100: the least recently used one went.
    assert len(documents) == 2
    assert documents.get((texts[0], rules)) is None
    assert documents.get((texts[1], rules)) is not None
    documents.add(("{ b }".ljust(40), rules), parse("{ b }"))
    # texts[1] was used just now, so texts[2] went.
    assert documents.get((texts[2], rules)) is None
    assert documents.get((texts[1], rules)) is not None
    too_long = "{ c }".ljust(61)
    documents.add((too_long, rules), parse(too_long))
    assert documents.get((too_long, rules)) is None


def test_a_document_is_kept_per_rule_set() -> None:
    documents = ValidDocuments()
    text = "{ a }"
    documents.add((text, ("rule",)), parse(text))
    assert documents.get((text, ())) is None
    assert documents.get((text, ("rule",))) is not None
