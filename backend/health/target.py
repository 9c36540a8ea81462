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
from backend.health.model import DEFAULT_TARGET
from backend.health.repository import target as repository
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import WorkspaceRole


def effective(target_score: float | None) -> float:
    """The target a workspace works to: its own, or the default until it sets one."""
    return DEFAULT_TARGET if target_score is None else target_score


def gap(score: float | None, target: float) -> float | None:
    """Points short of the target (+), or past it (-); None without a score."""
    return None if score is None else target - score


async def target_of(session: AsyncSession, workspace_id: UUID) -> float:
    """The target the workspace works to (its own, or the default)."""
    return effective(await set_target_of(session, workspace_id))


async def set_target_of(session: AsyncSession, workspace_id: UUID) -> float | None:
    """The target an admin set; None: none set, the default applies."""
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
        action=AuditAction.HEALTH_SETTINGS_UPDATE,
        subject_type="Workspace",
        subject_id=workspace_id,
        changes=changes_of({"target_score": current}, {"target_score": wanted}),
    )
    return wanted
