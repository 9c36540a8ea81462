"""Errors listed in the order of their places, not in the order they happened.

graphql-core appends a field's error when the field fails, so with fields running
concurrently the list's order depends on which database read came back first, and
two requests for the same document could list the same errors differently. Sorted by
where each error sits in the document, then by its path (list indexes as numbers), the
answer is the same whatever ran first, whichever executor ran it.
"""

from __future__ import annotations

from typing import Any

from graphql import ExecutionResult, GraphQLError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


def _place(error: GraphQLError) -> tuple[Any, ...]:
    location = error.locations[0] if error.locations else None
    where = (location.line, location.column) if location else (0, 0)
    path = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in error.path or ())
    return (where, path)


class OrderedErrors(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, its errors sorted by their places (see the module's doc)."""

    def build_response(self, data: dict[str, Any] | None) -> Any:
        result = super().build_response(data)
        if isinstance(result, ExecutionResult) and result.errors and len(result.errors) > 1:
            result.errors = sorted(result.errors, key=_place)
        return result
