"""Placement you can see: an item whose match key fits several touchpoints, or none, is
told so in the answer (HTTP ingestion, GraphQL, the file import), waits in the
workspace's unplaced queue, and an editor places it, after which it counts for that
touchpoint's health like any item that arrived there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import GlobalID
from typer.testing import CliRunner

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.entrypoints import cli
from backend.entrypoints.commands import import_feedback as import_command
from backend.models import Feedback, HealthRequest, OutboxEvent
from backend.outbox.dispatch import handle_event
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from tests.feedback.test_ingestion_http import _post, _token
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.service_calls import audit_trail, outbox_events
from tests.fixtures.tenants import Tenant, add_guest
from tests.graphql.test_feedback_api import _touchpoint
from workers.handlers import register_all

QUEUE = """query($ws: ID!, $reason: UnplacedReason) { workspace(id: $ws) {
  unplacedFeedback(reason: $reason) { totalCount edges { node {
    id externalId placement placementCandidates { id name } touchpoint { id } } } } } }"""
PLACE = """mutation($input: PlaceFeedbackInput!) { placeFeedback(input: $input) {
  feedback { id placement placementCandidates { id } touchpoint { id } stage { id }
             journeyMap { id } }
  errors { code field message } } }"""
BATCH = """mutation($input: SubmitFeedbackBatchInput!) { submitFeedbackBatch(input: $input) {
  results { status feedback { placement placementCandidates { id } touchpoint { id } } } } }"""


class Journeys:
    """Two current-state maps whose "Pay" touchpoints both list the event "paid", and a
    third whose touchpoint alone lists "refunded"."""

    def __init__(self, first: dict[str, str], second: dict[str, str], third: dict[str, str]):
        self.first, self.second, self.third = first, second, third


@pytest.fixture
async def journeys(gql: GraphQLClient, tenant_a: Tenant) -> Journeys:
    return Journeys(
        await _touchpoint(gql, tenant_a, {"eventNames": ["paid"]}, title="Web checkout"),
        await _touchpoint(gql, tenant_a, {"eventNames": ["paid"]}, title="App checkout"),
        await _touchpoint(gql, tenant_a, {"eventNames": ["refunded"]}, title="Refunds"),
    )


def _item(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"source": "ANALYTICS", "externalId": external_id, "text": "Charged twice", **fields}


async def _queue(gql: GraphQLClient, tenant: Tenant, reason: str | None = None) -> Any:
    body = await gql(QUEUE, {"ws": tenant.ws_gid(0), "reason": reason}, token=tenant.token)
    return body["data"]["workspace"]["unplacedFeedback"]


async def _place(gql: GraphQLClient, token: str, feedback: str, touchpoint: str) -> Any:
    body = await gql(
        PLACE, {"input": {"feedbackId": feedback, "touchpointId": touchpoint}}, token=token
    )
    return body["data"]["placeFeedback"]


async def _requests(database: Database, workspace_id: UUID) -> set[UUID | None]:
    async with database.transaction(TenantBinding(frozenset({workspace_id}))) as session:
        return set(
            (
                await session.scalars(
                    select(HealthRequest.touchpoint_id).where(
                        HealthRequest.workspace_id == workspace_id
                    )
                )
            ).all()
        )


async def _deliver_outbox(database: Database, inspector: AsyncEngine, workspace_id: UUID) -> None:
    """What the workers do with the workspace's pending events: run their handlers."""
    register_all()
    async with inspector.connect() as connection:
        pending = (
            await connection.execute(
                select(OutboxEvent.id)
                .where(OutboxEvent.workspace_id == workspace_id, OutboxEvent.processed_at.is_(None))
                .order_by(OutboxEvent.sequence)
            )
        ).all()
    for (event_id,) in pending:
        binding = TenantBinding(frozenset({workspace_id}))
        async with database.transaction(binding, write=True) as session:
            await handle_event(session, workspace_id, event_id)


