"""An operation's ``data`` written by Postgres as compact text and embedded in the response
as it is (``json_plans._Text``, ``json_fields.Leaf.text``). Nothing reads it back, so
every value must already be the very bytes the response's encoder (orjson) writes: each
test here fails on one value's formatting drifting, and the answers are compared as
bytes, keys in their order, with the ordinary engine's."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import ARRAY, BigInteger, Boolean, DateTime, Double, Text, Uuid, bindparam, text
from strawberry.relay import GlobalID

from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.models import HealthScore
from backend.models.health import HealthSubject
from backend.settings import Settings
from graphql_schema import engine, json_fields, json_plans
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.planned import is_written, ordinary_and_planned
from tests.fixtures.tenants import Tenant
from tests.health.worlds import add_feedback, build_world

postgres_only = pytest.mark.skipif(not is_postgres_run(), reason="Postgres writes the JSON")


async def _texts(
    database: Database, sql: Callable[[str], str], values: list[Any], kind: Any
) -> list[str]:
    """``sql`` (of the alias ``x``, column ``v``) over each value, in order, as Postgres
    writes it on the app's role."""
    statement = text(
        f"select {sql('x')} from unnest(:vs) with ordinality as x(v, n) order by x.n"
    ).bindparams(bindparam("vs", type_=ARRAY(kind)))
    async with database.connection(NO_TENANT) as connection:
        return [str(r) for r in (await connection.execute(statement, {"vs": values})).scalars()]


def _orjson(value: Any) -> str:
    return orjson.dumps(value).decode()


def _floats() -> list[float]:
    """Every layout orjson has: each side of its switches to an exponent (1e-5, 1e16)
    and of Postgres' (1e-4, 1e15), integral and not, 1 to 17 digits, subnormals, the
    extremes, -0.0, integers whose shortest digits lie halfway between two doubles
    (1e23, where Postgres' own digits differ), and 20,000 random bit patterns."""
    values = [0.0, -0.0, 100.0, 0.1 + 0.2, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]
    for exponent in range(-325, 310):
        for mantissa in (1.0, 1.5, 9.999999999999999, 1.2345678901234567, 3.0000000000000004):
            values.append(float(f"{mantissa}e{exponent}"))
    for exponent in range(-8, 18):  # around both switches, every digit count
        for digits in range(1, 18):
            values.append(float(f"0.{'7' * digits}e{exponent}"))
        values += [10.0**exponent, float(10**exponent if exponent >= 0 else 0), 2.0**exponent]
    values += [9007199254740992.0, 9007199254740993.0, 1234567890123456.8, 999999999999999.9]
    randomly = random.Random(31)
    while len(values) < 25_000:
        (value,) = struct.unpack("<d", randomly.getrandbits(64).to_bytes(8, "little"))
        if value == value and abs(value) != float("inf"):
            values.append(value)
    for exponent in range(16, 309):  # integers with short decimals halfway between two
        values += [float(f"{m}e{exponent}") for m in (1, 2, 5, 7.7777777777777, 9.5)]
    finite = [v for v in values if abs(v) != float("inf")]
    return finite + [-v for v in finite]


@postgres_only
async def test_a_float_is_written_as_orjson_writes_it(database: Database) -> None:
    values = _floats()
    written = await _texts(database, lambda a: json_fields.float_text(f"{a}.v"), values, Double())
    wrong = [(v, w) for v, w in zip(values, written, strict=True) if w != _orjson(v)]
    assert not wrong, wrong[:20]
    # The columns' leaves: null, and a value held out of a sentiment not yet scored.
    assert await _texts(database, lambda a: json_fields.float_text(f"{a}.v"), [None], Double()) == [
        "null"
    ]


@postgres_only
@hypothesis_settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
async def test_any_float_is_written_as_orjson_writes_it(
    database: Database, values: list[float]
) -> None:
    written = await _texts(database, lambda a: json_fields.float_text(f"{a}.v"), values, Double())
    assert written == [_orjson(v) for v in values]


def _strings() -> list[str]:
    """Every escape class: each control character but NUL (which no text column holds),
    alone and in a run; quotes, backslashes, the slash (orjson leaves it), DEL, C1
    controls, the line and paragraph separators, a byte order mark, the last BMP code
    point, letters beyond it (a surrogate pair in UTF-16), combining marks, and nothing."""
    controls = "".join(chr(c) for c in range(1, 0x20))
    singles = [chr(c) for c in range(1, 0x80)]
    return [
        *singles,
        controls,
        'say "hi" \\ back\\slash / slash \x7f',
        "".join(chr(c) for c in range(0x80, 0xA0)),
        "\u2028\u2029\ufeff\uffff",
        "Ünïcödé ✓ 🚀 e\u0301 \U0010ffff",
        "",
        "tab\there\r\nnext\x0b\x0c\x1b[0m",
    ]


