"""Feedback's fields on Workspace: its feedback, what waits to be placed, and its keys
for sending it over HTTP. (Its survey definitions: ``surveys``.)"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING
from uuid import UUID

import strawberry

from backend.db.pagination import Page, PageRequest
from backend.feedback.ingestion import tokens_of
from backend.feedback.queue import unplaced_page
from backend.feedback.service import feedback_page
from backend.vocabulary.feedback import Placement
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.context import Info
from graphql_schema.feedback.types import FeedbackSource, FeedbackType, IngestionTokenType
from graphql_schema.permissions import WORKSPACE_ADMIN_READ, restricted_field
from graphql_schema.relay import Connection, decode_global_id

if TYPE_CHECKING:
    from graphql_schema.tenancy.types import WorkspaceType


@restricted_field(WORKSPACE_ADMIN_READ, "Keys for sending feedback over HTTP.")
async def ingestion_tokens(root: WorkspaceType, info: Info) -> list[IngestionTokenType] | None:
    role = info.context.access.workspace_role(UUID(root.id))
    if role is None or not role.at_least(WorkspaceRole.ADMIN):
        return None
    async with info.context.read() as session:
        found = await tokens_of(session, UUID(root.id))
    return [IngestionTokenType.from_model(t) for t in found]


@strawberry.field(description="Feedback, newest first; filter by touchpoint or source.")
async def feedback(
    root: WorkspaceType,
    info: Info,
    touchpoint_id: strawberry.ID | None = None,
    source: FeedbackSource | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[FeedbackType]:
    touchpoint = decode_global_id(touchpoint_id) if touchpoint_id else None
    if touchpoint_id and (touchpoint is None or touchpoint[0] != "Touchpoint"):
        return Connection.from_page(Page([], [], False, 0), FeedbackType.from_model)
    async with info.context.read() as session:
        page = await feedback_page(
            session,
            UUID(root.id),
            touchpoint_id=touchpoint[1] if touchpoint else None,
            source=source,
            page=PageRequest(first, after, last, before),
        )
    return Connection.from_page(page, FeedbackType.from_model)


@strawberry.enum(description="Why an item waits in the unplaced queue.")
class UnplacedReason(Enum):
    AMBIGUOUS = "AMBIGUOUS"  # its match keys fit several touchpoints
    UNMATCHED = "UNMATCHED"  # they fit none


@strawberry.field(
    description="Feedback whose match keys fit several touchpoints or none, newest first: "
    "an editor places it (placeFeedback)."
)
async def unplaced_feedback(
    root: WorkspaceType,
    info: Info,
    reason: UnplacedReason | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[FeedbackType]:
    async with info.context.read() as session:
        page = await unplaced_page(
            session,
            UUID(root.id),
            reason=Placement(reason.value) if reason else None,
            page=PageRequest(first, after, last, before),
        )
    return Connection.from_page(page, FeedbackType.from_model)
