"""Limits on a batch as a whole: together, its operations may ask what one document may.

Each operation of a batch is measured on its own by ``QueryLimitsExtension``; without
this, ten operations each just under the cost limit would ask ten times the limit.
The estimated costs and the aliases of the batch's operations are summed and checked
against the single-document limits before any of them runs (depth stays a measure of
each operation, and each document keeps its own token cap). A batch over a limit gets,
for every operation, the same QUERY_TOO_COMPLEX error (limit ``batch_cost`` or
``batch_aliases``). An operation that does not parse adds nothing: it is refused on
its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import graphql
from graphql import GraphQLError

from graphql_schema.limits import ERROR_CODE, QueryLimits, analyze_operation


@dataclass(frozen=True)
class BatchItem:
    query: str | None
    operation_name: str | None
    variables: Mapping[str, Any] | None


def check_batch(
    schema: graphql.GraphQLSchema, items: Sequence[BatchItem], limits: QueryLimits
) -> list[GraphQLError]:
    """One error per limit the batch's operations exceed together; ``[]`` within them."""
    cost = aliases = 0
    for item in items:
        if not item.query:
            continue
        try:
            document = graphql.parse(item.query, no_location=True, max_tokens=limits.max_tokens)
        except GraphQLError:
            continue
        shape, _ = analyze_operation(schema, document, item.operation_name, item.variables, limits)
        cost += shape.cost
        aliases += shape.aliases
    errors = []
    if cost > limits.max_cost:
        errors.append(_error("estimated cost", "batch_cost", limits.max_cost, cost))
    if aliases > limits.max_aliases:
        errors.append(_error("alias count", "batch_aliases", limits.max_aliases, aliases))
    return errors


def _error(measure: str, limit: str, maximum: int, actual: int) -> GraphQLError:
    return GraphQLError(
        f"The batch's total {measure} {actual} exceeds the limit of {maximum}.",
        extensions={"code": ERROR_CODE, "limit": limit, "max": maximum, "actual": actual},
    )
