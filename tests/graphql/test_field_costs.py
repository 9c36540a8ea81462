"""The API's expensive fields: each named field exists, and the budget fits only a few."""

from __future__ import annotations

from graphql import GraphQLInterfaceType, GraphQLObjectType

from backend.settings import Settings
from graphql_schema.schema import API_FIELD_COSTS, API_LIMITS, build_schema

SCHEMA = build_schema(Settings())._schema


def test_every_costed_field_is_a_field_of_the_schema() -> None:
    assert API_LIMITS.field_costs == API_FIELD_COSTS
    for key in API_FIELD_COSTS:
        type_name, field_name = key.split(".")
        owner = SCHEMA.get_type(type_name)
        assert isinstance(owner, GraphQLObjectType | GraphQLInterfaceType), key
        assert field_name in owner.fields, key


def test_one_request_fits_about_ten_theme_lists_and_forty_outcomes() -> None:
    budget = API_LIMITS.max_cost
    assert budget // API_FIELD_COSTS["HealthExplanation.themes"] == 10
    assert budget // API_FIELD_COSTS["Initiative.outcome"] == 40
    assert budget // API_FIELD_COSTS["Initiative.plannedDetection"] == 40
    for owner in ("Workspace", "JourneyMap", "Stage", "Touchpoint"):
        assert budget // API_FIELD_COSTS[f"{owner}.surveyResults"] == 40
