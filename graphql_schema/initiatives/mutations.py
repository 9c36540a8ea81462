"""Mutations: createInitiative, updateInitiative, deleteInitiative."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.initiatives import service
from backend.initiatives.commands import CreateInitiative, UpdateInitiative
from backend.patch import UNSET, Maybe
from backend.vocabulary.initiatives import InitiativeStatus as Status
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.initiatives.types import InitiativeStatus, InitiativeType
from graphql_schema.mutations import run_mutation
from graphql_schema.partial import sent, sent_or_null
from graphql_schema.permissions import EDITOR, mutation
from graphql_schema.relay import parse_id


def _id(value: strawberry.ID | None, kind: str, field: str) -> UUID | None:
    return parse_id(value, kind, field=field) if value else None


def _ids(values: list[strawberry.ID] | None, kind: str, field: str) -> tuple[UUID, ...]:
    return tuple(parse_id(i, kind, field=f"{field}[{n}]") for n, i in enumerate(values or []))


def _maybe_id(value: Maybe[strawberry.ID | None], kind: str, field: str) -> Maybe[UUID | None]:
    return UNSET if value is UNSET else _id(value, kind, field)


def _maybe_ids(
    values: Maybe[list[strawberry.ID] | None], kind: str, field: str
) -> Maybe[tuple[UUID, ...]]:
    return UNSET if values is UNSET else _ids(values, kind, field)


@strawberry.input
class CreateInitiativeInput:
    workspace_id: strawberry.ID
    title: str
    description: str | None = None
    status: InitiativeStatus = Status.IDEA
    owner_id: strawberry.ID | None = None
    department: str | None = None
    impact: int = 3
    effort: int = 3
    confidence: float = 0.5
    reach: int = 0
    touchpoint_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    pain_point_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    target_metric_id: strawberry.ID | None = None
    baseline: float | None = None
    target: float | None = None
    shipped_at: datetime | None = strawberry.field(
        default=None, description="For a SHIPPED or DONE one; default: now."
    )

    def to_command(self) -> CreateInitiative:
        return CreateInitiative(
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspace_id"),
            title=self.title,
            description=self.description,
            status=self.status,
            department=self.department,
            impact=self.impact,
            effort=self.effort,
            confidence=self.confidence,
            reach=self.reach,
            baseline=self.baseline,
            target=self.target,
            shipped_at=self.shipped_at,
            owner_id=_id(self.owner_id, "User", "owner_id"),
            target_metric_id=_id(self.target_metric_id, "Metric", "target_metric_id"),
            touchpoint_ids=_ids(self.touchpoint_ids, "Touchpoint", "touchpoint_ids"),
            pain_point_ids=_ids(self.pain_point_ids, "PainPoint", "pain_point_ids"),
        )


@strawberry.input(description="Send only what changes; status moves along allowed transitions.")
class UpdateInitiativeInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: InitiativeStatus | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    department: str | None = strawberry.UNSET
    impact: int | None = strawberry.UNSET
    effort: int | None = strawberry.UNSET
    confidence: float | None = strawberry.UNSET
    reach: int | None = strawberry.UNSET
    touchpoint_ids: list[strawberry.ID] | None = strawberry.UNSET
    pain_point_ids: list[strawberry.ID] | None = strawberry.UNSET
    target_metric_id: strawberry.ID | None = strawberry.UNSET
    baseline: float | None = strawberry.UNSET
    target: float | None = strawberry.UNSET
    shipped_at: datetime | None = strawberry.UNSET

    def to_command(self) -> UpdateInitiative:
        # Keyword order is check order: the fields first, then the ids, as before.
        return UpdateInitiative(
            initiative_id=parse_id(self.id, "Initiative", field="id"),
            title=sent(self.title, "title"),
            description=sent_or_null(self.description),
            status=sent(self.status, "status"),
            department=sent_or_null(self.department),
            impact=sent(self.impact, "impact"),
            effort=sent(self.effort, "effort"),
            confidence=sent(self.confidence, "confidence"),
            reach=sent(self.reach, "reach"),
            baseline=sent_or_null(self.baseline),
            target=sent_or_null(self.target),
            shipped_at=sent_or_null(self.shipped_at),
            owner_id=_maybe_id(sent_or_null(self.owner_id), "User", "owner_id"),
            target_metric_id=_maybe_id(
                sent_or_null(self.target_metric_id), "Metric", "target_metric_id"
            ),
            touchpoint_ids=_maybe_ids(
                sent_or_null(self.touchpoint_ids), "Touchpoint", "touchpoint_ids"
            ),
            pain_point_ids=_maybe_ids(
                sent_or_null(self.pain_point_ids), "PainPoint", "pain_point_ids"
            ),
        )


@strawberry.input
class DeleteInitiativeInput:
    id: strawberry.ID


@strawberry.type
class InitiativePayload:
    initiative: InitiativeType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteInitiativePayload:
    deleted_initiative_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class InitiativeMutations:
    @mutation(EDITOR, "Start an initiative; its RICE priority is computed.")
    async def create_initiative(
        self, info: Info, input: CreateInitiativeInput
    ) -> InitiativePayload:
        async def action(session: AsyncSession) -> InitiativePayload:
            found = await service.create_initiative(
                session, info.context.access, input.to_command()
            )
            return InitiativePayload(initiative=InitiativeType.from_model(found))

        return await run_mutation(info, InitiativePayload, action)

    @mutation(
        EDITOR,
        "Change an initiative. A status outside its allowed transitions is a VALIDATION "
        "error; SHIPPED stamps shippedAt (or takes the one given).",
    )
    async def update_initiative(
        self, info: Info, input: UpdateInitiativeInput
    ) -> InitiativePayload:
        async def action(session: AsyncSession) -> InitiativePayload:
            found = await service.update_initiative(
                session, info.context.access, input.to_command()
            )
            return InitiativePayload(initiative=InitiativeType.from_model(found))

        return await run_mutation(info, InitiativePayload, action)

    @mutation(EDITOR, "Delete an initiative.")
    async def delete_initiative(
        self, info: Info, input: DeleteInitiativeInput
    ) -> DeleteInitiativePayload:
        async def action(session: AsyncSession) -> DeleteInitiativePayload:
            initiative_id = parse_id(input.id, "Initiative", field="id")
            await service.delete_initiative(session, info.context.access, initiative_id)
            return DeleteInitiativePayload(deleted_initiative_id=input.id)

        return await run_mutation(info, DeleteInitiativePayload, action)
