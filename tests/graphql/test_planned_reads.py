"""The planned executor (graphql_schema/engine.py) answers exactly as the ordinary one.

Two apps on one database, one with ``planned_reads``: every document of
bench.planned_variations, and a failure inside a planned subtree, must give the same
bytes both ways (json.dumps with sorted keys), errors and their paths included.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.settings import Settings
from bench.planned_variations import VARIATIONS
from graphql_schema import engine
from graphql_schema.journeys import types as journey_types
from tests.fixtures.graphql import global_id
from tests.fixtures.planned import (
    answer,
    ordinary_and_planned,
    python_plans_only,
    without_request_ids,
)
from tests.fixtures.tenants import Tenant
from tests.health.worlds import add_feedback, build_world

ADD_PAIN = """mutation($input: AddPainPointInput!) {
  addPainPoint(input: $input) { errors { code } } }"""
RECALCULATE = """mutation($input: RecalculateHealthInput!) {
  recalculateHealth(input: $input) { errors { code } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def both(
    settings: Settings, database: Database
) -> AsyncIterator[dict[bool, httpx.AsyncClient]]:
    async with ordinary_and_planned(settings, database) as clients:
        yield clients


async def _world(both: dict[bool, httpx.AsyncClient], database: Database, tenant: Tenant) -> str:
    world = await build_world(database, tenant.workspace_ids[0], stages=3)
    for touchpoint in world.touchpoint_ids[:3]:
        for severity in ("HIGH", "LOW"):
            done = await answer(
                both[False],
                ADD_PAIN,
                {
                    "input": {
                        "touchpointId": global_id("Touchpoint", touchpoint),
                        "title": f"Pain {severity}",
                        "severity": severity,
                    }
                },
                tenant.token,
            )
            assert '"errors": []' in done, done
    await add_feedback(
        database, world, world.touchpoint_ids[0], value=5, occurred_at=utcnow() - timedelta(days=1)
    )
    done = await answer(
        both[False], RECALCULATE, {"input": {"workspaceId": tenant.ws_gid(0)}}, tenant.token
    )
    assert '"errors": []' in done, done
    return global_id("JourneyMap", world.map_id)


async def test_every_variation_is_answered_alike(
    both: dict[bool, httpx.AsyncClient], database: Database, tenant_a: Tenant
) -> None:
    map_gid = await _world(both, database, tenant_a)
    planned_before = engine.COUNTS["planned"] + engine.COUNTS["planned values"]
    fell_back_before = engine.COUNTS["fell back"]
    for name, (query, extra) in VARIATIONS.items():
        variables = {"id": map_gid, **extra}
        ordinary = await answer(both[False], query, variables, tenant_a.token)
        planned = await answer(both[True], query, variables, tenant_a.token)
        assert planned == ordinary, name
        assert '"errors"' not in ordinary, (name, ordinary)
    assert engine.COUNTS["planned"] + engine.COUNTS["planned values"] > planned_before
    assert engine.COUNTS["fell back"] == fell_back_before  # a process-wide tally


async def test_another_tenants_map_is_null_both_ways(
    both: dict[bool, httpx.AsyncClient], database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    map_gid = await _world(both, database, tenant_a)
    query, _ = VARIATIONS["map read"]
    answers = {p: await answer(c, query, {"id": map_gid}, tenant_b.token) for p, c in both.items()}
    assert answers[True] == answers[False] == json.dumps({"data": {"journeyMap": None}})


@pytest.mark.parametrize("broken", ["null title", "raising loader"])
async def test_a_failure_inside_a_plan_is_reported_as_graphql_core_reports_it(
    both: dict[bool, httpx.AsyncClient],
    database: Database,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    broken: str,
) -> None:
    map_gid = await _world(both, database, tenant_a)
    original = journey_types.PainPointType.from_model

    def failing(p: Any) -> Any:
        made = original(p)
        if p.severity == "LOW" or str(p.severity).endswith("LOW"):
            if broken == "raising loader":
                raise RuntimeError("boom")
            made.title = None  # type: ignore[assignment]  # a non-null field left null
        return made

    monkeypatch.setattr(journey_types.PainPointType, "from_model", failing)
    python_plans_only(monkeypatch)
    query, _ = VARIATIONS["map read"]
    fell_back = engine.COUNTS["fell back"]
    ordinary = await answer(both[False], query, {"id": map_gid}, tenant_a.token)
    planned = await answer(both[True], query, {"id": map_gid}, tenant_a.token)
    assert '"errors"' in ordinary
    assert without_request_ids(planned) == without_request_ids(ordinary)
    assert engine.COUNTS["fell back"] > fell_back


async def test_the_python_plan_sends_the_same_statements(
    both: dict[bool, httpx.AsyncClient],
    database: Database,
    tenant_a: Tenant,
    sql_statements: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    python_plans_only(monkeypatch)
    map_gid = await _world(both, database, tenant_a)
    query, _ = VARIATIONS["map read"]
    for client in both.values():  # the token's last use stamped, its owner known to both
        await answer(client, query, {"id": map_gid}, tenant_a.token)
    seen = {}
    for planned, client in both.items():
        sql_statements.clear()
        await answer(client, query, {"id": map_gid}, tenant_a.token)
        seen[planned] = sorted(sql_statements)
    assert seen[True] == seen[False]
