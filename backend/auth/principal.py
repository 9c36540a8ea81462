"""Who is calling: a user, through some credential that may narrow what they can do."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    email: str
    token_id: UUID | None = None
    # A token may be limited to one workspace and/or to reading.
    restricted_workspace_id: UUID | None = None
    read_only: bool = False
    # Signed in through a browser session (cookie): mutations must prove the
    # session's CSRF token.
    session_id: UUID | None = None
    csrf_token: str | None = None
    # A session reaches only the organization it was opened through: another
    # organization's identity provider (or invitation) vouches for nothing else.
    restricted_organization_id: UUID | None = None
