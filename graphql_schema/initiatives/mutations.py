"""Mutations: createInitiative, updateInitiative, deleteInitiative."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.initiatives import service
from backend.vocabulary.initiatives import InitiativeStatus as Status
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.initiatives.types import InitiativeStatus, InitiativeType
from graphql_schema.input_fields import given
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import EDITOR, mutation
from graphql_schema.relay import parse_id

_PLAIN = (
    "title",
    "description",
    "status",
    "department",
    "impact",
    "effort",
    "confidence",
    "reach",
    "baseline",
    "target",
    "shipped_at",
)
_REQUIRED = ("title", "status", "impact", "effort", "confidence", "reach")


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


def _values(input: CreateInitiativeInput | UpdateInitiativeInput) -> dict[str, Any]:
    values = given(input, _PLAIN, required=_REQUIRED)
    ids: dict[str, tuple[str, str]] = {
        "owner_id": ("User", "ownerId"),
        "target_metric_id": ("Metric", "targetMetricId"),
    }
    for name, (kind, field) in ids.items():
        value = getattr(input, name, strawberry.UNSET)
        if value is not strawberry.UNSET:
            values[name] = parse_id(value, kind, field=field) if value else None
    lists = {
        "touchpoint_ids": ("Touchpoint", "touchpointIds"),
        "pain_point_ids": ("PainPoint", "painPointIds"),
    }
    for name, (kind, field) in lists.items():
        value = getattr(input, name, strawberry.UNSET)
        if value is not strawberry.UNSET:
            values[name] = [
                parse_id(i, kind, field=f"{field}[{n}]") for n, i in enumerate(value or [])
            ]
    return values


@strawberry.type
class InitiativeMutations:
    @mutation(EDITOR, "Start an initiative; its RICE priority is computed.")
    async def create_initiative(
        self, info: Info, input: CreateInitiativeInput
    ) -> InitiativePayload:
        async def action(session: AsyncSession) -> InitiativePayload:
            workspace_id = parse_id(input.workspace_id, "Workspace", field="workspaceId")
            found = await service.create_initiative(
                session, info.context.access, workspace_id, _values(input)
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
            initiative_id = parse_id(input.id, "Initiative", field="id")
            found = await service.update_initiative(
                session, info.context.access, initiative_id, _values(input)
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
