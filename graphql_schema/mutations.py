"""The one way a mutation runs: its own transaction, domain errors as UserErrors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import DomainError
from graphql_schema.context import Info
from graphql_schema.errors import UserError

T = TypeVar("T")


async def run_mutation(
    info: Info, action: Callable[[AsyncSession], Awaitable[T]]
) -> T | list[UserError]:
    """Run ``action`` in a write transaction: committed if it returns, rolled back if it raises.

    A DomainError becomes a list of UserErrors for the payload and leaves nothing
    written; any other exception propagates and is masked as INTERNAL.
    """
    try:
        async with info.context.write() as session:
            return await action(session)
    except DomainError as error:
        return [UserError.from_domain(error)]
