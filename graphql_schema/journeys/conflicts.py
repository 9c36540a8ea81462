"""A change refused for a stale ``expectedVersion`` answers with the map as it is now."""

from __future__ import annotations

from typing import Any, Self

from backend.errors import Conflict
from backend.journeys.versioning import StaleVersion
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.journeys.types import JourneyMapType


class CarriesCurrentMap:
    """For payloads with a ``journey_map``: on CONFLICT it holds the current map (its
    version is the one to send next), read as the caller reads it."""

    @classmethod
    async def after_conflict(cls, info: Info, error: Conflict) -> Self | None:
        if not isinstance(error, StaleVersion):
            return None
        # The version is checked after the role: whoever gets it may see the map.
        current = await info.context.loaders.journeys.journey_map_by_id.load(error.journey_map_id)
        if current is None:
            return None
        fields: dict[str, Any] = {
            "journey_map": JourneyMapType.from_model(current),
            "errors": [UserError.from_domain(error)],
        }
        return cls(**fields)
