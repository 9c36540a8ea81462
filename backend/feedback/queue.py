"""The unplaced feedback queue: items whose match keys fit several touchpoints or none,
waiting for an editor to say where they belong.

Placing one by hand links it to the touchpoint (and so its stage and map), marks it
ASSIGNED, and raises the same event new feedback raises, so its sentiment is scored and
the touchpoint's health recalculated as if it had arrived there.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, PageRequest
from backend.errors import NotFound, ValidationFailed
from backend.feedback import placement
from backend.feedback.commands import PlaceFeedback
from backend.feedback.repository import FeedbackRepository
from backend.feedback.service import announce_received
from backend.models import Feedback
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.feedback import Placement
from backend.vocabulary.roles import WorkspaceRole

# Why an item is waiting: what the queue can be filtered by.
UNPLACED = (Placement.AMBIGUOUS, Placement.UNMATCHED)
_LINKS = ("touchpoint_id", "stage_id", "journey_map_id", "placement", "placement_candidates")


async def unplaced_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    reason: Placement | None,
    page: PageRequest,
) -> Page[Feedback]:
    """The workspace's unplaced items, newest first; ``reason`` keeps one kind."""
    if reason is not None and reason not in UNPLACED:
        raise ValidationFailed("AMBIGUOUS or UNMATCHED.", field="reason")
    reasons = UNPLACED if reason is None else (reason,)
    return await FeedbackRepository(session).unplaced_page(workspace_id, reasons, page=page)


async def place_feedback(session: AsyncSession, access: Access, command: PlaceFeedback) -> Feedback:
    """Put one item on a live touchpoint of its workspace."""
    repository = FeedbackRepository(session)
    feedback = await repository.for_update(command.feedback_id)
    if feedback is None or access.workspace_role(feedback.workspace_id) is None:
        raise NotFound("Feedback", field="feedback_id")
    workspace_id = feedback.workspace_id
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="feedback_id")
    structure = await placement.structure_of(repository, workspace_id)
    where = structure.touchpoints.get(command.touchpoint_id)
    if where is None:
        raise NotFound("Touchpoint", field="touchpoint_id")
    before = {name: getattr(feedback, name) for name in _LINKS}
    feedback.touchpoint_id = command.touchpoint_id
    feedback.stage_id, feedback.journey_map_id = where
    feedback.placement = Placement.ASSIGNED
    feedback.placement_candidates = []
    await repository.flush()
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.FEEDBACK_PLACE,
        subject_type="Feedback",
        subject_id=feedback.id,
        changes=changes_of(before, {name: getattr(feedback, name) for name in _LINKS}),
    )
    # The touchpoint it left (if it was on one) is recalculated with the one it joined.
    await announce_received(
        session,
        workspace_id,
        [str(feedback.id)],
        {before["touchpoint_id"], command.touchpoint_id},
        [feedback.occurred_at],  # its past days are recomputed with it where it now is
    )
    return feedback
