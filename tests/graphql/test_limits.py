"""Tests for graphql_schema.limits: query limits enforced before validation and execution."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import graphql
import pytest
import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import ExecutionResult

import graphql_schema.limits as limits_module
from graphql_schema.limits import (
    QueryLimits,
    QueryLimitsExtension,
    QueryShape,
    analyze_operation,
    check_limits,
)

# --------------------------------------------------------------------------- test schema


class Calls:
    """How many resolvers ran: must stay 0 when a query is refused."""

    count = 0


def _bump() -> None:
    Calls.count += 1


@strawberry.type
class Item:
    id: strawberry.ID
    name: str

    @strawberry.field
    def parent(self) -> Item | None:
        _bump()
        return Item(id=strawberry.ID(f"{self.id}-p"), name="parent")

    @strawberry.field
    def children(self, first: int | None = None) -> ItemConnection:
        _bump()
        return _connection(first, prefix=f"{self.id}-")


@strawberry.type
class ItemEdge:
    node: Item


@strawberry.type
class ItemConnection:
    edges: list[ItemEdge]
    total_count: int


def _connection(first: int | None, prefix: str = "") -> ItemConnection:
    # Returns at most 2 items whatever `first` asks for, to keep executions small.
    size = min(first if first is not None else 20, 2)
    return ItemConnection(
        edges=[
            ItemEdge(node=Item(id=strawberry.ID(f"{prefix}{i}"), name=f"n{i}")) for i in range(size)
        ],
        total_count=size,
    )


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int | None = None) -> ItemConnection:
        _bump()
        return _connection(first)

    @strawberry.field
    def tags(self) -> list[str]:
        _bump()
        return ["a", "b"]

    @strawberry.field
    def all_items(self) -> list[Item]:
        _bump()
        return [Item(id=strawberry.ID("1"), name="one")]

    @strawberry.field
    def item(self) -> Item:
        _bump()
        return Item(id=strawberry.ID("1"), name="one")


@strawberry.type
class Mutation:
    @strawberry.mutation
    def add_item(self, name: str) -> Item:
        _bump()
        return Item(id=strawberry.ID("new"), name=name)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def item_added(self, first: int | None = None) -> AsyncGenerator[Item, None]:
        _bump()
        yield Item(id=strawberry.ID("sub"), name="sub")


DEFAULTS = QueryLimits()


def make_schema(
    limits: QueryLimits = DEFAULTS,
    *,
    before: tuple[Callable[[], Any], ...] = (),
    after: tuple[Callable[[], Any], ...] = (),
) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[*before, lambda: QueryLimitsExtension(limits), *after],
    )


SCHEMA = make_schema()
GRAPHQL_SCHEMA = SCHEMA._schema


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    Calls.count = 0


def shape(query: str, variables: dict[str, Any] | None = None) -> QueryShape:
    result, _ = analyze_operation(GRAPHQL_SCHEMA, graphql.parse(query), None, variables, DEFAULTS)
    return result


def assert_refused(result: ExecutionResult, limit: str) -> graphql.GraphQLError:
    """The result is a refusal for `limit`, and no resolver ran."""
    assert result.data is None
    assert result.errors, "expected errors"
    matching = [
        e
        for e in result.errors
        if e.extensions
        and e.extensions.get("code") == "QUERY_TOO_COMPLEX"
        and e.extensions.get("limit") == limit
    ]
    assert matching, [(e.message, e.extensions) for e in result.errors]
    assert Calls.count == 0
    return matching[0]


def assert_ran(result: ExecutionResult) -> None:
    assert result.errors is None, [e.message for e in result.errors or []]
    assert result.data is not None
    assert Calls.count > 0


def parents(count: int) -> str:
    """A query of depth `count + 2`: item, `count` nested parents, id. Cost == depth."""
    return "{ item { " + "parent { " * count + "id" + " }" * count + " } }"


# --------------------------------------------------------------------------- depth


async def test_depth_just_under_limit_runs() -> None:
    query = parents(10)
    assert shape(query) == QueryShape(depth=12, aliases=0, cost=12)
    assert_ran(await SCHEMA.execute(query))


async def test_depth_over_limit_is_refused() -> None:
    query = parents(11)
    error = assert_refused(await SCHEMA.execute(query), "depth")
    assert error.message == "Query depth 13 exceeds the limit of 12."
    assert error.extensions == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "depth",
        "max": 12,
        "actual": 13,
    }
    # Located at the deepest field (the `id`).
    assert error.locations is not None
    assert error.locations[0].column == query.index("id") + 1


async def test_depth_counts_through_fragments_and_inline_fragments() -> None:
    query = (
        "{ item { ...P } } "
        "fragment P on Item { parent { ... on Item { parent { ...Q } } } } "
        "fragment Q on Item { parent { " + "parent { " * 8 + "id" + " }" * 8 + " } }"
    )
    assert shape(query).depth == 13
    assert_refused(await SCHEMA.execute(query), "depth")


# --------------------------------------------------------------------------- aliases

# F has 5 aliases; G spreads F three times (15); the operation spreads G twice (30).
ALIAS_FRAGMENTS = (
    "fragment F on Item { a: id b: name c: id d: name e: id } "
    "fragment G on Query { item { ...F ...F ...F } } "
)


async def test_aliases_in_nested_fragments_just_under_limit_run() -> None:
    query = "{ ...G ...G } " + ALIAS_FRAGMENTS
    assert shape(query).aliases == 30
    assert_ran(await SCHEMA.execute(query))


async def test_aliases_in_nested_fragments_over_limit_are_refused() -> None:
    query = "{ ...G ...G extra: item { id } } " + ALIAS_FRAGMENTS
    assert shape(query).aliases == 31
    error = assert_refused(await SCHEMA.execute(query), "aliases")
    assert error.extensions is not None
    assert error.extensions["actual"] == 31
    assert error.extensions["max"] == 30


async def test_plain_aliases_over_limit_are_refused() -> None:
    query = "{ " + " ".join(f"a{i}: item {{ id }}" for i in range(31)) + " }"
    assert_refused(await SCHEMA.execute(query), "aliases")


async def test_aliases_in_mutation_are_refused_without_running() -> None:
    query = "mutation { " + " ".join(f'a{i}: addItem(name: "x") {{ id }}' for i in range(31)) + " }"
    assert_refused(await SCHEMA.execute(query), "aliases")


# --------------------------------------------------------------------------- cost

NESTED_CONNECTIONS = (
    "query Q($n: Int) { items(first: $n) { edges { node { "
    "children(first: $n) { edges { node { id } } } } } } }"
)


def test_exact_costs() -> None:
    # children = 1 + 10 * (edges 1 + node 1 + id 1) = 31; items = 1 + 10 * (1 + 1 + 31)
    assert shape(
        "{ items(first: 10) { edges { node { children(first: 10) { edges { node { id } } } } } } }"
    ) == QueryShape(depth=7, aliases=0, cost=331)
    # The module docstring's example (`id` is unknown on a connection: cost 1, no type info)
    assert (
        shape("{ items(first: 10) { edges { node { children(first: 10) { id } } } } }").cost == 131
    )
    # a: connection without `first` -> 1 + 20 * 1; tags: a leaf list costs 1;
    # allItems: plain list without `first` -> 1 + 20 * (1 + 0 for __typename)
    assert shape("{ a: items { totalCount } tags allItems { id __typename } }") == QueryShape(
        depth=2, aliases=1, cost=43
    )
    # `first` from a variable's default, then from the variable's value
    query = "query Q($n: Int = 7) { items(first: $n) { edges { node { id } } } }"
    assert shape(query).cost == 1 + 7 * 3
    assert shape(query, {"n": 5}).cost == 1 + 5 * 3
    assert shape(query, {"n": None}).cost == 1 + 20 * 3  # explicit null: default page size
    # __typename is free; a list field inside a connection without `first` does not multiply
    assert shape("{ __typename items(first: 3) { edges { node { __typename } } } }").cost == 7


async def test_cost_with_literal_first_is_refused() -> None:
    query = (
        "{ items(first: 100) { edges { node { "
        "children(first: 100) { edges { node { id } } } } } } }"
    )
    assert shape(query).cost == 1 + 100 * (2 + 1 + 100 * 3)
    error = assert_refused(await SCHEMA.execute(query), "cost")
    assert error.extensions is not None
    assert error.extensions["actual"] == 30_301
    assert error.extensions["max"] == 20_000


async def test_cost_with_first_from_variable_just_under_limit_runs() -> None:
    assert shape(NESTED_CONNECTIONS, {"n": 81}).cost == 19_927
    assert_ran(await SCHEMA.execute(NESTED_CONNECTIONS, variable_values={"n": 81}))


async def test_cost_with_first_from_variable_over_limit_is_refused() -> None:
    assert shape(NESTED_CONNECTIONS, {"n": 82}).cost == 20_419
    error = assert_refused(
        await SCHEMA.execute(NESTED_CONNECTIONS, variable_values={"n": 82}), "cost"
    )
    assert error.extensions is not None
    assert error.extensions["actual"] == 20_419


async def test_cost_of_default_page_sizes_is_refused() -> None:
    # No `first` anywhere: 20 items, 20 children each, 20 grandchildren each.
    query = (
        "{ items { edges { node { children { edges { node { "
        "children { edges { node { id } } } } } } } } } }"
    )
    assert shape(query).cost > DEFAULTS.max_cost
    assert_refused(await SCHEMA.execute(query), "cost")


# An expensive field costs more on its own; "Type.field" is the type it is selected on.
EXPENSIVE = QueryLimits(max_cost=1_000, field_costs={"Item.parent": 100, "Query.tags": 600})


def test_an_expensive_field_has_its_own_cost_times_the_pages_above_it() -> None:
    def cost(query: str) -> int:
        return analyze_operation(GRAPHQL_SCHEMA, graphql.parse(query), None, None, EXPENSIVE)[
            0
        ].cost

    assert cost("{ tags }") == 600
    # item 1 + parent 100 + id 1; other fields keep their usual cost
    assert cost("{ item { parent { id } } }") == 102
    assert cost("{ item { name __typename } }") == 2
    # multiplied by the page sizes above it, as any field
    assert cost("{ items(first: 3) { edges { node { parent { id } } } } }") == 1 + 3 * (1 + 1 + 101)
    assert cost("{ allItems { parent { id } } }") == 1 + 20 * 101
    # through fragments, inline fragments and aliases alike
    assert (
        cost(
            "{ item { ...P ... on Item { p2: parent { id } } } } "
            "fragment P on Item { parent { id } }"
        )
        == 1 + 2 * 101
    )
    # without field_costs, every field costs 1 again
    assert shape("{ tags item { parent { id } } }").cost == 4


async def test_an_expensive_field_asked_too_often_is_refused_before_it_runs() -> None:
    schema = make_schema(EXPENSIVE)
    assert_ran(await schema.execute("{ tags }"))
    Calls.count = 0
    error = assert_refused(await schema.execute("{ tags again: tags }"), "cost")
    assert error.extensions is not None
    assert error.extensions["actual"] == 1_200


# --------------------------------------------------------------------------- page size


async def test_page_size_at_limit_runs() -> None:
    assert_ran(await SCHEMA.execute("{ items(first: 100) { totalCount } }"))


@pytest.mark.parametrize(
    ("query", "variables", "actual"),
    [
        ("{ items(first: 101) { totalCount } }", None, 101),
        ("{ items(first: -1) { totalCount } }", None, -1),
        ("query Q($n: Int) { items(first: $n) { totalCount } }", {"n": 500}, 500),
        ("query Q($n: Int = 500) { items(first: $n) { totalCount } }", None, 500),
        ("query Q($n: Int) { items(first: $n) { totalCount } }", {"n": -5}, -5),
        ("{ item { children(first: 1000) { totalCount } } }", None, 1000),
    ],
)
async def test_page_size_out_of_range_is_refused(
    query: str, variables: dict[str, Any] | None, actual: int
) -> None:
    error = assert_refused(await SCHEMA.execute(query, variable_values=variables), "page_size")
    assert error.extensions is not None
    assert error.extensions["actual"] == actual
    assert error.extensions["max"] == 100
    # Located at the `first` argument.
    assert error.locations is not None
    assert error.locations[0].column == query.index("first") + 1


def test_page_size_error_in_fragment_spread_twice_is_reported_once() -> None:
    document = graphql.parse(
        "{ ...F ...F item { ...F } } fragment F on Query { items(first: 200) { totalCount } }"
    )
    _, errors = analyze_operation(GRAPHQL_SCHEMA, document, None, None, DEFAULTS)
    assert [e.extensions["limit"] for e in errors if e.extensions] == ["page_size"]


async def test_page_size_in_subscription_is_refused() -> None:
    stream = await SCHEMA.subscribe("subscription { itemAdded(first: 500) { id } }")
    results = [result async for result in stream]
    assert len(results) == 1
    assert_refused(results[0], "page_size")


async def test_subscription_within_limits_runs() -> None:
    stream = await SCHEMA.subscribe("subscription { itemAdded(first: 5) { id } }")
    results = [result async for result in stream]
    assert results
    assert_ran(results[0])


# --------------------------------------------------------------------------- tokens


async def test_tokens_over_limit_are_refused() -> None:
    query = "{ items(first: 1) { totalCount } " + "__typename " * 3000 + "}"
    error = assert_refused(await SCHEMA.execute(query), "tokens")
    assert "more than 3000 tokens" in error.message
    assert error.extensions is not None
    assert error.extensions["max"] == 3000


async def test_tokens_just_under_limit_run() -> None:
    schema = make_schema(QueryLimits(max_tokens=11))
    query = "{ items(first: 1) { totalCount } }"  # exactly 11 tokens
    assert graphql.parse(query).token_count == 11  # type: ignore[attr-defined]
    assert_ran(await schema.execute(query))
    Calls.count = 0
    assert_refused(await schema.execute("{ items(first: 1) { totalCount __typename } }"), "tokens")


@pytest.mark.parametrize("position", ["before", "after"])
async def test_tokens_tagged_when_another_extension_parses(position: str) -> None:
    # ParserCache parses inside its own on_parse hook: the error is raised out of the hook.
    limits = QueryLimits(max_tokens=11)
    if position == "before":
        schema = make_schema(limits, before=(ParserCache,))
    else:
        schema = make_schema(limits, after=(ParserCache,))
    assert_refused(await schema.execute("{ items(first: 1) { totalCount __typename } }"), "tokens")


# --------------------------------------------------------------------------- robustness


async def test_graphiql_introspection_passes_with_default_limits() -> None:
    query = graphql.get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    assert check_limits(GRAPHQL_SCHEMA, graphql.parse(query), None, None, DEFAULTS) == []
    result = await SCHEMA.execute(query)
    assert result.errors is None
    assert result.data is not None
    assert result.data["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_subtree_not_counted_but_rest_is() -> None:
    query = '{ __type(name: "Item") { fields { type { ofType { ofType { name } } } } } ' + (
        parents(11)[1:-1] + " }"
    )
    assert shape(query).depth == 13
    assert_refused(await SCHEMA.execute(query), "depth")


async def test_fragment_cycle_gets_a_normal_validation_error() -> None:
    query = "{ ...A } fragment A on Query { item { id } ...B } fragment B on Query { tags ...A }"
    assert shape(query) == QueryShape(depth=2, aliases=0, cost=3)
    result = await SCHEMA.execute(query)
    assert result.data is None
    assert result.errors
    assert any("Cannot spread fragment 'A' within itself" in e.message for e in result.errors)
    assert Calls.count == 0


def fragment_bomb(levels: int, leaf: str) -> str:
    """Fragment i spreads fragment i + 1 twice: the leaf is repeated 2**levels times."""
    lines = ["query Bomb { ...F0 }"]
    lines += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    lines.append(f"fragment F{levels} on Query {{ {leaf} }}")
    return "\n".join(lines)


async def test_fragment_bomb_is_refused_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    """2**30 aliases in 30 fragments: measured in one pass over the document, each
    fragment once (counted, not timed: a count does not depend on the machine's load)."""
    query = fragment_bomb(30, "x: items { totalCount }")
    selections = query.count("...") + query.count("{") + 1
    entered = 0
    enter = limits_module._Analyzer._enter

    def counting(self: Any, frame: Any, selection: Any) -> Any:
        nonlocal entered
        entered += 1
        if entered > 100 * selections:  # exponential after all: stop before it runs away
            raise AssertionError(f"entered {entered} selections of a {selections}-node document")
        return enter(self, frame, selection)

    monkeypatch.setattr(limits_module._Analyzer, "_enter", counting)
    assert shape(query) == QueryShape(depth=2, aliases=2**30, cost=2**30 * 21)
    after_shape, entered = entered, 0
    result = await SCHEMA.execute(query)
    assert_refused(result, "aliases")
    assert_refused(result, "cost")
    assert after_shape <= selections
    assert entered <= selections


async def test_deep_fragment_chain_does_not_exhaust_recursion() -> None:
    count = 2000  # deeper than the interpreter's default recursion limit
    query = (
        "{ ...F0 } "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(count))
        + f" fragment F{count} on Query {{ item {{ id }} }}"
    )
    document = graphql.parse(query, max_tokens=None)
    result, errors = analyze_operation(GRAPHQL_SCHEMA, document, None, None, DEFAULTS)
    assert result == QueryShape(depth=2, aliases=0, cost=2)
    assert errors == []


