"""Fuzzing the HTTP endpoint and the schema.

* A fuzzed or malformed request never yields a 500 (nor a traceback, nor an INTERNAL error).
* Fuzzing the schema yields no INTERNAL error: documents generated from the real schema, with
  argument values of the right and of the wrong types, garbage ids and cursors, sent with a
  valid token, fail (if they fail) with a client error, never with an unexpected one.

Hypothesis runs derandomized (a fixed seed per test, no example database), so CI sees the
same examples on every run. The client is built with ``raise_app_exceptions=False`` so that a
crash surfaces as the 500 a real client would get rather than as an exception in the test.

The tests at the end of this file pin, one by one, the bugs these fuzzers found when they
were written (non-object JSON bodies, undecodable bodies, odd cursors, the Node interface's
own id, NUL characters on Postgres); all are fixed.
"""

from __future__ import annotations

import base64
import json
import string
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
    is_required_argument,
    is_required_input_field,
)
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from strawberry import relay

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Environment, Settings
from graphql_schema.schema import MAX_BATCH_OPERATIONS, build_schema
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.graphql import global_id
from tests.fixtures.tenants import Tenant

SCHEMA: GraphQLSchema = build_schema(Settings(env=Environment.TEST))._schema

FUZZ = hypothesis_settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def fuzz(**overrides: Any) -> hypothesis_settings:
    return hypothesis_settings(FUZZ, **overrides)


# --------------------------------------------------------------------------- fixtures


