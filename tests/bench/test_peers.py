"""`make bench`'s side by side asks Waypost and PostGraphile the same questions and
compares their answers in canonical form (bench.workloads and bench.peers): the
questions must be valid, and on a seeded world the answers must be equal."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from graphql import build_schema, parse, validate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from bench import peers, workloads
from bench.seed import build
from tests.bench.tiny import TINY
from tests.fixtures.databases import APP_ROLE, TestDatabase, is_postgres_run

SCHEMA = Path(__file__).resolve().parents[2] / "graphql_schema" / "schema.graphql"


# What bench.peers.prepare_database adds (health.sql), removed again after the test.
PREPARED = (
    "touchpoints_health(touchpoints)",
    "workspaces_health(workspaces)",
    "journey_maps_health(journey_maps)",
    "health_scores_trend(health_scores)",
)


@pytest.mark.parametrize(
    "document",
    [
        workloads.MAP_READ,
        workloads.DASHBOARD,
        workloads.FEEDBACK_LIST,
        workloads.AUDIT_TRAIL,
        workloads.RENAME,
    ],
    ids=["a", "b", "f", "g", "c-edit"],
)
def test_the_bench_asks_waypost_what_its_schema_offers(document: str) -> None:
    assert validate(build_schema(SCHEMA.read_text()), parse(document)) == []


def test_request_bodies_name_their_operation() -> None:
    workspace = UUID(int=1)
    for query, name in (
        (peers.DASHBOARD_QUERY, "Dashboard"),
        (peers.FEEDBACK_QUERY, "FeedbackList"),
        (peers.AUDIT_QUERY, "AuditTrail"),
    ):
        body = peers.request_body(query, workspace)
        assert f'"operationName":"{name}"'.encode() in body
        assert str(workspace).encode() in body


def test_both_spellings_of_a_moment_are_one() -> None:
    # strawberry writes Python's isoformat; PostGraphile writes Postgres' text.
    assert workloads.moment("2026-12-06T19:28:05.899438+00:00") == workloads.moment(
        "2026-12-06T20:28:05.899438+01:00"
    )
    assert workloads.moment("2026-12-06T19:28:05+00:00").endswith("05.000000+00:00")


PERSONA = """mutation($input: CreatePersonaInput!) { createPersona(input: $input) {
  persona { id } errors { code message } } }"""


async def _post(http: httpx.AsyncClient, url: str, body: bytes, **headers: str) -> Any:
    response = await http.post(
        url, content=body, headers={"Content-Type": "application/json", **headers}
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.skipif(
    not is_postgres_run(), reason="the seeder and PostGraphile need Postgres as a superuser"
)
async def test_postgraphile_answers_as_waypost_does(
    test_database: TestDatabase,
    database: Database,
    settings: Settings,
    inspector_engine: AsyncEngine,
) -> None:
    try:
        await asyncio.to_thread(peers.install)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
        pytest.skip(f"PostGraphile cannot run here: {error}")
    world = await build(test_database.inspector_url, TINY, label="tiny")
    owner = {"Authorization": f"Bearer {world.api_token}"}
    apps = {
        planned: httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_app(
                    settings.model_copy(update={"planned_reads": planned}), database=database
                )
            ),
            base_url="http://testserver",
        )
        for planned in (False, True)
    }
    first = world.workspaces[0].id
    # Beside the seeder's one SYSTEM event, one with a user and a token behind it.
    made = await _post(
        apps[False],
        "/graphql",
        workloads.body(
            PERSONA,
            {"input": {"workspaceId": workloads.global_id("Workspace", first), "name": "P"}},
        ),
        **owner,
    )
    assert made["data"]["createPersona"]["errors"] == [], made

    questions = [
        (
            workloads.map_read_body(m),
            peers.map_request_body(w.id, m),
            workloads.canonical_map,
            peers.canonical_map,
        )
        for w in world.workspaces
        for m in w.map_ids
    ]
    for w in reversed(world.workspaces):  # workspace 0's last
        questions += [
            (
                workloads.dashboard_body(w.id),
                peers.request_body(peers.DASHBOARD_QUERY, w.id),
                workloads.canonical_dashboard,
                peers.canonical_dashboard,
            ),
            (
                workloads.feedback_list_body(w.id),
                peers.request_body(peers.FEEDBACK_QUERY, w.id),
                workloads.canonical_feedback,
                peers.canonical_feedback,
            ),
            (
                workloads.audit_trail_body(w.id),
                peers.request_body(peers.AUDIT_QUERY, w.id),
                workloads.canonical_audit,
                peers.canonical_audit,
            ),
        ]
    seen: list[Any] = []
    await asyncio.to_thread(peers.prepare_database, test_database.inspector_url)
    try:
        with peers.postgraphile_server(test_database.inspector_url, port=0, processes=1) as server:
            async with httpx.AsyncClient(timeout=60) as http:
                for ours, theirs, canonical_ours, canonical_theirs in questions:
                    expected = canonical_theirs(await _post(http, server.url, theirs))
                    seen.append(expected)
                    for app in apps.values():
                        got = canonical_ours(await _post(app, "/graphql", ours, **owner))
                        assert got == expected
        # As it serves tenants: as waypost_app under row-level security, binding the
        # workspaces a verified JWT would name. The same answers with them; without
        # them, the policies leave no map, no feedback and no audit event to read.
        claims = {"X-Waypost-Workspaces": ",".join(str(w.id) for w in world.workspaces)}
        rls = peers.postgraphile_server(
            test_database.inspector_url, port=0, processes=1, rls_role=APP_ROLE
        )
        with rls as server:
            async with httpx.AsyncClient(timeout=60) as http:
                for (_, theirs, _, canonical_theirs), expected in zip(questions, seen, strict=True):
                    got = canonical_theirs(await _post(http, server.url, theirs, **claims))
                    assert got == expected
                dashboard = peers.request_body(peers.DASHBOARD_QUERY, first)
                bare = (await _post(http, server.url, dashboard))["data"]["workspaceByRowId"]
                assert bare["journeyMapsByWorkspaceId"] == {"totalCount": 0, "nodes": []}
    finally:
        for app in apps.values():
            await app.aclose()
        async with inspector_engine.begin() as conn:
            for function in PREPARED:
                await conn.execute(text(f"DROP FUNCTION IF EXISTS {function}"))

    # What was compared was not empty: workspace 0's answers, in question order.
    dashboard, feedback, audit = seen[-3:]
    assert all(m["health"] for m in dashboard["maps"])
    assert dashboard["totalCount"] == 2
    assert len(feedback["items"]) == 100
    assert all(i["touchpoint"] for i in feedback["items"])
    assert [e["actor"]["type"] for e in audit["events"]] == ["API_TOKEN", "SYSTEM"]
    assert audit["events"][0]["actor"]["user"]["email"] == "admin@bench.example"
    assert all(s["stages"] for s in seen[: len(questions) - 6])
