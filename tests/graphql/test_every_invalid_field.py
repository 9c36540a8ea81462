"""A form with several mistakes gets every one of them back in one answer, located, for
the inputs of organizations and workspaces, metrics, surveys and health settings (maps,
personas and initiatives: their own API tests). Nothing is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.models import ApiToken, Invitation, Metric, SsoConnection, SurveyDefinition
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant


def _located(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["code"], error["field"]) for error in payload["errors"]]


def _invalid(*fields: str) -> list[tuple[str, str]]:
    return [("VALIDATION", f"input.{field}") for field in fields]


async def _count(owner: AsyncEngine, model: Any) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model)) or 0)


async def _mutate(
    gql: GraphQLClient, tenant: Tenant, name: str, input_type: str, fields: dict[str, Any]
) -> dict[str, Any]:
    body = await gql(
        f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
              errors {{ code field message }} }} }}""",
        {"input": fields},
        token=tenant.token,
    )
    payload: dict[str, Any] = body["data"][name]
    return payload


async def test_an_sso_connection_reports_every_invalid_field_and_every_bad_domain(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    created = await _mutate(
        gql,
        tenant_a,
        "createSsoConnection",
        "CreateSsoConnectionInput",
        {
            "organizationId": tenant_a.org_gid,
            "issuer": "ftp://idp.example",
            "clientId": "  ",
            "clientSecret": "short",
            "allowedDomains": ["good.example", "not a domain", "@fine.example", "x"],
        },
    )
    assert _located(created) == _invalid(
        "issuer", "clientId", "clientSecret", "allowedDomains[1]", "allowedDomains[3]"
    )
    assert await _count(inspector_engine, SsoConnection) == 0


async def test_an_sso_connection_update_reports_every_invalid_field(
    gql: GraphQLClient, tenant_a: Tenant, database: Database
) -> None:
    async with database.transaction(tenant_a.binding(), write=True) as session:
        connection = SsoConnection(
            organization_id=tenant_a.organization_id,
            issuer="https://idp.alpha.example",
            client_id="alpha",
            client_secret_encrypted="sealed",
            allowed_domains=["alpha.example"],
            default_role=WorkspaceRole.VIEWER,
            default_workspace_ids=[],
        )
        session.add(connection)
        await session.flush()
        connection_id = connection.id
    updated = await _mutate(
        gql,
        tenant_a,
        "updateSsoConnection",
        "UpdateSsoConnectionInput",
        {
            "id": global_id("SsoConnection", connection_id),
            "clientId": "",
            "clientSecret": " padded secret ",
            "allowedDomains": ["bad domain"],
        },
    )
    assert _located(updated) == _invalid("clientId", "clientSecret", "allowedDomains[0]")
    async with database.transaction(tenant_a.binding()) as session:
        kept = await session.get(SsoConnection, connection_id)
        assert kept is not None
        assert (kept.client_id, kept.allowed_domains) == ("alpha", ["alpha.example"])


async def test_an_invitation_reports_every_invalid_field(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    invited = await _mutate(
        gql,
        tenant_a,
        "createInvitation",
        "CreateInvitationInput",
        {
            "organizationId": tenant_a.org_gid,
            "email": "not-an-address",
            "orgRole": "OWNER",
            "expiresInDays": 90,
        },
    )
    assert _located(invited) == _invalid("email", "orgRole", "expiresInDays")
    assert await _count(inspector_engine, Invitation) == 0


async def test_an_api_token_reports_every_invalid_field(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    before = await _count(inspector_engine, ApiToken)
    made = await _mutate(
        gql, tenant_a, "createApiToken", "CreateApiTokenInput", {"name": " ", "expiresInDays": 0}
    )
    assert _located(made) == _invalid("name", "expiresInDays")
    assert await _count(inspector_engine, ApiToken) == before


async def _map_id(gql: GraphQLClient, tenant: Tenant) -> str:
    body = await gql(
        """mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) {
             journeyMap { id } } }""",
        {"input": {"workspaceId": tenant.ws_gid(0), "title": "Onboarding"}},
        token=tenant.token,
    )
    return str(body["data"]["createJourneyMap"]["journeyMap"]["id"])


async def test_a_metric_reports_every_invalid_field_and_every_bad_value(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    journey_map = await _map_id(gql, tenant_a)
    base = {"workspaceId": tenant_a.ws_gid(0), "direction": "HIGHER_IS_BETTER"}
    created = await _mutate(
        gql,
        tenant_a,
        "createMetric",
        "CreateMetricInput",
        {**base, "name": "", "unit": "u" * 41, "target": 1e16, "journeyMapId": journey_map},
    )
    assert _located(created) == _invalid("name", "unit", "target")
    assert await _count(inspector_engine, Metric) == 0

    body = await gql(
        """mutation($input: CreateMetricInput!) { createMetric(input: $input) {
             metric { id } } }""",
        {"input": {**base, "name": "Conversion", "journeyMapId": journey_map}},
        token=tenant_a.token,
    )
    metric = body["data"]["createMetric"]["metric"]["id"]
    updated = await _mutate(
        gql,
        tenant_a,
        "updateMetric",
        "UpdateMetricInput",
        {"id": metric, "name": " ", "unit": "u" * 41, "target": -1e16},
    )
    assert _located(updated) == _invalid("name", "unit", "target")

    recorded = await _mutate(
        gql,
        tenant_a,
        "recordMetricValues",
        "RecordMetricValuesInput",
        {
            "metricId": metric,
            "values": [
                {"value": 1e16, "observedAt": "2026-01-01T00:00:00Z"},
                {"value": 0.3, "observedAt": "2026-01-02T00:00:00Z"},
                {"value": -1e16, "observedAt": "2026-01-03T00:00:00Z"},
            ],
        },
    )
    assert _located(recorded) == _invalid("values[0].value", "values[2].value")
    names = await gql(
        "query($id: ID!) { node(id: $id) { ... on Metric { name unit } } }",
        {"id": metric},
        token=tenant_a.token,
    )
    assert names["data"]["node"] == {"name": "Conversion", "unit": ""}


async def test_a_survey_reports_every_invalid_field(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    base = {"workspaceId": tenant_a.ws_gid(0)}
    created = await _mutate(
        gql,
        tenant_a,
        "createSurveyDefinition",
        "CreateSurveyDefinitionInput",
        {
            **base,
            "key": " ",
            "measure": "CSAT",
            "scaleMin": -5,
            "scaleMax": 500,
            "question": "q" * 2001,
        },
    )
    assert _located(created) == _invalid("key", "scaleMin", "scaleMax", "question")
    nps = await _mutate(
        gql,
        tenant_a,
        "createSurveyDefinition",
        "CreateSurveyDefinitionInput",
        {
            **base,
            "key": "nps",
            "measure": "NPS",
            "scaleMin": 1,
            "scaleMax": 5,
            "higherIsBetter": False,
        },
    )
    assert _located(nps) == _invalid("scaleMin", "scaleMax", "higherIsBetter")
    assert await _count(inspector_engine, SurveyDefinition) == 0

    body = await gql(
        """mutation($input: CreateSurveyDefinitionInput!) {
             createSurveyDefinition(input: $input) { surveyDefinition { id } } }""",
        {"input": {**base, "key": "ces", "measure": "CES", "scaleMin": 1, "scaleMax": 7}},
        token=tenant_a.token,
    )
    survey = body["data"]["createSurveyDefinition"]["surveyDefinition"]["id"]
    revised = await _mutate(
        gql,
        tenant_a,
        "reviseSurveyDefinition",
        "ReviseSurveyDefinitionInput",
        {"id": survey, "question": "q" * 2001, "scaleMin": -1, "scaleMax": 1000},
    )
    assert _located(revised) == _invalid("question", "scaleMin", "scaleMax")
    assert await _count(inspector_engine, SurveyDefinition) == 1


async def test_health_settings_report_every_invalid_field(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    changed = await _mutate(
        gql,
        tenant_a,
        "updateHealthSettings",
        "UpdateHealthSettingsInput",
        {
            "workspaceId": tenant_a.ws_gid(0),
            "alertBelow": 101,
            "staleAfterDays": 0,
            "sharpDropPoints": 0,
        },
    )
    assert _located(changed) == _invalid("alertBelow", "staleAfterDays", "sharpDropPoints")


async def test_values_no_field_can_hold_are_told_together_and_capped(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """What no field can hold (a NUL here; a lone surrogate, a time out of range) is found
    before any field rule runs, and the service never sees it: every one of them, up to a
    hundred per input."""
    metric = await _mutate(
        gql,
        tenant_a,
        "createMetric",
        "CreateMetricInput",
        {
            "workspaceId": tenant_a.ws_gid(0),
            "name": "a\x00b",
            "direction": "HIGHER_IS_BETTER",
            "unit": "\x00",
        },
    )
    assert _located(metric) == _invalid("name", "unit")
    assert await _count(inspector_engine, Metric) == 0
    persona = await _mutate(
        gql,
        tenant_a,
        "createPersona",
        "CreatePersonaInput",
        {"workspaceId": tenant_a.ws_gid(0), "name": "Ann", "goals": ["\x00"] * 150},
    )
    assert _located(persona) == _invalid(*(f"goals[{index}]" for index in range(100)))


async def test_every_bad_item_of_a_list_is_told(gql: GraphQLClient, tenant_a: Tenant) -> None:
    persona = await _mutate(
        gql,
        tenant_a,
        "createPersona",
        "CreatePersonaInput",
        {"workspaceId": tenant_a.ws_gid(0), "name": "Ann", "goals": [" ", "Save", "", "g" * 501]},
    )
    assert _located(persona) == _invalid("goals[0]", "goals[2]", "goals[3]")
