"""What callers ask of tenancy's services: typed, validated by the services themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from backend.patch import UNSET, Maybe
from backend.vocabulary.roles import OrgRole, WorkspaceRole


@dataclass(frozen=True, slots=True)
class CreateWorkspace:
    organization_id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class UpdateWorkspace:
    workspace_id: UUID
    name: Maybe[str] = UNSET


@dataclass(frozen=True, slots=True)
class AddWorkspaceMember:
    workspace_id: UUID
    email: str
    role: WorkspaceRole


@dataclass(frozen=True, slots=True)
class CreateApiToken:
    name: str
    workspace_id: UUID | None = None  # limits the token to this workspace
    read_only: bool = False
    expires_in_days: int | None = None


@dataclass(frozen=True, slots=True)
class CreateInvitation:
    """Into the organization (``org_role``), a workspace (with its role), or both."""

    organization_id: UUID
    email: str
    org_role: OrgRole | None = None
    workspace_id: UUID | None = None
    workspace_role: WorkspaceRole | None = None
    expires_in_days: int | None = None


@dataclass(frozen=True, slots=True)
class RemoveWorkspaceMember:
    workspace_id: UUID
    user_id: UUID


@dataclass(frozen=True, slots=True)
class RemoveOrganizationMember:
    organization_id: UUID
    user_id: UUID


@dataclass(frozen=True, slots=True)
class ClaimDomain:
    organization_id: UUID
    domain: str


@dataclass(frozen=True, slots=True)
class CreateSsoConnection:
    organization_id: UUID
    issuer: str
    client_id: str
    client_secret: str
    allowed_domains: Sequence[str]
    default_role: WorkspaceRole
    default_workspace_ids: Sequence[UUID]


@dataclass(frozen=True, slots=True)
class ChangeSsoConnection:
    """What an update sets; None leaves a field as it is."""

    client_id: str | None = None
    client_secret: str | None = None
    allowed_domains: Sequence[str] | None = None
    default_role: WorkspaceRole | None = None
    default_workspace_ids: Sequence[UUID] | None = None
    enabled: bool | None = None
