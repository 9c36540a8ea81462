"""Survey definitions: a workspace's survey questions, versioned by key, and feedback
that names one being read on that survey's own scale and direction (CES 2.0 "7 = it was
easy" is the best answer; an old 1-5 lower-is-better effort scale has no 7)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.models import Feedback
from backend.vocabulary.roles import WorkspaceRole
from tests.feedback.test_ingestion_http import _post, _token
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.service_calls import audit_trail
from tests.fixtures.tenants import Tenant, add_guest

DEFINITION = "id key version measure scaleMin scaleMax higherIsBetter question createdAt"
CREATE = f"""mutation($input: CreateSurveyDefinitionInput!) {{
  createSurveyDefinition(input: $input) {{
    surveyDefinition {{ {DEFINITION} }} errors {{ code field message }} }} }}"""
REVISE = f"""mutation($input: ReviseSurveyDefinitionInput!) {{
  reviseSurveyDefinition(input: $input) {{
    surveyDefinition {{ {DEFINITION} }} errors {{ code field message }} }} }}"""
LIST = """query($ws: ID!, $key: String) { workspace(id: $ws) {
  surveyDefinitions(key: $key) { key version scaleMin scaleMax higherIsBetter question } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on SurveyDefinition { key version } } }"""
BATCH = """mutation($input: SubmitFeedbackBatchInput!) { submitFeedbackBatch(input: $input) {
  accepted rejected
  results { index status errors { code field message }
            feedback { measure measureValue surveyDefinition { key version } } }
  errors { code field message } } }"""


async def _create(gql: GraphQLClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    token = fields.pop("token", tenant.token)
    payload = {"workspaceId": tenant.ws_gid(0), **fields}
    body = await gql(CREATE, {"input": payload}, token=token)
    return dict(body["data"]["createSurveyDefinition"])


async def _made(gql: GraphQLClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    answer = await _create(gql, tenant, **fields)
    assert answer["errors"] == [], answer["errors"]
    return dict(answer["surveyDefinition"])


CES_2 = {"key": "ces-checkout", "measure": "CES", "scaleMin": 1, "scaleMax": 7}
OLD_EFFORT = {
    "key": "effort-2019",
    "measure": "CES",
    "scaleMin": 1,
    "scaleMax": 5,
    "higherIsBetter": False,
}


def _answer(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"source": "SURVEY", "externalId": external_id, **fields}


async def _submit(gql: GraphQLClient, tenant: Tenant, items: list[dict[str, Any]]) -> Any:
    body = await gql(
        BATCH, {"input": {"workspaceId": tenant.ws_gid(0), "items": items}}, token=tenant.token
    )
    return body["data"]["submitFeedbackBatch"]


async def test_a_revision_is_a_new_version_and_the_list_shows_the_newest(
    gql: GraphQLClient, tenant_a: Tenant, database: Database
) -> None:
    first = await _made(gql, tenant_a, **CES_2, question="It was easy to pay.")
    assert (first["version"], first["measure"], first["higherIsBetter"]) == (1, "CES", True)
    body = await gql(
        REVISE,
        {"input": {"id": first["id"], "question": "Paying was easy.", "scaleMax": 5}},
        token=tenant_a.token,
    )
    second = body["data"]["reviseSurveyDefinition"]
    assert second["errors"] == []
    revised = second["surveyDefinition"]
    assert (revised["key"], revised["version"], revised["scaleMin"], revised["scaleMax"]) == (
        "ces-checkout",
        2,
        1,
        5,
    )
    assert revised["id"] != first["id"]
    # Nothing changed: no third version.
    same = await gql(REVISE, {"input": {"id": first["id"]}}, token=tenant_a.token)
    assert same["data"]["reviseSurveyDefinition"]["surveyDefinition"]["version"] == 2
    await _made(gql, tenant_a, key="nps-relationship", measure="NPS", scaleMin=0, scaleMax=10)
    listed = await gql(LIST, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    newest = listed["data"]["workspace"]["surveyDefinitions"]
    assert [(d["key"], d["version"]) for d in newest] == [
        ("ces-checkout", 2),
        ("nps-relationship", 1),
    ]
    history = await gql(
        LIST, {"ws": tenant_a.ws_gid(0), "key": "ces-checkout"}, token=tenant_a.token
    )
    versions = history["data"]["workspace"]["surveyDefinitions"]
    assert [(d["version"], d["scaleMax"], d["question"]) for d in versions] == [
        (2, 5, "Paying was easy."),
        (1, 7, "It was easy to pay."),
    ]
    node = await gql(NODE, {"id": first["id"]}, token=tenant_a.token)
    assert node["data"]["node"] == {"key": "ces-checkout", "version": 1}
    actions = [a for a, _, _ in await audit_trail(database, tenant_a.workspace_ids[0])]
    assert actions == [
        "survey_definition.create",
        "survey_definition.revise",
        "survey_definition.revise",  # with nothing changed
        "survey_definition.create",
    ]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"measure": "NPS", "scaleMin": 1, "scaleMax": 10}, "scaleMin", "NPS is asked on 0 to 10."),
        ({"measure": "NPS", "scaleMin": 0, "scaleMax": 5}, "scaleMax", "NPS is asked on 0 to 10."),
        (
            {"measure": "NPS", "scaleMin": 0, "scaleMax": 10, "higherIsBetter": False},
            "higherIsBetter",
            "On NPS higher is better.",
        ),
        (
            {"measure": "CSAT", "scaleMin": -1, "scaleMax": 5},
            "scaleMin",
            "Must be between 0 and 100.",
        ),
        (
            {"measure": "RATING", "scaleMin": 1, "scaleMax": 101},
            "scaleMax",
            "Must be between 0 and 100.",
        ),
        (
            {"measure": "CSAT", "scaleMin": 5, "scaleMax": 1},
            "scaleMax",
            "Must be above the minimum.",
        ),
        (
            {"measure": "CSAT", "scaleMin": 1, "scaleMax": 2},
            "scaleMax",
            "A scale needs at least 3 points.",
        ),
        ({"key": " ", "measure": "CES", "scaleMin": 1, "scaleMax": 7}, "key", None),
        ({"key": "k" * 201, "measure": "CES", "scaleMin": 1, "scaleMax": 7}, "key", None),
    ],
)
async def test_a_scale_a_survey_tool_would_not_have_is_refused_where_it_is_wrong(
    gql: GraphQLClient,
    tenant_a: Tenant,
    fields: dict[str, Any],
    field: str,
    message: str | None,
) -> None:
    answer = await _create(gql, tenant_a, **{"key": "s", **fields})
    assert answer["surveyDefinition"] is None
    [error] = answer["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", f"input.{field}")
    if message is not None:
        assert error["message"] == message


async def test_a_key_is_created_once_and_revised_after(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    await _made(gql, tenant_a, **CES_2)
    again = await _create(gql, tenant_a, **CES_2)
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("VALIDATION", "input.key")]


async def test_a_viewer_reads_survey_definitions_but_cannot_write_them(
    gql: GraphQLClient, tenant_a: Tenant, database: Database
) -> None:
    made = await _made(gql, tenant_a, **CES_2)
    _, viewer = await add_guest(database, tenant_a.workspace_ids[0], "v@x.io", WorkspaceRole.VIEWER)
    listed = await gql(LIST, {"ws": tenant_a.ws_gid(0)}, token=viewer)
    assert [d["key"] for d in listed["data"]["workspace"]["surveyDefinitions"]] == ["ces-checkout"]
    refused = await _create(gql, tenant_a, **{**OLD_EFFORT, "token": viewer})
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    revised = await gql(REVISE, {"input": {"id": made["id"], "question": "?"}}, token=viewer)
    assert [e["code"] for e in revised["data"]["reviseSurveyDefinition"]["errors"]] == ["FORBIDDEN"]


async def test_another_tenant_cannot_see_or_revise_a_survey_definition(
    gql: GraphQLClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    made = await _made(gql, tenant_a, **CES_2)
    node = await gql(NODE, {"id": made["id"]}, token=tenant_b.token)
    assert node["data"]["node"] is None
    revised = await gql(
        REVISE, {"input": {"id": made["id"], "question": "?"}}, token=tenant_b.token
    )
    payload = revised["data"]["reviseSurveyDefinition"]
    assert payload["surveyDefinition"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "input.id")]


async def test_an_answer_is_read_on_the_scale_of_the_survey_it_names(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    await _made(gql, tenant_a, **CES_2)
    await _made(gql, tenant_a, **OLD_EFFORT)
    batch = await _submit(
        gql,
        tenant_a,
        [
            # CES 2.0: 7 = "strongly agree it was easy"; the kind is the survey's.
            _answer("a", surveyKey="ces-checkout", measureValue=7),
            # The old effort scale goes to 5: a 7 is not an answer on it.
            _answer("b", surveyKey="effort-2019", measureValue=7),
            _answer("c", surveyKey="effort-2019", measure="CES", measureValue=1),
            _answer("d", surveyKey="ces-checkout", measure="NPS", measureValue=7),
            _answer("e", surveyKey="no-such-survey", measureValue=3),
            _answer("f", surveyKey="ces-checkout", text="no answer given"),
            # No key: the kind's usual scale (CES 2.0 is 1-7, higher is better).
            _answer("g", measure="CES", measureValue=7),
            _answer("h", measure="CES", measureValue=0),
        ],
    )
    results = batch["results"]
    assert [r["status"] for r in results] == [
        "ACCEPTED",
        "REJECTED",
        "ACCEPTED",
        "REJECTED",
        "REJECTED",
        "REJECTED",
        "ACCEPTED",
        "REJECTED",
    ]
    assert results[0]["feedback"] == {
        "measure": "CES",
        "measureValue": 7,
        "surveyDefinition": {"key": "ces-checkout", "version": 1},
    }
    assert results[1]["errors"] == [
        {
            "code": "VALIDATION",
            "field": "input.items[1].measureValue",
            "message": "Must be between 1 and 5.",
        }
    ]
    assert results[2]["feedback"]["surveyDefinition"] == {"key": "effort-2019", "version": 1}
    assert [(e["code"], e["field"]) for e in results[3]["errors"]] == [
        ("VALIDATION", "input.items[3].measure")
    ]
    assert [(e["code"], e["field"]) for e in results[4]["errors"]] == [
        ("NOT_FOUND", "input.items[4].surveyKey")
    ]
    assert [(e["code"], e["field"]) for e in results[5]["errors"]] == [
        ("VALIDATION", "input.items[5].measureValue")
    ]
    assert results[6]["feedback"]["surveyDefinition"] is None
    assert [(e["field"], e["message"]) for e in results[7]["errors"]] == [
        ("input.items[7].measureValue", "Must be between 1 and 7.")
    ]


async def test_answers_keep_the_version_they_named_when_the_survey_is_revised(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    first = await _made(gql, tenant_a, **CES_2)
    await _submit(gql, tenant_a, [_answer("before", surveyKey="ces-checkout", measureValue=6)])
    await gql(REVISE, {"input": {"id": first["id"], "scaleMax": 5}}, token=tenant_a.token)
    later = await _submit(
        gql, tenant_a, [_answer("after", surveyKey="ces-checkout", measureValue=6)]
    )
    assert [(e["field"], e["message"]) for e in later["results"][0]["errors"]] == [
        ("input.items[0].measureValue", "Must be between 1 and 5.")
    ]
    await _submit(gql, tenant_a, [_answer("after", surveyKey="ces-checkout", measureValue=5)])
    async with inspector_engine.connect() as connection:
        rows = await connection.execute(
            select(Feedback.external_id, Feedback.survey_definition_id).order_by(
                Feedback.external_id
            )
        )
        named = dict(rows.all())
    listed = await gql(
        LIST, {"ws": tenant_a.ws_gid(0), "key": "ces-checkout"}, token=tenant_a.token
    )
    assert len(listed["data"]["workspace"]["surveyDefinitions"]) == 2
    assert global_id("SurveyDefinition", named["before"]) == first["id"]
    assert named["after"] not in (None, named["before"])


async def test_another_tenant_cannot_name_a_survey_key_of_this_one(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await _made(gql, tenant_a, **CES_2)
    issued = await _token(gql, tenant_b)
    answer = await _post(
        client,
        issued["token"],
        [_answer("x", surveyKey="ces-checkout", measureValue=7)],
    )
    assert answer.json()["errors"] == [
        {
            "index": 0,
            "field": "surveyKey",
            "code": "NOT_FOUND",
            "message": "Survey definition not found.",
        }
    ]


async def test_a_batch_looks_its_survey_keys_up_once(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    sql_statements: list[str],
    inspector_engine: AsyncEngine,
) -> None:
    await _made(gql, tenant_a, **CES_2)
    await _made(gql, tenant_a, **OLD_EFFORT)
    await _made(gql, tenant_a, key="nps", measure="NPS", scaleMin=0, scaleMax=10)
    issued = await _token(gql, tenant_a)
    keys = ["ces-checkout", "effort-2019", "nps"]
    items = [_answer(f"i{n}", surveyKey=keys[n % 3], measureValue=1 + n % 5) for n in range(300)]
    sql_statements.clear()
    answer = await _post(client, issued["token"], items)
    assert answer.json()["accepted"] == 300
    assert sum(1 for s in sql_statements if "FROM survey_definitions" in s) == 1
    # The batch write (on Postgres the array path) carried each row's survey.
    async with inspector_engine.connect() as connection:
        named = (await connection.execute(select(Feedback.survey_definition_id).distinct())).all()
    assert len(named) == 3


async def test_a_survey_key_no_survey_could_have_is_a_located_error_not_a_failure(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    await _made(gql, tenant_a, **CES_2)
    issued = await _token(gql, tenant_a)
    answer = await _post(
        client,
        issued["token"],
        [
            _answer("nul", surveyKey="ces\u0000checkout", measureValue=7),
            _answer("long", surveyKey="k" * 201, measureValue=7),
            _answer("fine", surveyKey="ces-checkout", measureValue=7),
        ],
    )
    assert answer.status_code == 200, answer.text
    assert [(e["index"], e["field"], e["code"]) for e in answer.json()["errors"]] == [
        (0, "surveyKey", "VALIDATION"),
        (1, "surveyKey", "VALIDATION"),
    ]
    assert answer.json()["accepted"] == 1