@pytest_asyncio.fixture(loop_scope="session")
async def raw_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client``, but a crash comes back as a 500 response, as over the network."""
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class Pool:
    """Real values to mix into generated requests, so that resolvers get past the id checks."""

    token: str
    ids: list[str]
    cursors: dict[str, list[str]]  # real cursors, by connection field name
    slugs: list[str]
    emails: list[str]
    names: list[str]
    workspace: str  # a workspace of the caller's, to reach Workspace fields through

    @property
    def all_cursors(self) -> list[str]:
        return [cursor for cursors in self.cursors.values() for cursor in cursors]


async def _graphql(http: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest_asyncio.fixture(loop_scope="session")
async def pool(raw_client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant) -> Pool:
    token = tenant_a.token
    member = await _graphql(
        raw_client,
        token,
        "mutation($w: ID!) { addWorkspaceMember(input: {workspaceId: $w, email: "
        '"guest@alpha.example", role: EDITOR}) { member { id } errors { code } } }',
        w=tenant_a.ws_gid(0),
    )
    spare = await _graphql(
        raw_client,
        token,
        'mutation { createApiToken(input: {name: "spare"}) { apiToken { id } errors { code } } }',
    )
    seen = await _graphql(
        raw_client,
        token,
        """{ viewer {
            user { id }
            organizations { edges { cursor } }
            workspaces { edges { cursor node { members { edges { cursor } } } } }
            apiTokens { edges { cursor } }
            auditEvents { edges { cursor } }
        } }""",
    )
    viewer = seen["viewer"]
    cursors = {
        name: [edge["cursor"] for edge in viewer[name]["edges"]]
        for name in ("organizations", "workspaces", "apiTokens", "auditEvents")
    }
    cursors["members"] = [
        edge["cursor"]
        for workspace in viewer["workspaces"]["edges"]
        for edge in workspace["node"]["members"]["edges"]
    ]
    assert all(cursors.values()), cursors
    ids = [
        tenant_a.org_gid,
        *(tenant_a.ws_gid(i) for i in range(len(tenant_a.workspace_ids))),
        viewer["user"]["id"],
        member["addWorkspaceMember"]["member"]["id"],
        # The spare token may be revoked by a fuzzed mutation; the bootstrap one is never
        # in the pool, so the fuzzer keeps its credentials.
        spare["createApiToken"]["apiToken"]["id"],
        # Another tenant's objects: must come back as null or NOT_FOUND, never INTERNAL.
        tenant_b.org_gid,
        tenant_b.ws_gid(0),
        global_id("User", tenant_b.owner_id),
    ]
    return Pool(
        token=token,
        ids=ids,
        cursors=cursors,
        slugs=[tenant_a.slug, tenant_b.slug, tenant_a.slug.upper(), f" {tenant_a.slug} "],
        emails=[tenant_a.owner_email, tenant_b.owner_email, "guest@alpha.example"],
        names=["alpha client 1", "alpha client 2", "ALPHA CLIENT 1", " alpha client 1 "],
        workspace=tenant_a.ws_gid(0),
    )


# --------------------------------------------------------------------------- checks


def _errors(body: Any) -> list[Any]:
    results = body if isinstance(body, list) else [body]
    errors: list[Any] = []
    for result in results:
        if isinstance(result, dict) and isinstance(result.get("errors"), list):
            errors.extend(result["errors"])
    return errors


def assert_sane(response: httpx.Response, request: object) -> None:
    """No 5xx, no traceback, and no masked (INTERNAL) error in the answer."""
    text = response.text
    assert response.status_code < 500, (request, response.status_code, text[:500])
    assert "Traceback" not in text, (request, text[:2000])
    try:
        body = response.json()
    except ValueError:
        return
    internal = [
        error
        for error in _errors(body)
        if isinstance(error, dict) and (error.get("extensions") or {}).get("code") == "INTERNAL"
    ]
    assert not internal, (request, internal)


# --------------------------------------------------------------------------- known bugs


# --------------------------------------------------------------------------- (a) HTTP fuzz

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
SAMPLE_DOCUMENTS = [
    "{ __typename }",
    "{ viewer { user { email } } }",
    "query Q($f: Int) { viewer { organizations(first: $f) { totalCount } } }",
    'mutation { createApiToken(input: {name: "fuzz"}) { errors { code } } }',
    "{ __schema { types { name } } }",
    "subscription { viewer }",
    "{",
    "",
    "query A { __typename } query B { __typename }",
    "fragment F on Query { ...F } { ...F }",
]
DOCUMENTS = st.sampled_from(SAMPLE_DOCUMENTS) | st.text(max_size=60)
REQUEST_OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "query": DOCUMENTS | JSON_VALUES,
        "variables": st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3) | JSON_VALUES,
        "operationName": st.sampled_from(["Q", "A", "B", "nope"]) | JSON_VALUES,
        "extensions": JSON_VALUES,
    },
)
JSON_BODIES = st.one_of(
    REQUEST_OBJECTS,
    st.lists(REQUEST_OBJECTS, max_size=MAX_BATCH_OPERATIONS + 2),
    JSON_VALUES,
).map(lambda value: json.dumps(value).encode())
BODIES = st.one_of(
    JSON_BODIES,
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    # Truncated or corrupted JSON requests.
    st.tuples(JSON_BODIES, st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
    st.tuples(JSON_BODIES, st.binary(min_size=1, max_size=4), st.integers(0, 100)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    ),
)
# Any header value a server would pass on: visible ASCII, space, tab and obs-text.
HEADER_TEXT = st.binary(max_size=60).map(
    lambda raw: bytes(b for b in raw if b == 9 or 32 <= b <= 126 or b >= 128)
)
CONTENT_TYPES = (
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-8",
            b"APPLICATION/JSON",
            b"application/json; charset=latin-1",
            b"application/graphql",
            b"application/graphql-response+json",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data",
            b"multipart/form-data; boundary=xyz",
            b"multipart/mixed",
            b"text/plain",
            b"text/html",
            b"",
            b";",
            b"application/jsonx",
        ]
    )
    | HEADER_TEXT
)
ACCEPTS = (
    st.sampled_from(
        [
            None,
            b"*/*",
            b"application/json",
            b"text/html",
            b"text/event-stream",
            b"multipart/mixed",
            b"multipart/mixed;deferSpec=20220824",
            b"application/graphql-response+json",
        ]
    )
    | HEADER_TEXT
)


def _authorization(tenant: Tenant) -> st.SearchStrategy[bytes | None]:
    return st.one_of(
        st.none(),
        st.just(f"Bearer {tenant.token}".encode()),
        HEADER_TEXT,
        HEADER_TEXT.map(lambda text: b"Bearer " + text),
        HEADER_TEXT.map(lambda text: b"Bearer wp_" + text),
    )


def _headers(**values: bytes | None) -> dict[str, bytes]:
    return {name.replace("_", "-"): value for name, value in values.items() if value is not None}


@fuzz(max_examples=150)
@given(data=st.data())
async def test_a_fuzzed_post_body_never_yields_a_500(
    raw_client: httpx.AsyncClient, tenant_a: Tenant, data: st.DataObject
) -> None:
    body = data.draw(BODIES, label="body")
    content_type = data.draw(CONTENT_TYPES, label="content_type")
    headers = _headers(
        content_type=content_type,
        accept=data.draw(ACCEPTS, label="accept"),
        authorization=data.draw(_authorization(tenant_a), label="authorization"),
    )
    response = await raw_client.post("/graphql", content=body, headers=headers)
    assert_sane(response, (body, headers))


QUERY_KEYS = st.sampled_from(["query", "variables", "operationName", "extensions"]) | st.text(
    max_size=8
)
QUERY_VALUES = (
    DOCUMENTS
    | JSON_VALUES.map(json.dumps)
    | st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3).map(json.dumps)
    | st.text(max_size=40)
)
RAW_QUERY_STRINGS = st.text(
    alphabet=string.ascii_letters + string.digits + "%&=+;?/{}[]\"':,._-~ ", max_size=80
)


@fuzz(max_examples=150)
@given(data=st.data())
async def test_a_fuzzed_query_string_never_yields_a_500(
    raw_client: httpx.AsyncClient, tenant_a: Tenant, data: st.DataObject
) -> None:
    method = data.draw(
        st.sampled_from(["GET", "GET", "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        label="method",
    )
    headers = _headers(
        accept=data.draw(ACCEPTS, label="accept"),
        authorization=data.draw(_authorization(tenant_a), label="authorization"),
    )
    if data.draw(st.booleans(), label="raw"):
        url = "/graphql?" + data.draw(RAW_QUERY_STRINGS, label="query_string")
        response = await raw_client.request(method, url, headers=headers)
        request: object = (method, url, headers)
    else:
        params = data.draw(
            st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=5), label="params"
        )
        response = await raw_client.request(method, "/graphql", params=params, headers=headers)
        request = (method, params, headers)
    assert_sane(response, request)


# --------------------------------------------------------------------------- (b) schema fuzz


@dataclass(frozen=True)
class EnumLiteral:
    name: str


@dataclass
class Entry:
    text: str
    strings: list[str]


@dataclass
class Case:
    operation: str
    document: str
    variables: dict[str, Any]
    strings: list[str] = field(default_factory=list)


NAME = st.from_regex(r"\A[_A-Za-z][_0-9A-Za-z]{0,10}\Z")
INTS = st.sampled_from(
    [
        0,
        1,
        2,
        3,
        5,
        20,
        99,
        100,
        101,
        1000,
        3650,
        3651,
        -1,
        -100,
        2**31 - 1,
        2**31,
        -(2**31),
        -(2**31) - 1,
        2**53,
        2**63,
        10**30,
    ]
) | st.integers(-(10**6), 10**6)
NASTY_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\x00",
        "a\x00b",
        "x" * 201,
        "x" * 5000,
        "é",
        "😀",
        "\u202e",
        "'; DROP TABLE users; --",
        "%",
        "_",
        "\\",
        '"',
        "null",
        "wp_" + "A" * 43,
        "Organization",
        "00000000-0000-0000-0000-000000000000",
        "2024-01-01T00:00:00+00:00",
    ]
)
UUIDS = st.uuids().map(str) | st.just("00000000-0000-0000-0000-000000000000")
NODE_TYPE_NAMES = ["ApiToken", "Node", "Organization", "User", "Workspace", "WorkspaceMember"]
ALL_TYPE_NAMES = st.sampled_from([*sorted(SCHEMA.type_map), "", "Nope", "node", "Workspace "])
TYPE_NAMES = (
    st.sampled_from(NODE_TYPE_NAMES)
    | st.sampled_from(sorted(SCHEMA.type_map))
    | st.text(max_size=10)
)


def _b64(raw: bytes, *, urlsafe: bool, padded: bool) -> str:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return encoded if padded else encoded.rstrip("=")


def _encode_id(type_name: str, node_id: str) -> str:
    return _b64(f"{type_name}:{node_id}".encode(), urlsafe=False, padded=True)


def _encode_cursor(items: Any) -> str:
    return _b64(json.dumps(items).encode(), urlsafe=True, padded=False)


def garbage_ids(real_ids: list[str]) -> st.SearchStrategy[str]:
    real = st.sampled_from(real_ids).map(relay.GlobalID.from_id)
    return st.one_of(
        # A real object's uuid under another type name (another tenant's, or none at all).
        st.builds(
            lambda gid, name: _encode_id(name, gid.node_id), real, st.sampled_from(NODE_TYPE_NAMES)
        ),
        st.builds(lambda gid, name: _encode_id(name, gid.node_id), real, TYPE_NAMES),
        # A real type with a uuid that does not exist, or with garbage inside.
        st.builds(_encode_id, TYPE_NAMES, UUIDS | st.text(max_size=20)),
        st.binary(max_size=40).map(lambda raw: _b64(raw, urlsafe=False, padded=True)),
        st.text(alphabet=string.ascii_letters + string.digits + "+/=", max_size=40),
        UUIDS,
    )


CURSOR_ITEMS = st.one_of(
    JSON_LEAVES,
    UUIDS,
    st.sampled_from(["2024-01-01T00:00:00", "2024-01-01T00:00:00+00:00", "9999-12-31", "a", ""]),
    st.datetimes().map(lambda d: d.isoformat()),
    st.lists(JSON_LEAVES, max_size=2),
    st.dictionaries(st.text(max_size=3), JSON_LEAVES, max_size=2),
)


def _replace_item(cursor: str, index: int, item: Any) -> str:
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    decoded[index % len(decoded)] = item
    return _encode_cursor(decoded)


def garbage_cursors(real_cursors: list[str]) -> st.SearchStrategy[str]:
    real = st.sampled_from(real_cursors)
    return st.one_of(
        # A real cursor with one of its items replaced, or cut or extended.
        st.builds(_replace_item, real, st.just(0), CURSOR_ITEMS),
        st.builds(_replace_item, real, st.just(1), CURSOR_ITEMS),
        st.builds(lambda cursor, cut: cursor[:cut], real, st.integers(0, 60)),
        st.builds(lambda cursor, extra: cursor + extra, real, st.text(max_size=4)),
        st.tuples(CURSOR_ITEMS, CURSOR_ITEMS).map(lambda items: _encode_cursor(list(items))),
        st.lists(CURSOR_ITEMS, max_size=4).map(_encode_cursor),
        JSON_VALUES.map(_encode_cursor),
        st.binary(max_size=40).map(lambda raw: _b64(raw, urlsafe=True, padded=False)),
        st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=40),
    )


def _wrong_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        INTS,
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
        NAME.map(EnumLiteral),
        st.lists(INTS | st.text(max_size=5), max_size=2),
        st.dictionaries(NAME, INTS | st.text(max_size=5), max_size=2),
    )


class DocumentGenerator:
    """Draws a syntactically valid document for one root type of the real schema."""

    def __init__(
        self, draw: Any, pool: Pool, *, hostile: bool | None = None, variables: bool = True
    ) -> None:
        self.draw = draw
        self.pool = pool
        # A hostile document has wrong types, nulls and unknown names; the others are
        # well-typed, so that they get past validation and into the resolvers.
        self.hostile: bool = draw(st.booleans()) if hostile is None else hostile
        self.use_variables = variables
        # Arguments to pass nearly always, with values from their own strategies.
        self.focus: dict[str, st.SearchStrategy[Any]] = {}
        self.variable_definitions: list[str] = []
        self.variables: dict[str, Any] = {}
        self.strings: list[str] = []

    def chance(self, probability: float) -> bool:
        # sampled_from, unlike floats() or integers(), is not biased towards the bounds.
        return bool(self.draw(st.sampled_from(range(100))) < probability * 100)

    def mischief(self, probability: float) -> bool:
        return self.hostile and self.chance(probability)

    # Values -------------------------------------------------------------------------

    def strings_for(self, type_name: str, hint: str) -> st.SearchStrategy[str]:
        """Strings for an argument or input field named ``hint``, mostly of the kind it wants."""
        pool = self.pool
        common = st.text(max_size=30) | NASTY_STRINGS
        ids = garbage_ids(pool.ids)
        if type_name == "ID":
            return st.one_of(st.sampled_from(pool.ids), ids, ids, common)
        cursors = st.sampled_from(pool.all_cursors) | garbage_cursors(pool.all_cursors)
        likely = {
            "after": cursors,
            "slug": st.sampled_from(pool.slugs),
            "email": st.sampled_from(pool.emails) | st.emails(),
            "name": st.sampled_from(pool.names),
        }.get(hint)
        anything = st.one_of(
            common,
            st.sampled_from(pool.slugs + pool.emails + pool.names),
            st.emails(),
            cursors,
            ids,
        )
        return anything if likely is None else st.one_of(likely, likely, anything)

    def value(self, type_: GraphQLInputType, hint: str) -> Any:
        if self.mischief(0.08):
            return self.draw(_wrong_values())
        if isinstance(type_, GraphQLNonNull):
            return None if self.mischief(0.05) else self.value(type_.of_type, hint)
        if isinstance(type_, GraphQLList):
            if self.chance(0.3):
                return self.value(type_.of_type, hint)  # a single value, coerced to a list
            return [self.value(type_.of_type, hint) for _ in range(self.draw(st.integers(0, 3)))]
        if isinstance(type_, GraphQLEnumType):
            if self.mischief(0.15):
                return EnumLiteral(self.draw(NAME))
            return EnumLiteral(self.draw(st.sampled_from(sorted(type_.values))))
        if isinstance(type_, GraphQLInputObjectType):
            result: dict[str, Any] = {}
            for name, input_field in type_.fields.items():
                required = is_required_input_field(input_field)
                if (required and not self.mischief(0.05)) or self.chance(0.5):
                    result[name] = self.value(input_field.type, name)
            if self.mischief(0.05):
                result[self.draw(NAME)] = self.draw(_wrong_values())
            return result
        assert isinstance(type_, GraphQLScalarType)
        if type_.name == "Int":
            if hint == "first":  # mostly page sizes the limits let through
                small, allowed = st.integers(0, 3), st.integers(0, 100)
                return self.draw(st.one_of(small, small, allowed, allowed, INTS))
            return self.draw(INTS)
        if type_.name == "Boolean":
            return self.draw(st.booleans())
        if type_.name == "Float":
            return self.draw(st.floats(allow_nan=False, allow_infinity=False))
        return self.draw(self.strings_for(type_.name, hint))

    def literal(self, value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return json.dumps(value)
        if isinstance(value, str):
            self.strings.append(value)
            return json.dumps(value)
        if isinstance(value, EnumLiteral):
            return value.name
        if isinstance(value, list):
            return "[" + ", ".join(self.literal(item) for item in value) + "]"
        assert isinstance(value, dict)
        return "{" + ", ".join(f"{k}: {self.literal(v)}" for k, v in value.items()) + "}"

    def as_json(self, value: Any) -> Any:
        if isinstance(value, str):
            self.strings.append(value)
        if isinstance(value, EnumLiteral):
            return value.name
        if isinstance(value, list):
            return [self.as_json(item) for item in value]
        if isinstance(value, dict):
            return {k: self.as_json(v) for k, v in value.items()}
        return value

    def argument(self, name: str, argument: GraphQLArgument) -> str:
        if name in self.focus and not self.mischief(0.1):
            value = self.draw(self.focus[name])
        else:
            value = self.value(argument.type, name)
        if not (self.use_variables and self.chance(0.35)):
            return f"{name}: {self.literal(value)}"
        variable = f"v{len(self.variable_definitions)}"
        declared = str(argument.type)
        if self.mischief(0.05):
            declared = self.draw(st.sampled_from(["Int", "String", "ID!", "Boolean", "[Int]"]))
        self.variable_definitions.append(f"${variable}: {declared}")
        if not self.mischief(0.1):  # else: declared but not sent
            self.variables[variable] = self.as_json(value)
        return f"{name}: ${variable}"

    def arguments(self, arguments: dict[str, GraphQLArgument]) -> str:
        parts = [
            self.argument(name, argument)
            for name, argument in arguments.items()
            if (is_required_argument(argument) and not self.mischief(0.05))
            or self.chance(0.9 if name in self.focus else 0.5)
        ]
        if self.mischief(0.05):
            parts.append(f"{self.draw(NAME)}: {self.literal(self.draw(_wrong_values()))}")
        return f"({', '.join(parts)})" if parts else ""

    # Selections ---------------------------------------------------------------------

    def selection_set(self, type_: GraphQLOutputType, depth: int) -> str:
        named = get_named_type(type_)
        assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
        fields = sorted(named.fields)
        if depth <= 0:
            fields = [n for n in fields if is_leaf_type(get_named_type(named.fields[n].type))]
        chosen = (
            self.draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True))
            if fields
            else []
        )
        selections = [self.field(named, name, depth) for name in chosen]
        if not selections or self.chance(0.1):
            selections.append("__typename")
        if isinstance(named, GraphQLInterfaceType) and depth > 0 and self.chance(0.6):
            possible = sorted(t.name for t in SCHEMA.get_possible_types(named))
            implementation = SCHEMA.get_type(self.draw(st.sampled_from(possible)))
            assert isinstance(implementation, GraphQLObjectType)
            inner = self.selection_set(implementation, depth - 1)
            selections.append(f"... on {implementation.name} {inner}")
        return "{ " + " ".join(selections) + " }"

    def field(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        name: str,
        depth: int,
        alias: str | None = None,
    ) -> str:
        definition = parent.fields[name]
        if alias is not None:
            alias = f"{alias}: "
        else:
            alias = f"{self.draw(NAME)}_{depth}: " if self.chance(0.1) else ""
        arguments = self.arguments(definition.args)
        if is_leaf_type(get_named_type(definition.type)):
            return f"{alias}{name}{arguments}"
        return f"{alias}{name}{arguments} {self.selection_set(definition.type, depth - 1)}"

    def document(self, operation: str) -> Case:
        root = SCHEMA.mutation_type if operation == "mutation" else SCHEMA.query_type
        assert root is not None
        depth = self.draw(st.integers(1, 5))
        names = self.draw(
            st.lists(st.sampled_from(sorted(root.fields)), min_size=1, max_size=2, unique=True)
        )
        body = " ".join(self.field(root, name, depth) for name in names)
        return self.case(operation, body)

    def entry(self, alias: str, parent: str, name: str) -> Entry:
        """One root entry about one field of ``parent``, reached with the pool's values."""
        self.strings = []
        parent_type = SCHEMA.get_type(parent)
        assert isinstance(parent_type, GraphQLObjectType)
        depth = self.draw(st.integers(1, 2))
        if parent == "Query":
            return Entry(self.field(parent_type, name, depth, alias=alias), self.strings)
        inner = self.field(parent_type, name, depth)
        ways = {
            "Viewer": "viewer",
            "Organization": f"organization(slug: {json.dumps(self.pool.slugs[0])})",
            "Workspace": f"workspace(id: {json.dumps(self.pool.workspace)})",
        }
        return Entry(f"{alias}: {ways[parent]} {{ {inner} }}", self.strings)

    def case(self, operation: str, body: str) -> Case:
        header = f"({', '.join(self.variable_definitions)})" if self.variable_definitions else ""
        document = f"{operation} Fuzz{header} {{ {body} }}"
        return Case(operation, document, self.variables, self.strings)


