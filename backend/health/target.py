"""A workspace's target score: what "good" means here, so a score can show its gap."""

from __future__ import annotations

import math
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.errors import ValidationFailed
from backend.health.alerts import Thresholds
from backend.health.commands import SetHealthTarget
from backend.health.repository import target as repository
from backend.vocabulary.roles import WorkspaceRole


def gap(score: float, target: float | None) -> float | None:
    """Points above (+) or below (-) the target; None without a target."""
    return None if target is None else score - target


async def target_of(session: AsyncSession, workspace_id: UUID) -> float | None:
    return await repository.target_score(session, workspace_id)


async def set_target(
    session: AsyncSession, access: Access, command: SetHealthTarget
) -> float | None:
    workspace_id, wanted = command.workspace_id, command.target_score
    access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspace_id")
    if wanted is not None and (not math.isfinite(wanted) or not 0 <= wanted <= 100):
        raise ValidationFailed("Must be between 0 and 100.", field="target_score")
    current = await repository.target_score(session, workspace_id)
    defaults = Thresholds()
    await repository.save_target(
        session,
        workspace_id,
        wanted,
        alert_below=defaults.alert_below,
        stale_after_days=defaults.stale_after_days,
        sharp_drop_points=defaults.sharp_drop_points,
    )
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="health_settings.update",
        subject_type="Workspace",
        subject_id=workspace_id,
        changes=changes_of({"target_score": current}, {"target_score": wanted}),
    )
    return wanted
