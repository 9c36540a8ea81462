"""Queries on the audit trail and the dead letters, for the API."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page, PageRequest, paginate
from backend.models import AccountAuditEvent, AuditEvent, AuditVerification
from backend.models.audit import AuditScope
from backend.models.outbox import DeadLetter


@dataclass(frozen=True)
class AuditFilter:
    actor_user_id: UUID | None = None
    action: str | None = None
    subject_id: str | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


def _filtered(statement: Any, model: Any, f: AuditFilter) -> Any:
    if f.actor_user_id is not None:
        statement = statement.where(model.actor_user_id == f.actor_user_id)
    if f.action:
        # "workspace_member" matches every workspace_member.* action.
        statement = statement.where(
            (model.action == f.action) | model.action.startswith(f"{f.action}.", autoescape=True)
        )
    if f.subject_id:
        statement = statement.where(model.subject_id == f.subject_id)
    if f.occurred_after is not None:
        statement = statement.where(model.occurred_at >= f.occurred_after)
    if f.occurred_before is not None:
        statement = statement.where(model.occurred_at < f.occurred_before)
    return statement


# A workspace's trail, newest first, by this key (read as JSON too: graphql_schema.json_plans).
WORKSPACE_EVENTS_ORDER = (AuditEvent.sequence,)


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def workspace_events(
        self, workspace_id: UUID, f: AuditFilter, page: PageRequest
    ) -> Page[AuditEvent]:
        statement = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
        return await paginate(
            self.session,
            _filtered(statement, AuditEvent, f),
            keys=WORKSPACE_EVENTS_ORDER,
            page=page,
            descending=True,
        )

    async def account_events(
        self,
        scope: AuditScope,
        scope_id: UUID,
        f: AuditFilter,
        page: PageRequest,
        *,
        subjects: Collection[str] | None = None,
    ) -> Page[AccountAuditEvent]:
        """``subjects``: only the events about these subjects (None: all of them)."""
        statement = select(AccountAuditEvent).where(
            AccountAuditEvent.scope == scope, AccountAuditEvent.scope_id == scope_id
        )
        if subjects is not None:
            statement = statement.where(AccountAuditEvent.subject_id.in_(list(subjects)))
        return await paginate(
            self.session,
            _filtered(statement, AccountAuditEvent, f),
            keys=[AccountAuditEvent.sequence],
            page=page,
            descending=True,
        )

    async def dead_letters(self, workspace_id: UUID, page: PageRequest) -> Page[DeadLetter]:
        return await paginate(
            self.session,
            select(DeadLetter).where(DeadLetter.workspace_id == workspace_id),
            keys=[DeadLetter.failed_at, DeadLetter.id],
            page=page,
            descending=True,
        )

    async def dead_letters_by_ids(
        self, ids: Iterable[UUID], workspace_ids: Collection[UUID]
    ) -> Sequence[DeadLetter]:
        return (
            await self.session.scalars(
                select(DeadLetter).where(
                    DeadLetter.id.in_(list(ids)), DeadLetter.workspace_id.in_(list(workspace_ids))
                )
            )
        ).all()

    async def chain_check(self, workspace_id: UUID) -> AuditVerification | None:
        """Where the background verifier got to on a workspace's chain, and what it found."""
        return await self.session.get(AuditVerification, (workspace_id, workspace_id))
