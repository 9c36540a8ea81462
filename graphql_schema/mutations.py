"""The one way a mutation runs: its own transaction, domain errors as UserErrors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.recorder import bind_actor, recorded_count
from backend.errors import Conflict, DomainError, InvalidInput
from graphql_schema.context import Info
from graphql_schema.errors import UserError


class Payload(Protocol):
    def __init__(self, *, errors: list[UserError]) -> None: ...


P = TypeVar("P", bound=Payload)


async def run_mutation(
    info: Info, payload: type[P], action: Callable[[AsyncSession], Awaitable[P]]
) -> P:
    """Run ``action`` in a write transaction: committed if it returns, rolled back if it raises.

    The action builds the success payload and must record exactly one audit
    event (it goes into the same transaction). A DomainError becomes
    ``payload(errors=[…])`` and leaves nothing written; any other exception
    propagates and is masked as INTERNAL.
    """
    try:
        async with info.context.write() as session:
            bind_actor(session, info.context.actor)
            result = await action(session)
            if (count := recorded_count(session)) != 1:
                # A bug, not a user error: refuse to commit an unaudited change.
                raise RuntimeError(f"{info.field_name} recorded {count} audit events, not 1")
            return result
    except DomainError as error:
        # A payload may answer a conflict with the object as it is now (CarriesCurrentMap).
        after_conflict = getattr(payload, "after_conflict", None)
        if isinstance(error, Conflict) and after_conflict is not None:
            answered: P | None = await after_conflict(info, error)
            if answered is not None:
                return answered
        failures = error.failures if isinstance(error, InvalidInput) else [error]
        return payload(errors=[UserError.from_domain(failure) for failure in failures])
