"""Identity's fields on Organization: how its people sign in (for its ADMINs)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from backend.auth.connections import connections_of
from backend.auth.domains import claims_of
from backend.vocabulary.roles import OrgRole
from graphql_schema.context import Info
from graphql_schema.identity.types import OrganizationDomainType, SsoConnectionType
from graphql_schema.permissions import ORG_ADMIN_READ, restricted_field

if TYPE_CHECKING:
    from graphql_schema.tenancy.types import OrganizationType


def _is_admin(info: Info, organization_id: UUID) -> bool:
    role = info.context.access.org_role(organization_id)
    return role is not None and role.at_least(OrgRole.ADMIN)


@restricted_field(ORG_ADMIN_READ, "How its people sign in: its SSO connections.")
async def sso_connections(root: OrganizationType, info: Info) -> list[SsoConnectionType] | None:
    organization_id = UUID(root.id)
    if not _is_admin(info, organization_id):
        return None
    async with info.context.read() as session:
        found = await connections_of(session, organization_id)
    return [SsoConnectionType.from_model(c) for c in found]


@restricted_field(ORG_ADMIN_READ, "The email domains it claims, and which it verified.")
async def domains(root: OrganizationType, info: Info) -> list[OrganizationDomainType] | None:
    organization_id = UUID(root.id)
    if not _is_admin(info, organization_id):
        return None
    async with info.context.read() as session:
        found = await claims_of(session, organization_id)
    return [OrganizationDomainType.from_model(c) for c in found]