@postgres_only
async def test_a_string_is_written_as_orjson_writes_it(database: Database) -> None:
    values = _strings()
    leaf = json_fields._plain("v").text
    assert leaf is not None
    written = await _texts(database, leaf, [*values, None], Text())
    assert written == [*map(_orjson, values), "null"]


@postgres_only
async def test_integers_booleans_date_times_and_node_ids_are_written_as_orjson_writes_them(
    database: Database,
) -> None:
    plain = json_fields._plain("v").text
    assert plain is not None
    integers = [0, 1, -1, 32767, -32768, 2**31, 2**63 - 1, -(2**63)]
    assert await _texts(database, plain, [*integers, None], BigInteger()) == [
        *map(_orjson, integers),
        "null",
    ]
    assert await _texts(database, plain, [True, False, None], Boolean()) == [
        "true",
        "false",
        "null",
    ]
    moments = [
        datetime(2026, 12, 6, 22, 29, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ]
    stamped = json_fields._datetime("v").text
    assert stamped is not None
    written = await _texts(database, stamped, moments, DateTime(timezone=True))
    assert written == [_orjson(m.isoformat()) for m in moments]
    ids = [UUID(int=n * 0x0123456789ABCDEF) for n in range(1, 5)]
    for type_name in ("Feedback", "Touchpoint" * 3):  # one line of base64, and more
        node = json_fields._node_id(type_name).text
        assert node is not None
        statement = text(
            f"select {node('x')} from unnest(:vs) with ordinality as x(id, n) order by x.n"
        ).bindparams(bindparam("vs", type_=ARRAY(Uuid())))
        async with database.connection(NO_TENANT) as connection:
            written = list((await connection.execute(statement, {"vs": ids})).scalars())
        assert written == [_orjson(str(GlobalID(type_name, str(i)))) for i in ids]


FEEDBACK = """query FeedbackList($id: ID!) { workspace(id: $id) { __typename name
  feedback(first: 100) { totalCount edges { cursor node {
    id source measure measureValue text sentiment sentimentStatus occurredAt receivedAt
    placement customerRef touchpoint { id name } journeyMap { id title } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""

DASHBOARD = """query Dashboard($id: ID!) { workspace(id: $id) { name
  health { score trend sampleSize confidence low high previousScore }
  journeyMaps(first: 20, orderBy: UPDATED_AT) { totalCount edges { node {
    id title status version updatedAt __typename
    health { score trend previousScore sampleSize confidence low high } } } } } }"""

MAP = """query M($id: ID!) { journeyMap(id: $id) { id title version
  stages { id name position touchpoints { id name position emotion momentOfTruth
    health { score confidence sampleSize previousScore trend } } }
  health { score low high trend } } }"""

# Scores far outside what the model computes, each side of every switch of layout.
SCORES = [1e16, -0.0, 1.5e-7, 1e-5, 123456789012345.6, 9007199254740993.0, 2.5e-300, 0.1 + 0.2]


async def _bytes(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str
) -> bytes:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.content


@postgres_only
@pytest.mark.parametrize("everywhere", [False, True])
async def test_listings_and_a_map_are_answered_in_the_ordinary_engines_bytes(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    sql_statements: list[str],
    monkeypatch: pytest.MonkeyPatch,
    everywhere: bool,
) -> None:
    """Feedback with every escape class in its text and sentiments across magnitudes,
    and maps whose health holds floats of every layout: the planned engine's bytes, its
    statement compact text, are the ordinary engine's; and again when the document is
    answered by its statement directly (``written_queries``). ``everywhere``: every
    listing and lookup written as compact text, as the feedback list is."""
    if everywhere:
        monkeypatch.setattr(json_plans._Writer, "pays", True)
    monkeypatch.setattr(engine, "OPERATIONS", engine.OperationStatements())  # made afresh
    workspace = tenant_a.workspace_ids[0]
    worlds = [await build_world(database, workspace, stages=2) for _ in range(len(SCORES) // 2)]
    now = datetime.now(UTC).replace(microsecond=0)
    sentiments = [-0.0, 5e-324, 1.5e-7, 1e-5, -1.0, 1.0, 0.1 + 0.2, 2.5e-300, None]
    for n, value in enumerate(_strings()):
        world = worlds[n % len(worlds)]
        sentiment = sentiments[n % len(sentiments)]
        await add_feedback(
            database,
            world,
            world.touchpoint_ids[n % len(world.touchpoint_ids)] if n % 5 else None,
            sentiment=sentiment,
            text=value,
            occurred_at=now - timedelta(microseconds=n % 3),
        )
    async with database.transaction(worlds[0].binding(), write=True) as session:
        subjects = (
            [(workspace, HealthSubject.WORKSPACE)]
            + [(w.map_id, HealthSubject.JOURNEY_MAP) for w in worlds]
            + [(t, HealthSubject.TOUCHPOINT) for t in worlds[0].touchpoint_ids]
        )
        for n, (subject, kind) in enumerate(subjects):
            score = SCORES[n % len(SCORES)]
            existing = await session.get(HealthScore, (workspace, subject))
            row = existing or HealthScore(workspace_id=workspace, id=subject, subject_type=kind)
            row.score, row.previous_score = score, SCORES[(n + 3) % len(SCORES)]
            row.low, row.high = score / 3, score * 7
            row.sample_size = n
            session.add(row)
    cases = [
        (FEEDBACK, {"id": tenant_a.ws_gid(0)}),
        (DASHBOARD, {"id": tenant_a.ws_gid(0)}),
        *[(MAP, {"id": str(GlobalID("JourneyMap", str(w.map_id)))}) for w in worlds],
    ]
    answers = {}
    async with ordinary_and_planned(settings, database) as clients:
        for query, variables in cases:
            ordinary = answers[query] = await _bytes(
                clients[False], query, variables, tenant_a.token
            )
            for _ in range(2):  # executed, then answered by its statement directly
                sql_statements.clear()
                operations = engine.COUNTS["written operations"]
                planned = await _bytes(clients[True], query, variables, tenant_a.token)
                assert planned == ordinary
                assert engine.COUNTS["written operations"] == operations + 1
                (written,) = [s for s in sql_statements if is_written(s)]
                # Compact text (embedded) for the feedback list and the map read, where
                # it pays; json for the dashboard (json_fields.Listing.compact,
                # json_fields.Lookup.compact).
                compact = written.startswith("SELECT ('{")
                assert compact == (everywhere or query in (FEEDBACK, MAP)), written
    # What was compared holds what it was meant to.
    assert orjson.loads(answers[MAP])["data"]["journeyMap"]["health"]["score"] is not None
    assert b"\\u001f" in answers[FEEDBACK]
    assert b"\xe2\x80\xa8" in answers[FEEDBACK]
    assert b'"sentiment":-0.0' in answers[FEEDBACK]
    assert b'"sentiment":1.5e-7' in answers[FEEDBACK]
    assert b'"score":1e+16' in answers[DASHBOARD]


CREATE_METRIC = """mutation($input: CreateMetricInput!) { createMetric(input: $input) {
  metric { id } errors { code field message } } }"""


@postgres_only
async def test_an_audit_events_changes_are_embedded_as_written(
    settings: Settings, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    """An audit event's ``changes`` is kept as the text the API writes for it
    (``WrittenJSON``), which the statement embeds as it is: the trail is compact text,
    and its bytes are the ordinary engine's, with floats in every layout and U+2028,
    quotes and backslashes in the values."""
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    # The bounds a metric's target takes, and the layouts of floats within them.
    targets = [1e15, -1e15, 1.5e-7, 0.1 + 0.2, 100.0, -0.0]
    query = """query A($id: ID!) { workspace(id: $id) { auditEvents(first: 20) {
      edges { node { sequence action changes } } } } }"""
    variables = {"id": tenant_a.ws_gid(0)}
    async with ordinary_and_planned(settings, database) as clients:
        for target in targets:
            metric = {
                "workspaceId": tenant_a.ws_gid(0),
                "name": f'{target} \u2028 "q" \\ é',
                "direction": "HIGHER_IS_BETTER",
                "target": target,
                "journeyMapId": str(GlobalID("JourneyMap", str(world.map_id))),
            }
            made = await _bytes(clients[False], CREATE_METRIC, {"input": metric}, tenant_a.token)
            assert b'"errors":[]' in made, made
        ordinary = await _bytes(clients[False], query, variables, tenant_a.token)
        sql_statements.clear()
        planned = await _bytes(clients[True], query, variables, tenant_a.token)
    assert planned == ordinary
    (written,) = [s for s in sql_statements if is_written(s)]
    assert written.startswith("SELECT ('{"), written  # compact text, embedded as it is
    # What was compared holds what it was meant to: the floats as floats, the odd text.
    for target in targets:
        expected = b'"target":{"before":null,"after":' + orjson.dumps(target) + b"}"
        assert expected in planned, (target, planned)
    assert '\u2028 \\"q\\" \\\\ é'.encode() in planned, planned
