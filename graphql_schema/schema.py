"""The GraphQL schema: root types, extensions (limits, auth, masking) and settings."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry import relay
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig

from backend.settings import Settings
from graphql_schema.audit.types import DeadLetterType
from graphql_schema.authentication import Authenticate, KnownTokens
from graphql_schema.context import EndSharedReads, Info
from graphql_schema.document_cache import cached_documents
from graphql_schema.engine import PlannedExecutor
from graphql_schema.errors import MaskUnexpectedErrors, QuietSchema
from graphql_schema.feedback.mutations import FeedbackMutations
from graphql_schema.feedback.surveys import SurveyDefinitionType
from graphql_schema.feedback.types import FeedbackType, IngestionTokenType
from graphql_schema.health.mutations import HealthMutations
from graphql_schema.identity.mutations import IdentityMutations
from graphql_schema.identity.types import OrganizationDomainType, SsoConnectionType, UserType
from graphql_schema.initiatives.mutations import InitiativeMutations
from graphql_schema.initiatives.types import InitiativeType
from graphql_schema.input_guard import InputGuard
from graphql_schema.journeys.mutations import JourneyMutations
from graphql_schema.journeys.structure_mutations import StructureMutations
from graphql_schema.journeys.types import (
    JourneyMapType,
    OpportunityType,
    PainPointType,
    PersonaType,
    StageType,
    TouchpointType,
)
from graphql_schema.limits import QueryLimits, QueryLimitsExtension
from graphql_schema.metrics.mutations import MetricMutations
from graphql_schema.metrics.types import MetricType
from graphql_schema.operation_name import RequireOperationName
from graphql_schema.ordered_errors import OrderedErrors
from graphql_schema.private_schema import HideSchemaFromAnonymous, schema_is_private
from graphql_schema.relay import decode_global_id, resolve_node
from graphql_schema.request_errors import CodeRequestErrors
from graphql_schema.scalars import SCALARS
from graphql_schema.subscriptions.fields import Subscription
from graphql_schema.subscriptions.socket_only import SubscriptionsOverSocketOnly
from graphql_schema.tenancy.membership_mutations import MembershipMutations
from graphql_schema.tenancy.mutations import TenancyMutations
from graphql_schema.tenancy.queries import TenancyQueries
from graphql_schema.tenancy.types import (
    InvitationType,
    OrganizationType,
    WorkspaceMemberType,
    WorkspaceType,
)
from graphql_schema.tenancy.viewer import ApiTokenType

MAX_BATCH_OPERATIONS = 10
# A whole map read (stages x touchpoints x pain points and opportunities, each a
# list costed at the default page size) estimates near 42,000; connections nested
# three deep at full pages (100 x 100 x 100) are still far above this.
# Fields whose resolver does far more than read a row cost more than 1 on their own,
# so that one request can ask for only a few of them (documented in api-conventions.md).
_SURVEY_RESULTS_COST = 2_500  # a scan of up to three years of answers
API_FIELD_COSTS = {
    # YAKE over up to 200 texts: one to two seconds of CPU; about 10 per request.
    "HealthExplanation.themes": 10_000,
    # Several statements and a scan of up to 180 days of feedback each; about 40.
    "Initiative.outcome": 2_500,
    "Initiative.plannedDetection": 2_500,
    "Workspace.surveyResults": _SURVEY_RESULTS_COST,
    "JourneyMap.surveyResults": _SURVEY_RESULTS_COST,
    "Stage.surveyResults": _SURVEY_RESULTS_COST,
    "Touchpoint.surveyResults": _SURVEY_RESULTS_COST,
}
API_LIMITS = QueryLimits(max_cost=100_000, field_costs=API_FIELD_COSTS)


@strawberry.type
class Query(TenancyQueries):
    @strawberry.field(description="Any object by its global id; null if you cannot see it.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="A journey map you can reach; null otherwise.")
    async def journey_map(self, info: Info, id: strawberry.ID) -> JourneyMapType | None:
        decoded = decode_global_id(id)
        if decoded is None or decoded[0] != "JourneyMap":
            return None
        return await JourneyMapType.linked(info, decoded[1])


@strawberry.type
class Mutation(
    TenancyMutations,
    MembershipMutations,
    IdentityMutations,
    JourneyMutations,
    StructureMutations,
    FeedbackMutations,
    HealthMutations,
    InitiativeMutations,
    MetricMutations,
):
    pass


# Every type with an id is a Node, fetched by node(id) as its other readers show it.
NODE_TYPES = [
    OrganizationType,
    WorkspaceType,
    WorkspaceMemberType,
    UserType,
    ApiTokenType,
    InvitationType,
    OrganizationDomainType,
    SsoConnectionType,
    PersonaType,
    JourneyMapType,
    StageType,
    TouchpointType,
    PainPointType,
    OpportunityType,
    FeedbackType,
    SurveyDefinitionType,
    IngestionTokenType,
    DeadLetterType,
    InitiativeType,
    MetricType,
]


def build_schema(
    settings: Settings, limits: QueryLimits | None = None, known: KnownTokens | None = None
) -> strawberry.Schema:
    limits = limits or API_LIMITS
    known = known or KnownTokens()  # bearer tokens' owners, shared by this schema's requests
    # Factories, not instances: each operation gets fresh extension objects, so
    # concurrent requests never share an execution context.
    extensions: list[Callable[[], SchemaExtension]] = [
        # Order matters: refuse ambiguous and costly documents before anything else runs.
        CodeRequestErrors,  # first, so it sees every other check's errors
        RequireOperationName,
        lambda: QueryLimitsExtension(limits),
        SubscriptionsOverSocketOnly,  # before signing in: a refused request costs no SQL
        lambda: Authenticate(known),
        InputGuard,  # once the caller is known, before graphql-core reads the variables
        EndSharedReads,
        lambda: MaskUnexpectedErrors(hide_suggestions=settings.is_production),
    ]
    if schema_is_private(settings):
        # No answer may tell an anonymous caller about the schema.
        extensions.insert(3, lambda: HideSchemaFromAnonymous(known))
        extensions.append(DisableIntrospection)
    # Last: a document is taken from the cache only once every check above has run.
    extensions.append(cached_documents())
    return QuietSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        extensions=extensions,
        execution_context_class=PlannedExecutor if settings.planned_reads else OrderedErrors,
        config=StrawberryConfig(
            batching_config={"max_operations": MAX_BATCH_OPERATIONS},
            disable_field_suggestions=settings.is_production,
            scalar_map=SCALARS,
        ),
    )


def schema_sdl() -> str:
    """The schema as SDL, as committed in graphql_schema/schema.graphql."""
    return build_schema(Settings(introspection=True)).as_str() + "\n"
