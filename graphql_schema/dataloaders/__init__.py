"""A request's DataLoaders, by domain: one batched query per kind of object, per tick.

Built fresh for every operation (and again once a mutation changes the caller's reach),
so nothing one caller loaded is ever answered to another. Resolvers reach them as typed
attributes: ``info.context.loaders.journeys.touchpoint_by_id``.
"""

from __future__ import annotations

from backend.authz.access import Access
from backend.db.shared_reads import Reads
from graphql_schema.dataloaders.audit import AuditLoaders
from graphql_schema.dataloaders.feedback import FeedbackLoaders
from graphql_schema.dataloaders.health import HealthLoaders
from graphql_schema.dataloaders.initiatives import InitiativeLoaders
from graphql_schema.dataloaders.journeys import JourneyLoaders
from graphql_schema.dataloaders.metrics import MetricLoaders
from graphql_schema.dataloaders.tenancy import TenancyLoaders


class Loaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.tenancy = TenancyLoaders(reads, access)
        self.journeys = JourneyLoaders(reads, access)
        self.feedback = FeedbackLoaders(reads, access)
        self.health = HealthLoaders(reads, access)
        self.initiatives = InitiativeLoaders(reads, access)
        self.metrics = MetricLoaders(reads, access)
        self.audit = AuditLoaders(reads, access)