def cases(pool: Pool, operation: str) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: Any) -> Case:
        return DocumentGenerator(draw, pool).document(operation)

    return draw_case()


def _fields_with_argument(type_names: list[str], argument: str) -> list[tuple[str, str]]:
    found = []
    for type_name in type_names:
        type_ = SCHEMA.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        for name, definition in sorted(type_.fields.items()):
            if argument in definition.args:
                found.append((type_name, name))
    return found


# Every paginated field on the types a document can reach with the pool's values.
CONNECTION_FIELDS = _fields_with_argument(["Viewer", "Organization", "Workspace"], "after")
# Every root field that looks an object up by id.
LOOKUP_FIELDS = _fields_with_argument(["Query"], "id")


def focused_entries(
    pool: Pool,
    fields: list[tuple[str, str]],
    focus: Callable[[str], dict[str, st.SearchStrategy[Any]]],
) -> st.SearchStrategy[list[Entry]]:
    """Several well-typed root entries, each about one of ``fields``; ``focus(name)`` gives
    the arguments to fuzz for field ``name``, and their values."""

    @st.composite
    def draw_entries(draw: Any) -> list[Entry]:
        generator = DocumentGenerator(draw, pool, hostile=False, variables=False)
        entries = []
        for index in range(draw(st.integers(1, 6))):
            parent, name = draw(st.sampled_from(fields))
            generator.focus = focus(name)
            entries.append(generator.entry(f"f{index}", parent, name))
        return entries

    return draw_entries()


