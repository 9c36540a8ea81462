"""What callers ask of initiatives, as typed commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from backend.patch import UNSET, Maybe
from backend.vocabulary.initiatives import InitiativeStatus


@dataclass(frozen=True, slots=True)
class CreateInitiative:
    """A new initiative; ``shipped_at`` is for a SHIPPED or DONE one (default: now)."""

    workspace_id: UUID
    title: str
    description: str | None = None
    status: InitiativeStatus = InitiativeStatus.IDEA
    owner_id: UUID | None = None
    department: str | None = None
    impact: int = 3
    effort: int = 3
    confidence: float = 0.5
    reach: int = 0
    touchpoint_ids: tuple[UUID, ...] = ()
    pain_point_ids: tuple[UUID, ...] = ()
    target_metric_id: UUID | None = None
    baseline: float | None = None
    target: float | None = None
    shipped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UpdateInitiative:
    """The fields to change; the status moves only along allowed transitions."""

    initiative_id: UUID
    title: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    status: Maybe[InitiativeStatus] = UNSET
    owner_id: Maybe[UUID | None] = UNSET
    department: Maybe[str | None] = UNSET
    impact: Maybe[int] = UNSET
    effort: Maybe[int] = UNSET
    confidence: Maybe[float] = UNSET
    reach: Maybe[int] = UNSET
    touchpoint_ids: Maybe[tuple[UUID, ...]] = UNSET
    pain_point_ids: Maybe[tuple[UUID, ...]] = UNSET
    target_metric_id: Maybe[UUID | None] = UNSET
    baseline: Maybe[float | None] = UNSET
    target: Maybe[float | None] = UNSET
    shipped_at: Maybe[datetime | None] = UNSET
