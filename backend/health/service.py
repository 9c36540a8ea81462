"""What people ask of health directly: a recalculation now, audited."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.health import recalculate
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import WorkspaceRole


async def recalculate_now(
    session: AsyncSession, access: Access, workspace_id: UUID
) -> recalculate.PassResult:
    """A full pass for a workspace admin, without waiting for the night."""
    access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspace_id")
    done = await recalculate.recalculate(session, workspace_id, full=True)
    assert done is not None  # a full pass always runs
    workspace = done.health.workspace
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.HEALTH_RECALCULATE,
        subject_type="Workspace",
        subject_id=workspace_id,
        changes=changes_of(
            {},
            {
                "touchpoints": len(done.health.touchpoints),
                "score": None
                if workspace is None or workspace.score is None
                else round(workspace.score, 2),
            },
        ),
    )
    return done
