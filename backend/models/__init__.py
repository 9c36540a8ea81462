"""Every mapped model, imported here so alembic and the mappers see them all."""

from backend.db.base import Base
from backend.models.audit import (
    AccountAuditEvent,
    ActorType,
    AuditEvent,
    AuditScope,
    AuditVerification,
    ChainHead,
)
from backend.models.feedback import Feedback, FeedbackCountPart
from backend.models.health import (
    AlertKind,
    HealthAlert,
    HealthEvidence,
    HealthGeneration,
    HealthRequest,
    HealthScore,
    HealthSettings,
    HealthSnapshot,
    HealthSubject,
    MapReview,
)
from backend.models.identity import (
    OrganizationDomain,
    SsoConnection,
    SsoLoginAttempt,
    UserIdentity,
    UserSession,
)
from backend.models.improvement import Initiative, Metric, MetricValue
from backend.models.journeys import (
    JourneyMap,
    JourneyMapPersona,
    JourneyMapRevision,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from backend.models.outbox import DeadLetter, OutboxEvent
from backend.models.schedule import ScheduleClaim
from backend.models.surveys import SurveyDefinition
from backend.models.tenancy import (
    Invitation,
    Organization,
    OrganizationMembership,
    User,
    Workspace,
    WorkspaceMembership,
)
from backend.models.tokens import ApiToken, IngestionToken

__all__ = [
    "AccountAuditEvent",
    "ActorType",
    "AlertKind",
    "ApiToken",
    "AuditEvent",
    "AuditScope",
    "AuditVerification",
    "Base",
    "ChainHead",
    "DeadLetter",
    "Feedback",
    "FeedbackCountPart",
    "HealthAlert",
    "HealthEvidence",
    "HealthGeneration",
    "HealthRequest",
    "HealthScore",
    "HealthSettings",
    "HealthSnapshot",
    "HealthSubject",
    "IngestionToken",
    "Initiative",
    "Invitation",
    "JourneyMap",
    "JourneyMapPersona",
    "JourneyMapRevision",
    "MapReview",
    "Metric",
    "MetricValue",
    "Opportunity",
    "Organization",
    "OrganizationDomain",
    "OrganizationMembership",
    "OutboxEvent",
    "PainPoint",
    "Persona",
    "ScheduleClaim",
    "SsoConnection",
    "SsoLoginAttempt",
    "Stage",
    "SurveyDefinition",
    "Touchpoint",
    "TouchpointEmotion",
    "User",
    "UserIdentity",
    "UserSession",
    "Workspace",
    "WorkspaceMembership",
]
