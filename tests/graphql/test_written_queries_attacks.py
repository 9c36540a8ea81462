"""Attacks on the direct answer of a query Postgres wrote whole
(graphql_schema/written_queries.py): each first shows the direct way answering the
legitimate caller, then makes the attack and holds the attacker (or the victim) to what
the ordinary engine answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.sessions import SESSION_COOKIE
from backend.db.engine import Database
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema import engine
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.planned import answer, ordinary_and_planned
from tests.fixtures.tenants import Tenant, add_guest, owner_session
from tests.test_http import production_settings

pytestmark = pytest.mark.skipif(not is_postgres_run(), reason="Postgres writes the JSON")

NAME = "query Name($id: ID!) { workspace(id: $id) { name } }"
VIEWER = "query Viewer { viewer { user { email } } }"
MINT = """mutation Mint { createApiToken(input: {name: "minted"}) {
  token errors { code } } }"""


def _literal_name(workspace: str) -> str:
    """A query the victim's client sends, without variables (the id written in)."""
    return 'query Name { workspace(id: "' + workspace + '") { name } }'


def _direct() -> int:
    return engine.COUNTS["answered directly"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _post(client: httpx.AsyncClient, body: Any, token: str) -> Any:
    response = await client.post("/graphql", json=body, headers=_bearer(token))
    return response.status_code, _without_ids(response.json())


def _without_ids(body: Any) -> Any:
    for item in body if isinstance(body, list) else [body]:
        for error in item.get("errors") or []:
            (error.get("extensions") or {}).pop("requestId", None)
    return body


async def test_a_batch_does_not_teach_one_documents_statement_to_another(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """A batch's operations share one context, and with it ``context.written``: B's admin
    batches a query Postgres writes whole with another document (one A's owner sends too).
    A's owner, sending that other document afterwards, must get its own answer, not the
    written query's."""
    name = _literal_name(tenant_a.ws_gid(0))
    victim: dict[str, Any] = {}
    async with ordinary_and_planned(settings, database) as clients:
        planned = clients[True]
        for _ in range(2):  # the victim's read, answered directly the second time
            await answer(planned, name, victim, tenant_a.token)
        direct = _direct()
        poison = [
            {"query": name},  # null for B, and no error: written
            {"query": VIEWER},
        ]
        status, batched = await _post(planned, poison, tenant_b.token)
        assert status == 200, batched
        assert batched[0] == {"data": {"workspace": None}}, batched
        assert batched[1]["data"]["viewer"]["user"]["email"] == tenant_b.owner_email

        ordinary = await _post(
            clients[False], {"query": VIEWER, "variables": victim}, tenant_a.token
        )
        got = await _post(planned, {"query": VIEWER, "variables": victim}, tenant_a.token)
        assert got == ordinary, got
        assert got[1]["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
        assert _direct() == direct


async def test_a_batch_does_not_make_a_mutation_answer_as_a_written_query(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The same through a mutation: after B's admin batches a written query with the
    mutation A's owner sends, A's mutation must still run (not be answered with the
    query's data), and the mutation over GET must still be refused (405)."""
    name = _literal_name(tenant_a.ws_gid(0))
    async with ordinary_and_planned(settings, database) as clients:
        planned = clients[True]
        for _ in range(2):
            await answer(planned, name, {}, tenant_a.token)
        direct = _direct()
        status, batched = await _post(planned, [{"query": name}, {"query": MINT}], tenant_b.token)
        assert status == 200, batched
        assert batched[1]["data"]["createApiToken"]["errors"] == [], batched

        over_get = await planned.get(
            "/graphql", params={"query": MINT}, headers=_bearer(tenant_a.token)
        )
        ordinary_get = await clients[False].get(
            "/graphql", params={"query": MINT}, headers=_bearer(tenant_a.token)
        )
        status, minted = await _post(planned, {"query": MINT}, tenant_a.token)
        assert ordinary_get.status_code == 405
        assert (over_get.status_code, status) == (405, 200), (over_get.text, minted)
        assert minted["data"]["createApiToken"]["errors"] == [], minted
        assert minted["data"]["createApiToken"]["token"], minted
        assert _direct() == direct


async def _both(
    clients: dict[bool, httpx.AsyncClient], token: str, *, get: bool = False, **body: Any
) -> Any:
    """The planned app's answer, asserted equal to the ordinary engine's."""
    answers = []
    for planned in (False, True):
        if get:
            params = {k: json.dumps(v) if k == "variables" else v for k, v in body.items()}
            response = await clients[planned].get("/graphql", params=params, headers=_bearer(token))
        else:
            response = await clients[planned].post("/graphql", json=body, headers=_bearer(token))
        try:
            sent_back = _without_ids(response.json())
        except ValueError:  # a 400 or 405 in plain text
            sent_back = response.text
        answers.append((response.status_code, sent_back))
    assert answers[1] == answers[0], body
    return answers[1]


async def _twice_direct(
    clients: dict[bool, httpx.AsyncClient], token: str, *, get: bool = False, **body: Any
) -> Any:
    """Sent until the direct way answers it (the second time), equal to the ordinary."""
    await _both(clients, token, get=get, **body)
    direct = _direct()
    answered = await _both(clients, token, get=get, **body)
    assert _direct() == direct + 1, body
    return answered


TWO = """query One($id: ID!) { workspace(id: $id) { name } }
query Two($id: ID!) { workspace(id: $id) { __typename id } }"""


async def test_get_requests_and_operation_names_answer_only_what_was_asked(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Over GET (variables in the query string) and for each operation of a document of
    two: the owner is answered directly, each name its own operation's answer; no name,
    an unknown name and B's admin get the ordinary engine's answer."""
    variables = {"id": tenant_a.ws_gid(0)}
    async with ordinary_and_planned(settings, database) as clients:
        got = await _twice_direct(
            clients, tenant_a.token, get=True, query=NAME, variables=variables
        )
        assert got[1]["data"]["workspace"]["name"], got
        one = await _twice_direct(
            clients, tenant_a.token, query=TWO, operationName="One", variables=variables
        )
        two = await _twice_direct(
            clients, tenant_a.token, query=TWO, operationName="Two", variables=variables
        )
        assert list(one[1]["data"]["workspace"]) == ["name"]
        assert list(two[1]["data"]["workspace"]) == ["__typename", "id"]
        direct = _direct()
        for name in (None, "Three", "one"):
            refused = await _both(
                clients, tenant_a.token, query=TWO, operationName=name, variables=variables
            )
            assert "errors" in refused[1] or refused[0] != 200, refused
        for get in (False, True):
            for _ in range(2):
                other = await _both(
                    clients, tenant_b.token, get=get, query=NAME, variables=variables
                )
                assert other[1] == {"data": {"workspace": None}}, other
        for name in ("One", "Two"):
            for _ in range(2):
                other = await _both(
                    clients, tenant_b.token, query=TWO, operationName=name, variables=variables
                )
                assert other[1] == {"data": {"workspace": None}}, other
        # B's known token is answered directly too, by B's own statements.
        assert _direct() > direct


ROOTS = """query Roots($a: ID!, $b: ID!, $first: Int = 20, $withA: Boolean!, $skipB: Boolean!) {
  a: workspace(id: $a) @include(if: $withA) { name journeyMaps(first: $first) { totalCount } }
  b: workspace(id: $b) @skip(if: $skipB) { name }
  __typename }"""


async def test_variables_that_coerce_alike_or_differ_at_the_root(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """A root @include/@skip by variable, an Int sent as 20 and 20.0, undeclared extra
    variables: every combination is the ordinary engine's answer, for the owner and for
    B's admin, whichever of them made the statement first."""
    base = {"a": tenant_a.ws_gid(0), "b": tenant_b.ws_gid(0), "withA": True, "skipB": False}
    async with ordinary_and_planned(settings, database) as clients:
        await _twice_direct(clients, tenant_a.token, query=ROOTS, variables=base)
        variants = [
            base,
            {**base, "first": 20.0},
            {**base, "first": 20, "extra": {"x": 1}, "__proto__": "y"},
            {**base, "withA": False},
            {**base, "skipB": True},
            {**base, "withA": False, "skipB": True},
            {**base, "withA": None},
            {**base, "first": 1.5},
            {**base, "first": "20"},
        ]
        for _ in range(2):
            for variables in variants:
                for token in (tenant_a.token, tenant_b.token):
                    got = await _both(clients, token, query=ROOTS, variables=variables)
                    data = got[1].get("data") or {}
                    if token == tenant_a.token:
                        assert data.get("b") is None, got  # B's workspace: never A's
                    else:
                        assert data.get("a") is None, got


MINT_LIMITED = """mutation L($ws: ID, $ro: Boolean!) { createApiToken(input: {name: "limited",
  workspaceId: $ws, readOnly: $ro}) { token errors { code } } }"""
CREATE_MAP = """mutation($ws: ID!) { createJourneyMap(input: {workspaceId: $ws,
  title: "Audited"}) { errors { code } } }"""
TRAIL = """query Trail($ws: ID!) { workspace(id: $ws) { name
  auditEvents(first: 5) { totalCount edges { node { action } } } } }"""


async def _mint(client: httpx.AsyncClient, token: str, ws: str | None, read_only: bool) -> str:
    _, minted = await _post(
        client, {"query": MINT_LIMITED, "variables": {"ws": ws, "ro": read_only}}, token
    )
    assert minted["data"]["createApiToken"]["errors"] == [], minted
    return str(minted["data"]["createApiToken"]["token"])


def _unauthenticated(got: Any) -> bool:
    codes = [e["extensions"]["code"] for e in got[1].get("errors") or []]
    return codes == ["UNAUTHENTICATED"] and got[1].get("data") is None


async def test_restricted_read_only_expired_and_deactivated_callers(
    settings: Settings, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """The owner's token reads both workspaces' audit trails directly. A token of the
    same owner limited to workspace 0, a read-only one, and a guest VIEWER's token send
    the same requests: each gets the ordinary engine's answer (the limited token nothing
    of workspace 1; the viewer no audit trail). Then the limited token expires and the
    guest is deactivated behind the app: both are refused at their next request."""
    viewer_id, viewer = await add_guest(
        database, tenant_a.workspace_ids[0], "viewer@alpha.example", WorkspaceRole.VIEWER
    )
    trails = [{"ws": tenant_a.ws_gid(0)}, {"ws": tenant_a.ws_gid(1)}]
    async with ordinary_and_planned(settings, database) as clients:
        planned = clients[True]
        limited = await _mint(planned, tenant_a.token, tenant_a.ws_gid(0), read_only=False)
        read_only = await _mint(planned, tenant_a.token, None, read_only=True)
        for ws in (tenant_a.ws_gid(0), tenant_a.ws_gid(1)):  # an audit event in each
            _, made = await _post(
                planned, {"query": CREATE_MAP, "variables": {"ws": ws}}, tenant_a.token
            )
            assert made["data"]["createJourneyMap"]["errors"] == [], made
        for variables in trails:
            owner = await _twice_direct(clients, tenant_a.token, query=TRAIL, variables=variables)
            assert owner[1]["data"]["workspace"]["auditEvents"]["totalCount"] > 0, owner
        direct = _direct()
        for token in (limited, read_only, viewer):
            for variables in trails:
                for _ in range(2):
                    got = await _both(clients, token, query=TRAIL, variables=variables)
                    workspace = got[1]["data"]["workspace"]
                    if token == read_only:
                        assert workspace["auditEvents"]["totalCount"] > 0, got
                    elif variables["ws"] == tenant_a.ws_gid(1):
                        assert workspace is None, got  # beyond the token's or guest's reach
                    elif token == viewer:
                        assert workspace["auditEvents"] is None, got
        assert _direct() > direct  # the known tokens were answered directly

        async with inspector_engine.begin() as connection:
            await connection.execute(
                text(
                    "update api_tokens set expires_at = now() - interval '1 second'"
                    " where restricted_workspace_id = :ws"
                ),
                {"ws": tenant_a.workspace_ids[0]},
            )
            await connection.execute(
                text("update users set is_active = false where id = :id"), {"id": viewer_id}
            )
        direct = _direct()
        for token in (limited, viewer):
            for _ in range(2):
                got = await _both(clients, token, query=TRAIL, variables=trails[0])
                assert _unauthenticated(got), got
        assert _direct() == direct
        still = await _both(clients, read_only, query=TRAIL, variables=trails[0])
        assert still[1]["data"]["workspace"]["name"], still


async def test_in_production_with_a_session_cookie_beside_the_token(
    test_database: TestDatabase, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Production's private schema: the owner is answered directly; no credential, an
    unknown token, and B's admin (with A's owner's session cookie beside B's own token,
    and the other way round) each get the ordinary engine's answer; the cookie alone
    is never answered directly."""
    production = production_settings(test_database)
    opened = await owner_session(database, production, tenant_a)
    cookie = {"Cookie": f"{SESSION_COOKIE}={opened.secret}"}
    variables = {"id": tenant_a.ws_gid(0)}
    body = {"query": NAME, "variables": variables}
    async with ordinary_and_planned(production, database) as clients:
        owner = await _twice_direct(clients, tenant_a.token, **body)
        assert owner[1]["data"]["workspace"]["name"], owner
        direct = _direct()
        for token in ("", "wp_" + "0" * 40):
            for _ in range(2):
                got = await _both(clients, token, **body)
                assert _unauthenticated(got), got
        assert _direct() == direct

        answers = []
        for headers in (
            {**cookie, **_bearer(tenant_b.token)},  # B's token wins over A's cookie
            {**cookie, **_bearer(tenant_b.token)},
            {**cookie, "Authorization": "Bearer"},  # a bad credential: no cookie fallback
            {**cookie, "Authorization": f"Basic {tenant_a.token}"},
            cookie,
            cookie,
        ):
            pair = []
            for planned in (False, True):
                response = await clients[planned].post("/graphql", json=body, headers=headers)
                pair.append((response.status_code, _without_ids(response.json())))
            assert pair[1] == pair[0], headers
            answers.append(pair[1])
        assert answers[0][1] == answers[1][1] == {"data": {"workspace": None}}, answers
        assert _unauthenticated(answers[2]), answers
        assert _unauthenticated(answers[3]), answers
        assert answers[5][1]["data"]["workspace"]["name"], answers  # the cookie's own
        assert _direct() == direct + 1  # B's second request only