def test_unknown_fields_types_and_fragments_are_tolerated() -> None:
    query = (
        "{ nope(first: 3) { deeper { id } } ...Missing ... on Nowhere { a { b } } ...U } "
        "fragment U on Unknown { x: y }"
    )
    # nope(1) + deeper(1) + id(1); a(1) + b(1); x(1): no type information, no multiplier
    assert shape(query) == QueryShape(depth=3, aliases=1, cost=6)


def test_operation_selection() -> None:
    document = graphql.parse("query Cheap { item { id } } " + "query Deep " + parents(11))
    cheap, _ = analyze_operation(GRAPHQL_SCHEMA, document, "Cheap", None, DEFAULTS)
    deep, _ = analyze_operation(GRAPHQL_SCHEMA, document, "Deep", None, DEFAULTS)
    missing, _ = analyze_operation(GRAPHQL_SCHEMA, document, "Nope", None, DEFAULTS)
    unnamed, _ = analyze_operation(GRAPHQL_SCHEMA, document, None, None, DEFAULTS)
    assert cheap.depth == 2
    assert deep.depth == 13
    assert missing == QueryShape(depth=0, aliases=0, cost=0)
    assert unnamed.depth == 13  # several operations, none chosen: the worst one counts


async def test_execute_by_operation_name() -> None:
    query = "query Cheap { item { id } } " + "query Deep " + parents(11)
    assert_refused(await SCHEMA.execute(query, operation_name="Deep"), "depth")
    assert_ran(await SCHEMA.execute(query, operation_name="Cheap"))


def test_check_limits_reports_each_violated_limit() -> None:
    # depth 14: x, edges, node, 10 parents, id; cost 8 * (1 + 500 * 13)
    leaf = "x: items(first: 500) { edges { node { " + "parent { " * 10 + "id" + " }" * 10 + " } } }"
    query = fragment_bomb(3, leaf)
    assert shape(query) == QueryShape(depth=14, aliases=8, cost=8 * (1 + 500 * 13))
    errors = check_limits(GRAPHQL_SCHEMA, graphql.parse(query), None, None, DEFAULTS)
    limits = [e.extensions["limit"] for e in errors if e.extensions]
    assert limits == ["depth", "cost", "page_size"]
    assert check_limits(GRAPHQL_SCHEMA, graphql.parse(parents(3)), None, None, DEFAULTS) == []


async def test_limits_apply_after_a_validation_cache() -> None:
    # ValidationCache stores [] for a valid document before the limits run.
    schema = make_schema(before=(ValidationCache,))
    assert_refused(await schema.execute(parents(11)), "depth")


def test_execute_sync_is_refused_too() -> None:
    result = SCHEMA.execute_sync(parents(11))
    assert_refused(result, "depth")
