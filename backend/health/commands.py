"""What callers ask of health, as typed commands."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from backend.patch import UNSET, Maybe


@dataclass(frozen=True, slots=True)
class UpdateThresholds:
    """Change any of a workspace's health settings; ``alert_below=None`` turns alerts off."""

    workspace_id: UUID
    alert_below: Maybe[float | None] = UNSET
    stale_after_days: Maybe[int] = UNSET
    sharp_drop_points: Maybe[float] = UNSET


@dataclass(frozen=True, slots=True)
class MarkReviewed:
    map_id: UUID
    note: str = ""


@dataclass(frozen=True, slots=True)
class SetHealthTarget:
    """The score a workspace aims for (0 to 100); ``None`` clears it."""

    workspace_id: UUID
    target_score: float | None
