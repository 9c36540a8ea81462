"""The role and organization-kind enums, as GraphQL types (shared by every domain)."""

from __future__ import annotations

import strawberry

from backend.vocabulary import roles

OrganizationKind = roles.OrganizationKind
strawberry.enum(OrganizationKind, name="OrganizationKind")
OrgRole = roles.OrgRole
strawberry.enum(OrgRole, name="OrgRole")
WorkspaceRole = roles.WorkspaceRole
strawberry.enum(WorkspaceRole, name="WorkspaceRole")
