"""Who an audit event is attributed to, and from where the change came."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from backend.models.audit import ActorType


@dataclass(frozen=True)
class Actor:
    type: ActorType
    user_id: UUID | None = None
    token_id: UUID | None = None
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def system(cls, request_id: str | None = None) -> Actor:
        return cls(ActorType.SYSTEM, request_id=request_id)
