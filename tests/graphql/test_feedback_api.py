"""Feedback in through GraphQL: one or a batch, idempotent, validated item by item, and
attached to its touchpoint by the match keys it carries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import GlobalID

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import Feedback, OutboxEvent
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest

FEEDBACK = """id source externalId channel measure measureValue text tags customerRef
  eventName url surveyId occurredAt touchpoint { id } stage { id } journeyMap { id }"""
SUBMIT = f"""mutation($input: SubmitFeedbackInput!) {{ submitFeedback(input: $input) {{
  feedback {{ {FEEDBACK} }} duplicate errors {{ code field message }} }} }}"""
BATCH = """mutation($input: SubmitFeedbackBatchInput!) { submitFeedbackBatch(input: $input) {
  accepted duplicates rejected
  results { index status feedback { id externalId touchpoint { id } }
            errors { code field message } }
  errors { code field message } } }"""
MAP = """mutation($ws: ID!, $title: String!, $scenario: JourneyScenario!) {
  createJourneyMap(input: {workspaceId: $ws, title: $title, template: FIVE_STAGE,
                           scenario: $scenario}) {
    journeyMap { id stages { id name } } errors { code } } }"""
TOUCHPOINT = """mutation($stage: ID!, $name: String!, $keys: MatchKeysInput!) {
  addTouchpoint(input: {stageId: $stage, name: $name, matchKeys: $keys}) {
    touchpoint { id } errors { code field } } }"""


async def _touchpoint(
    gql: GraphQLClient,
    tenant: Tenant,
    keys: dict[str, list[str]],
    *,
    title: str = "Checkout",
    scenario: str = "CURRENT_STATE",
) -> dict[str, str]:
    made = await gql(
        MAP, {"ws": tenant.ws_gid(0), "title": title, "scenario": scenario}, token=tenant.token
    )
    journey = made["data"]["createJourneyMap"]["journeyMap"]
    purchase = next(s for s in journey["stages"] if s["name"] == "Purchase")
    added = await gql(
        TOUCHPOINT, {"stage": purchase["id"], "name": "Pay", "keys": keys}, token=tenant.token
    )
    return {
        "map": journey["id"],
        "stage": purchase["id"],
        "touchpoint": added["data"]["addTouchpoint"]["touchpoint"]["id"],
    }


def _item(external_id: str = "resp-1", **fields: Any) -> dict[str, Any]:
    return {
        "source": "SURVEY",
        "externalId": external_id,
        "measure": "CSAT",
        "measureValue": 4,
        **fields,
    }


async def _submit(
    gql: GraphQLClient, tenant: Tenant, item: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    body = await gql(
        SUBMIT,
        {"input": {"workspaceId": tenant.ws_gid(0), "item": item}},
        token=token or tenant.token,
    )
    return dict(body["data"]["submitFeedback"])


async def _count(owner: AsyncEngine, model: Any) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model)) or 0)


async def test_feedback_with_an_event_name_attaches_to_its_touchpoint(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    place = await _touchpoint(gql, tenant_a, {"eventNames": ["checkout_paid"]})
    payload = await _submit(
        gql,
        tenant_a,
        _item(
            text="  Smooth, but the card form is tiny ",
            eventName="checkout_paid",
            channel="WEB",
            tags=["mobile", "mobile"],
            customerRef="c-981",
        ),
    )
    assert payload["errors"] == []
    assert payload["duplicate"] is False
    feedback = payload["feedback"]
    assert (feedback["touchpoint"], feedback["stage"], feedback["journeyMap"]) == (
        {"id": place["touchpoint"]},
        {"id": place["stage"]},
        {"id": place["map"]},
    )
    assert (feedback["text"], feedback["tags"], feedback["measureValue"]) == (
        "Smooth, but the card form is tiny",
        ["mobile"],
        4,
    )
    async with inspector_engine.connect() as conn:
        events = (await conn.execute(select(OutboxEvent.event_type, OutboxEvent.payload))).all()
    received = [p for t, p in events if t == "feedback.received"]
    assert received
    assert received[-1]["touchpoint_ids"] == [GlobalID.from_id(place["touchpoint"]).node_id]


async def test_sending_the_same_feedback_again_changes_nothing(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    first = await _submit(gql, tenant_a, _item(text="ok"))
    rows = await _count(inspector_engine, Feedback)
    again = await _submit(gql, tenant_a, _item(text="changed my mind", measureValue=1))
    assert again["errors"] == []
    assert again["duplicate"] is True
    assert again["feedback"] == first["feedback"]  # what was kept the first time
    assert await _count(inspector_engine, Feedback) == rows
    # Another source may use the same id.
    other = await _submit(gql, tenant_a, _item(text="ok", source="REVIEW"))
    assert other["duplicate"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"measure": "NPS", "measureValue": 11}, "input.item.measureValue"),
        ({"measure": "CES", "measureValue": 0}, "input.item.measureValue"),
        ({"measureValue": None}, "input.item.measureValue"),
        ({"measure": None, "measureValue": None, "text": "  "}, "input.item.text"),
        ({"externalId": " "}, "input.item.externalId"),
        ({"occurredAt": (utcnow() + timedelta(days=1)).isoformat()}, "input.item.occurredAt"),
        ({"touchpointId": "not-an-id"}, "input.item.touchpointId"),
        ({"tags": ["ok", " "]}, "input.item.tags[1]"),
    ],
)
async def test_bad_feedback_is_refused_with_a_located_error(
    changes: dict[str, Any],
    field: str,
    gql: GraphQLClient,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    payload = await _submit(gql, tenant_a, _item(**changes))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", field)]
    assert payload["feedback"] is None
    assert await _count(inspector_engine, Feedback) == 0


async def test_a_batch_keeps_the_good_items_and_reports_each_bad_one(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    await _submit(gql, tenant_a, _item("old"))
    items = [
        _item("a"),
        _item("b", measureValue=9),
        _item("a", text="twice in one batch"),
        _item("old"),
        _item("c", touchpointId=global_id("Touchpoint", "00000000-0000-0000-0000-000000000001")),
    ]
    body = await gql(
        BATCH, {"input": {"workspaceId": tenant_a.ws_gid(0), "items": items}}, token=tenant_a.token
    )
    payload = body["data"]["submitFeedbackBatch"]
    assert payload["errors"] == []
    assert (payload["accepted"], payload["duplicates"], payload["rejected"]) == (1, 2, 2)
    summary = [
        (r["index"], r["status"], [(e["code"], e["field"]) for e in r["errors"]])
        for r in payload["results"]
    ]
    assert summary == [
        (0, "ACCEPTED", []),
        (1, "REJECTED", [("VALIDATION", "input.items[1].measureValue")]),
        (2, "DUPLICATE", []),
        (3, "DUPLICATE", []),
        (4, "REJECTED", [("NOT_FOUND", "input.items[4].touchpointId")]),
    ]
    assert payload["results"][2]["feedback"]["id"] == payload["results"][0]["feedback"]["id"]
    assert await _count(inspector_engine, Feedback) == 2


async def test_all_or_nothing_keeps_nothing_when_one_item_is_bad(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    items = [_item("a"), _item("b", measure="RATING", measureValue=6)]
    body = await gql(
        BATCH,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "items": items, "allOrNothing": True}},
        token=tenant_a.token,
    )
    payload = body["data"]["submitFeedbackBatch"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION", "input.items[1].measureValue")
    ]
    assert payload["accepted"] is None
    assert await _count(inspector_engine, Feedback) == 0


async def test_a_batch_is_capped_at_a_thousand(gql: GraphQLClient, tenant_a: Tenant) -> None:
    items = [_item(f"r{n}") for n in range(1001)]
    body = await gql(
        BATCH, {"input": {"workspaceId": tenant_a.ws_gid(0), "items": items}}, token=tenant_a.token
    )
    assert body["data"]["submitFeedbackBatch"]["errors"] == [
        {"code": "VALIDATION", "field": "input.items", "message": "At most 1000 items at once."}
    ]


async def test_match_keys_attach_only_when_one_current_state_touchpoint_claims_them(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    await _touchpoint(gql, tenant_a, {"eventNames": ["paid"]}, title="Today")
    await _touchpoint(
        gql, tenant_a, {"eventNames": ["paid"]}, title="Tomorrow", scenario="FUTURE_STATE"
    )  # a plan, not where customers are
    survey = await _touchpoint(
        gql, tenant_a, {"surveyIds": ["s-1"], "eventNames": ["shared"]}, title="Survey"
    )
    urls = await _touchpoint(
        gql,
        tenant_a,
        {"urlPatterns": ["https://shop.example/cart*"], "eventNames": ["shared"]},
        title="Cart",
    )
    cases = {
        "paid": _item("p", eventName="paid"),
        "survey": _item("s", surveyId="s-1"),
        "url": _item("u", url="https://shop.example/cart?step=2"),
        "shared": _item("x", eventName="shared"),  # claimed twice: stays unattached
        "none": _item("n", eventName="unknown"),
    }
    attached = {}
    for name, item in cases.items():
        payload = await _submit(gql, tenant_a, item)
        assert payload["errors"] == [], payload
        attached[name] = (payload["feedback"]["touchpoint"] or {}).get("id")
    assert attached["survey"] == survey["touchpoint"]
    assert attached["url"] == urls["touchpoint"]
    assert attached["paid"] is not None
    assert (attached["shared"], attached["none"]) == (None, None)


async def test_links_must_agree_and_stay_in_the_workspace(
    gql: GraphQLClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    mine = await _touchpoint(gql, tenant_a, {})
    other = await _touchpoint(gql, tenant_a, {}, title="Other")
    theirs = await _touchpoint(gql, tenant_b, {})
    wrong_stage = await _submit(
        gql, tenant_a, _item(touchpointId=mine["touchpoint"], stageId=other["stage"])
    )
    assert [(e["code"], e["field"]) for e in wrong_stage["errors"]] == [
        ("VALIDATION", "input.item.stageId")
    ]
    foreign = await _submit(gql, tenant_a, _item(touchpointId=theirs["touchpoint"]))
    assert [(e["code"], e["field"]) for e in foreign["errors"]] == [
        ("NOT_FOUND", "input.item.touchpointId")
    ]


async def test_viewers_cannot_submit_and_other_tenants_do_not_find_the_workspace(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    _, viewer = await add_guest(database, tenant_a.workspace_ids[0], "v@x.io", WorkspaceRole.VIEWER)
    as_viewer = await _submit(gql, tenant_a, _item(), token=viewer)
    assert [(e["code"], e["field"]) for e in as_viewer["errors"]] == [
        ("FORBIDDEN", "input.workspaceId")
    ]
    as_stranger = await _submit(gql, tenant_a, _item(), token=tenant_b.token)
    assert [(e["code"], e["field"]) for e in as_stranger["errors"]] == [
        ("NOT_FOUND", "input.workspaceId")
    ]


async def test_workspace_feedback_lists_newest_first_and_filters(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    place = await _touchpoint(gql, tenant_a, {"eventNames": ["e"]})
    await _submit(gql, tenant_a, _item("1", eventName="e"))
    await _submit(gql, tenant_a, _item("2", source="REVIEW"))
    await _submit(gql, tenant_a, _item("3", eventName="e", source="REVIEW"))
    query = """query($ws: ID!, $tp: ID, $source: FeedbackSource) { workspace(id: $ws) {
      feedback(touchpointId: $tp, source: $source) {
        totalCount edges { node { externalId } } } } }"""

    async def listed(**filters: Any) -> list[str]:
        body = await gql(query, {"ws": tenant_a.ws_gid(0), **filters}, token=tenant_a.token)
        return [e["node"]["externalId"] for e in body["data"]["workspace"]["feedback"]["edges"]]

    assert await listed() == ["3", "2", "1"]
    assert await listed(tp=place["touchpoint"]) == ["3", "1"]
    assert await listed(source="REVIEW") == ["3", "2"]
    assert await listed(tp=place["touchpoint"], source="SURVEY") == ["1"]
