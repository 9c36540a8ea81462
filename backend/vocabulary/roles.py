"""Roles and what each may do (docs/architecture.md, Tenancy); pure data, no I/O."""

from __future__ import annotations

from enum import StrEnum


class OrganizationKind(StrEnum):
    AGENCY = "AGENCY"
    COMPANY = "COMPANY"


class OrgRole(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"

    @property
    def rank(self) -> int:
        return _ORG_RANK[self]

    def at_least(self, other: OrgRole) -> bool:
        return self.rank >= other.rank


class WorkspaceRole(StrEnum):
    ADMIN = "ADMIN"
    EDITOR = "EDITOR"
    VIEWER = "VIEWER"

    @property
    def rank(self) -> int:
        return _WORKSPACE_RANK[self]

    def at_least(self, other: WorkspaceRole) -> bool:
        return self.rank >= other.rank


_ORG_RANK = {OrgRole.MEMBER: 1, OrgRole.ADMIN: 2, OrgRole.OWNER: 3}
_WORKSPACE_RANK = {WorkspaceRole.VIEWER: 1, WorkspaceRole.EDITOR: 2, WorkspaceRole.ADMIN: 3}


def strongest(*roles: WorkspaceRole | None) -> WorkspaceRole | None:
    present = [r for r in roles if r is not None]
    return max(present, key=lambda r: r.rank) if present else None


def workspace_role_from_org_role(role: OrgRole) -> WorkspaceRole | None:
    """Org OWNER/ADMIN are ADMIN in every workspace; org MEMBERs get nothing implicitly."""
    return WorkspaceRole.ADMIN if role.at_least(OrgRole.ADMIN) else None
