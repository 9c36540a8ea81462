"""Every mapped model, imported here so alembic and the mappers see them all."""

from backend.db.base import Base
from backend.models.tenancy import (
    Organization,
    OrganizationMembership,
    User,
    Workspace,
    WorkspaceMembership,
)
from backend.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "Base",
    "Organization",
    "OrganizationMembership",
    "User",
    "Workspace",
    "WorkspaceMembership",
]
