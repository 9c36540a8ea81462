"""The role and organization-kind enums, as GraphQL types (shared by every domain)."""

from __future__ import annotations

import strawberry

from backend.authz import roles

OrganizationKind = strawberry.enum(roles.OrganizationKind, name="OrganizationKind")
OrgRole = strawberry.enum(roles.OrgRole, name="OrgRole")
WorkspaceRole = strawberry.enum(roles.WorkspaceRole, name="WorkspaceRole")