async def test_an_ambiguous_item_is_reported_queued_and_placed_by_an_editor(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    journeys: Journeys,
    database: Database,
    inspector_engine: AsyncEngine,
) -> None:
    issued = await _token(gql, tenant_a)
    answer = (await _post(client, issued["token"], [_item("twice", eventName="paid")])).json()
    [item] = answer["items"]
    both = sorted([journeys.first["touchpoint"], journeys.second["touchpoint"]])
    assert (item["status"], item["placement"]) == ("ACCEPTED", "AMBIGUOUS")
    assert sorted(item["candidates"]) == both
    assert answer["placements"] == {"AMBIGUOUS": 1}

    queue = await _queue(gql, tenant_a)
    [edge] = queue["edges"]
    waiting = edge["node"]
    assert (waiting["id"], waiting["placement"], waiting["touchpoint"]) == (
        item["id"],
        "AMBIGUOUS",
        None,
    )
    assert sorted(c["id"] for c in waiting["placementCandidates"]) == both
    assert {c["name"] for c in waiting["placementCandidates"]} == {"Pay"}
    assert (await _queue(gql, tenant_a, "UNMATCHED"))["totalCount"] == 0

    placed = await _place(gql, tenant_a.token, item["id"], journeys.second["touchpoint"])
    assert placed["errors"] == []
    assert placed["feedback"] == {
        "id": item["id"],
        "placement": "ASSIGNED",
        "placementCandidates": [],
        "touchpoint": {"id": journeys.second["touchpoint"]},
        "stage": {"id": journeys.second["stage"]},
        "journeyMap": {"id": journeys.second["map"]},
    }
    assert (await _queue(gql, tenant_a))["totalCount"] == 0
    workspace_id = tenant_a.workspace_ids[0]
    trail = await audit_trail(database, workspace_id)
    assert trail[-1][0] == "feedback.place"
    # The same event new feedback raises: the workers then ask for the touchpoint's health.
    events = await outbox_events(inspector_engine, workspace_id, "feedback.received")
    touchpoint_id = UUID(GlobalID.from_id(journeys.second["touchpoint"]).node_id)
    assert events[-1]["touchpoint_ids"] == [str(touchpoint_id)]
    await _deliver_outbox(database, inspector_engine, workspace_id)
    assert touchpoint_id in await _requests(database, workspace_id)


async def test_a_key_no_touchpoint_lists_is_reported_unmatched_and_queued(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, journeys: Journeys
) -> None:
    issued = await _token(gql, tenant_a)
    answer = await _post(
        client,
        issued["token"],
        [
            _item("lost", eventName="nobody-lists-this"),
            _item("found", eventName="refunded"),
            _item("plain"),
            _item("named", url="https://shop.example/none", eventName="paid"),
        ],
    )
    items = answer.json()["items"]
    assert [(i["placement"], "candidates" in i) for i in items] == [
        ("UNMATCHED", False),
        ("MATCHED", False),
        ("NONE", False),
        ("AMBIGUOUS", True),
    ]
    assert answer.json()["placements"] == {"AMBIGUOUS": 1, "MATCHED": 1, "NONE": 1, "UNMATCHED": 1}
    unmatched = await _queue(gql, tenant_a, "UNMATCHED")
    assert [e["node"]["externalId"] for e in unmatched["edges"]] == ["lost"]
    assert unmatched["edges"][0]["node"]["placementCandidates"] == []
    # Newest first, both reasons by default.
    assert (await _queue(gql, tenant_a))["totalCount"] == 2


async def test_graphql_submissions_show_their_placement(
    gql: GraphQLClient, tenant_a: Tenant, journeys: Journeys
) -> None:
    body = await gql(
        BATCH,
        {
            "input": {
                "workspaceId": tenant_a.ws_gid(0),
                "items": [
                    {
                        **_item("l"),
                        "source": "SURVEY",
                        "touchpointId": journeys.third["touchpoint"],
                    },
                    {**_item("a"), "source": "SURVEY", "eventName": "paid"},
                ],
            }
        },
        token=tenant_a.token,
    )
    linked, ambiguous = body["data"]["submitFeedbackBatch"]["results"]
    assert linked["feedback"]["placement"] == "LINKED"
    assert ambiguous["feedback"]["placement"] == "AMBIGUOUS"
    assert len(ambiguous["feedback"]["placementCandidates"]) == 2


async def test_a_viewer_sees_the_queue_but_cannot_place(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    journeys: Journeys,
    database: Database,
) -> None:
    issued = await _token(gql, tenant_a)
    answer = await _post(client, issued["token"], [_item("twice", eventName="paid")])
    item = answer.json()["items"][0]
    _, viewer = await add_guest(database, tenant_a.workspace_ids[0], "v@x.io", WorkspaceRole.VIEWER)
    seen = await gql(QUEUE, {"ws": tenant_a.ws_gid(0)}, token=viewer)
    assert seen["data"]["workspace"]["unplacedFeedback"]["totalCount"] == 1
    refused = await _place(gql, viewer, item["id"], journeys.first["touchpoint"])
    assert refused["feedback"] is None
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    assert (await _queue(gql, tenant_a))["totalCount"] == 1