async def _run_entries(http: httpx.AsyncClient, token: str, entries: list[Entry]) -> None:
    if entries:
        document = "query Fuzz { " + " ".join(entry.text for entry in entries) + " }"
        strings = [string for entry in entries for string in entry.strings]
        await _run_case(http, token, Case("query", document, {}, strings))


CLIENT_SIDE_CODES = {
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_USER_INPUT",
    "QUERY_TOO_COMPLEX",
    "VALIDATION",
    "NOT_FOUND",
    "FORBIDDEN",
}


async def _run_case(http: httpx.AsyncClient, token: str, case: Case) -> None:
    response = await http.post(
        "/graphql",
        json={"query": case.document, "variables": case.variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_sane(response, case)
    assert response.status_code == 200, (case, response.text[:500])
    body = response.json()
    # Every error is an explained, client-side one, with a code a client can branch on.
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CLIENT_SIDE_CODES, (
            case,
            error,
        )


@fuzz(max_examples=150)
@given(data=st.data())
async def test_fuzzing_queries_yields_no_internal_error(
    raw_client: httpx.AsyncClient, pool: Pool, data: st.DataObject
) -> None:
    case = data.draw(cases(pool, "query"), label="case")
    await _run_case(raw_client, pool.token, case)


@fuzz(max_examples=120)
@given(data=st.data())
async def test_fuzzing_mutations_yields_no_internal_error(
    raw_client: httpx.AsyncClient, pool: Pool, data: st.DataObject
) -> None:
    case = data.draw(cases(pool, "mutation"), label="case")
    await _run_case(raw_client, pool.token, case)


@fuzz(max_examples=100)
@given(data=st.data())
async def test_fuzzing_pagination_arguments_yields_no_internal_error(
    raw_client: httpx.AsyncClient, pool: Pool, data: st.DataObject
) -> None:

    def focus(name: str) -> dict[str, st.SearchStrategy[Any]]:
        # Mostly this connection's own cursors, taken apart: the closer to valid, the deeper.
        # A connection with no rows yet (deadLetters) has no cursors of its own.
        own = pool.cursors.get(name) or pool.all_cursors
        cursors = st.one_of(
            st.sampled_from(own),
            garbage_cursors(own),
            garbage_cursors(own),
            garbage_cursors(pool.all_cursors),
        )
        return {"after": cursors}

    entries = data.draw(focused_entries(pool, CONNECTION_FIELDS, focus), label="entries")
    await _run_entries(raw_client, pool.token, entries)


@fuzz(max_examples=100)
@given(data=st.data())
async def test_fuzzing_global_ids_yields_no_internal_error(
    raw_client: httpx.AsyncClient, pool: Pool, data: st.DataObject
) -> None:
    real_uuids = st.sampled_from([relay.GlobalID.from_id(i).node_id for i in pool.ids])
    retyped = st.builds(
        _encode_id, st.sampled_from(NODE_TYPE_NAMES) | ALL_TYPE_NAMES, real_uuids | UUIDS
    )
    ids = st.one_of(
        # Any type of the schema (and a few that are not) around a real or made-up uuid.
        retyped,
        retyped,
        retyped,
        st.sampled_from(pool.ids),
        garbage_ids(pool.ids),
        st.text(max_size=20) | NASTY_STRINGS,
    )
    entries = data.draw(
        focused_entries(pool, LOOKUP_FIELDS, lambda _name: {"id": ids}), label="entries"
    )
    await _run_entries(raw_client, pool.token, entries)


def test_the_focused_fuzzers_cover_the_schema() -> None:
    assert len(CONNECTION_FIELDS) >= 5, CONNECTION_FIELDS
    assert ("Query", "node") in LOOKUP_FIELDS


async def test_the_generator_reaches_the_resolvers(
    raw_client: httpx.AsyncClient, pool: Pool
) -> None:
    """Guards the fuzzers against testing nothing: many generated documents must run."""
    executed = 0

    @fuzz(max_examples=40, phases=[Phase.generate])
    @given(case=cases(pool, "query"))
    def collect(case: Case) -> None:
        collected.append(case)

    collected: list[Case] = []
    collect()
    for case in collected:
        response = await raw_client.post(
            "/graphql",
            json={"query": case.document, "variables": case.variables},
            headers={"Authorization": f"Bearer {pool.token}"},
        )
        body = response.json()
        if isinstance(body, dict) and body.get("data"):
            executed += 1
    assert executed >= len(collected) // 4, (executed, len(collected))


# --------------------------------------------------------------------------- bugs found, fixed


@pytest.mark.parametrize("body", [b"null", b"1", b'"query"', b"true", b"1.5"])
async def test_a_json_body_that_is_not_an_object_is_a_client_error(
    raw_client: httpx.AsyncClient, body: bytes
) -> None:
    response = await raw_client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("body", [b"[null]", b"[1]", b"[[]]", b'["{ __typename }"]'])
async def test_a_batch_item_that_is_not_an_object_is_a_client_error(
    raw_client: httpx.AsyncClient, body: bytes
) -> None:
    response = await raw_client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("body", [b"\x80", b'{"query": "\xff"}', b"\xc3"])
async def test_a_body_that_is_not_utf8_is_a_client_error(
    raw_client: httpx.AsyncClient, body: bytes
) -> None:
    response = await raw_client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


async def test_a_deeply_nested_json_body_is_a_client_error(raw_client: httpx.AsyncClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = await raw_client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


async def test_a_batch_item_with_a_non_string_query_is_a_client_error(
    raw_client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await raw_client.post(
        "/graphql",
        json=[{"query": 1}],
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert_sane(response, "[{query: 1}]")
    assert 400 <= response.status_code < 500, response.text


# Each connection's query, and a valid value for its cursor's first key (name or created_at).
CONNECTIONS = {
    "organizations": ("{ viewer { organizations(after: $after) { totalCount } } }", "a"),
    "workspaces": ("{ viewer { workspaces(after: $after) { totalCount } } }", "a"),
    "apiTokens": (
        "{ viewer { apiTokens(after: $after) { totalCount } } }",
        "2024-01-01T00:00:00+00:00",
    ),
}


@pytest.mark.parametrize("connection", sorted(CONNECTIONS))
@pytest.mark.parametrize(
    "bad_id", [1, 1.5, ["x"], {}, True], ids=["int", "float", "list", "object", "bool"]
)
async def test_a_cursor_with_a_non_string_id_is_a_validation_error(
    raw_client: httpx.AsyncClient, tenant_a: Tenant, connection: str, bad_id: Any
) -> None:
    document, first_key = CONNECTIONS[connection]
    response = await raw_client.post(
        "/graphql",
        json={
            "query": "query($after: String) " + document,
            "variables": {"after": _encode_cursor([first_key, bad_id])},
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert_sane(response, bad_id)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION"


@pytest.mark.parametrize("connection", ["apiTokens", "members"])
@pytest.mark.parametrize(
    "timestamp",
    ["2024-01-01T00:00:00", "2024-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
)
async def test_a_cursor_with_an_unusable_timestamp_is_a_validation_error(
    raw_client: httpx.AsyncClient, tenant_a: Tenant, connection: str, timestamp: str
) -> None:
    after = _encode_cursor([timestamp, str(uuid.UUID(int=7))])
    documents = {
        "apiTokens": "query($after: String) { viewer { apiTokens(after: $after) { totalCount } } }",
        "members": "query($after: String, $w: ID!) { workspace(id: $w) "
        "{ members(after: $after) { totalCount } } }",
    }
    response = await raw_client.post(
        "/graphql",
        json={
            "query": documents[connection],
            "variables": {"after": after, "w": tenant_a.ws_gid()},
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert_sane(response, timestamp)
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_a_cursor_with_an_aware_timestamp_is_accepted(
    raw_client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    after = _encode_cursor(["2000-01-01T00:00:00+02:00", str(uuid.UUID(int=7))])
    response = await raw_client.post(
        "/graphql",
        json={
            "query": "query($after: String) { viewer { apiTokens(after: $after) { totalCount } } }",
            "variables": {"after": after},
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert response.json() == {"data": {"viewer": {"apiTokens": {"totalCount": 1}}}}


async def test_a_cursor_with_a_string_garbage_id_is_a_validation_error(
    raw_client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    for connection, (document, first_key) in CONNECTIONS.items():
        response = await raw_client.post(
            "/graphql",
            json={
                "query": "query($after: String) " + document,
                "variables": {"after": _encode_cursor([first_key, "not-a-uuid"])},
            },
            headers={"Authorization": f"Bearer {tenant_a.token}"},
        )
        assert_sane(response, connection)
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "VALIDATION", "field": "after"}


@pytest.mark.parametrize("priority", ["Alpha", "nan", "inf", "1e999"])
async def test_a_cursor_whose_number_is_not_one_is_a_validation_error(
    raw_client: httpx.AsyncClient, tenant_a: Tenant, priority: str
) -> None:
    """Found by the fuzzer: an organizations cursor (a name first) sent to initiatives,
    ordered by a float priority, reached Postgres as a string: an INTERNAL error."""
    response = await raw_client.post(
        "/graphql",
        json={
            "query": "query($id: ID!, $after: String) { workspace(id: $id) {"
            " initiatives(orderBy: PRIORITY, after: $after) { totalCount } } }",
            "variables": {
                "id": tenant_a.ws_gid(0),
                "after": _encode_cursor([priority, str(uuid.uuid4())]),
            },
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert_sane(response, priority)
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "after"}


@pytest.mark.parametrize("node_id", ["00000000-0000-0000-0000-000000000000", str(uuid.UUID(int=1))])
async def test_node_with_an_id_of_the_node_interface_is_null(
    raw_client: httpx.AsyncClient, tenant_a: Tenant, node_id: str
) -> None:
    response = await raw_client.post(
        "/graphql",
        json={
            "query": "query($id: ID!) { node(id: $id) { id } }",
            "variables": {"id": global_id("Node", node_id)},
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert_sane(response, node_id)
    assert response.json() == {"data": {"node": None}}


NUL_REQUESTS = {
    "organization(slug)": (
        "query($s: String!) { organization(slug: $s) { id } }",
        {"s": "al\x00pha"},
    ),
    "createWorkspace(name)": (
        'mutation($o: ID!) { createWorkspace(input: {organizationId: $o, name: "a\\u0000b"}) '
        "{ errors { code field } } }",
        {},
    ),
    "createApiToken(name)": (
        'mutation { createApiToken(input: {name: "a\\u0000b"}) { errors { code field } } }',
        {},
    ),
    "addWorkspaceMember(email)": (
        "mutation($w: ID!) { addWorkspaceMember(input: {workspaceId: $w, "
        'email: "a\\u0000b@example.com", role: VIEWER}) { errors { code field } } }',
        {},
    ),
}


@pytest.mark.skipif(not is_postgres_run(), reason="SQLite stores the NUL character")
@pytest.mark.parametrize("request_name", sorted(NUL_REQUESTS))
async def test_a_nul_character_in_a_string_argument_is_no_internal_error(
    raw_client: httpx.AsyncClient, tenant_a: Tenant, request_name: str
) -> None:
    query, variables = NUL_REQUESTS[request_name]
    response = await raw_client.post(
        "/graphql",
        json={
            "query": query,
            "variables": {**variables, "o": tenant_a.org_gid, "w": tenant_a.ws_gid()},
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert_sane(response, request_name)
