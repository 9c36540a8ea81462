"""A request's DataLoaders, by domain: one batched query per kind of object, per tick.

Built fresh for every operation (and again once a mutation changes the caller's reach),
so nothing one caller loaded is ever answered to another. Resolvers reach them as typed
attributes: ``info.context.loaders.journeys.touchpoint_by_id``.
"""

from __future__ import annotations

from backend.authz.access import Access
from backend.db.engine import Database
from graphql_schema.dataloaders.feedback import FeedbackLoaders
from graphql_schema.dataloaders.health import HealthLoaders
from graphql_schema.dataloaders.initiatives import InitiativeLoaders
from graphql_schema.dataloaders.journeys import JourneyLoaders
from graphql_schema.dataloaders.metrics import MetricLoaders
from graphql_schema.dataloaders.tenancy import TenancyLoaders


class Loaders:
    def __init__(self, db: Database, access: Access) -> None:
        self.tenancy = TenancyLoaders(db, access)
        self.journeys = JourneyLoaders(db, access)
        self.feedback = FeedbackLoaders(db, access)
        self.health = HealthLoaders(db, access)
        self.initiatives = InitiativeLoaders(db, access)
        self.metrics = MetricLoaders(db, access)