async def test_another_tenant_can_neither_see_nor_place_an_item(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    journeys: Journeys,
) -> None:
    issued = await _token(gql, tenant_a)
    answer = await _post(client, issued["token"], [_item("twice", eventName="paid")])
    item = answer.json()["items"][0]
    theirs = await _touchpoint(gql, tenant_b, {"eventNames": ["paid"]})
    seen = await gql(QUEUE, {"ws": tenant_a.ws_gid(0)}, token=tenant_b.token)
    assert seen["data"]["workspace"] is None
    for touchpoint in (journeys.first["touchpoint"], theirs["touchpoint"]):
        refused = await _place(gql, tenant_b.token, item["id"], touchpoint)
        assert refused["feedback"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [
            ("NOT_FOUND", "input.feedbackId")
        ]
    # Nor can this tenant's editor put it on the other tenant's touchpoint.
    across = await _place(gql, tenant_a.token, item["id"], theirs["touchpoint"])
    assert [(e["code"], e["field"]) for e in across["errors"]] == [
        ("NOT_FOUND", "input.touchpointId")
    ]
    assert (await _queue(gql, tenant_a))["totalCount"] == 1


async def test_the_import_reports_placements_and_the_lines_left_to_place(
    gql: GraphQLClient,
    tenant_a: Tenant,
    journeys: Journeys,
    settings: Settings,
    inspector_engine: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await gql(
        """mutation($input: CreateSurveyDefinitionInput!) { createSurveyDefinition(input: $input)
          { errors { code } } }""",
        {
            "input": {
                "workspaceId": tenant_a.ws_gid(0),
                "key": "ces-checkout",
                "measure": "CES",
                "scaleMin": 1,
                "scaleMax": 7,
            }
        },
        token=tenant_a.token,
    )
    assert made["data"]["createSurveyDefinition"]["errors"] == []
    file = tmp_path / "answers.csv"
    file.write_text(
        "source,externalId,surveyKey,measureValue,eventName,text\n"
        "SURVEY,r1,ces-checkout,7,paid,\n"  # line 2: two touchpoints list "paid"
        "SURVEY,r2,ces-checkout,6,refunded,\n"  # line 3: one does
        "SURVEY,r3,ces-checkout,2,nobody-lists-this,\n"  # line 4: none does
        "SURVEY,r4,ces-checkout,9,refunded,\n"  # line 5: not on the survey's 1-7
        "SURVEY,r5,ces-checkout,5,,\n",  # line 6: no key: workspace-wide
        encoding="utf-8",
    )
    monkeypatch.setattr(import_command, "get_settings", lambda: settings)
    args = ["import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0])]
    done = await asyncio.to_thread(CliRunner().invoke, cli.app, args)
    assert done.exit_code == 1, done.output
    assert "line 5: surveyKey" not in done.stderr
    assert "line 5: measureValue: Must be between 1 and 7." in done.stderr
    assert "line 2: AMBIGUOUS: its match keys fit 2 touchpoints" in done.stderr
    assert "line 4: UNMATCHED: its match keys fit no touchpoint" in done.stderr
    assert "line 3:" not in done.stderr
    assert "placed: MATCHED 1, AMBIGUOUS 1, UNMATCHED 1, NONE 1" in done.stdout
    assert done.stdout.rstrip().endswith(
        "accepted 4, duplicates 0, rejected 1 (the rejected lines are listed on stderr)"
    )
    async with inspector_engine.connect() as connection:
        rows = await connection.execute(
            select(Feedback.external_id, Feedback.placement, Feedback.survey_definition_id)
        )
        stored = {r.external_id: (r.placement, r.survey_definition_id is not None) for r in rows}
    assert stored == {
        "r1": ("AMBIGUOUS", True),
        "r2": ("MATCHED", True),
        "r3": ("UNMATCHED", True),
        "r5": ("NONE", True),
    }
    # One chunk arrives at one moment: its items' order within it is not defined.
    queued = {e["node"]["externalId"] for e in (await _queue(gql, tenant_a))["edges"]}
    assert queued == {"r1", "r3"}
