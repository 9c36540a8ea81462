"""Initiatives' field on Workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import strawberry

from backend.db.pagination import PageRequest
from backend.initiatives.service import initiatives_page
from backend.vocabulary.initiatives import InitiativeOrder as InitiativeOrderEnum
from graphql_schema.context import Info
from graphql_schema.initiatives.types import InitiativeOrder, InitiativeStatus, InitiativeType
from graphql_schema.relay import Connection

if TYPE_CHECKING:
    from graphql_schema.tenancy.types import WorkspaceType


@strawberry.field(description="Initiatives; by RICE priority unless asked otherwise.")
async def initiatives(
    root: WorkspaceType,
    info: Info,
    status: InitiativeStatus | None = None,
    order_by: InitiativeOrder = InitiativeOrderEnum.PRIORITY,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[InitiativeType]:
    async with info.context.read() as session:
        page = await initiatives_page(
            session,
            UUID(root.id),
            status=status,
            order=order_by,
            page=PageRequest(first, after, last, before),
        )
    return Connection.from_page(page, InitiativeType.from_model)
