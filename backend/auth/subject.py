"""Who is calling, one type per credential: what each proves and how it narrows the caller.

``backend.authz`` alone turns a subject into what it may reach (``Access``); nothing
else reads a subject's restrictions to decide access.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """A person signed in by the session cookie.

    Mutations must prove the session's CSRF token. A session reaches only the
    organization it was opened through: another organization's identity provider (or
    invitation) vouches for nothing else.
    """

    user_id: UUID
    email: str
    session_id: UUID
    csrf_token: str
    organization_id: UUID


@dataclass(frozen=True, slots=True)
class PersonalToken:
    """A person's API token (bearer): possibly limited to one workspace, to one
    organization, and/or to reading."""

    user_id: UUID
    email: str
    token_id: UUID
    workspace_id: UUID | None = None
    organization_id: UUID | None = None
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class IngestionKey:
    """An ingestion token: sends feedback into its one workspace, on nobody's behalf."""

    token_id: UUID
    workspace_id: UUID


@dataclass(frozen=True, slots=True)
class Operator:
    """A person acting through the operator's own tools (the demo seeder, the bench
    seeder): their own full reach, with no credential to narrow it."""

    user_id: UUID
    email: str


# A person behind the request: the subjects whose reach comes from memberships.
UserSubject = BrowserSession | PersonalToken | Operator
# Workers and CLI maintenance act as no subject: they compute no access and are named
# in the audit trail by ``Actor.system()``.
Subject = UserSubject | IngestionKey
