"""Read documents drawn from the schema, for comparing the planned and ordinary executors.

test_fuzz's ``DocumentGenerator`` gives the argument values, variables and literals;
this one draws the selections: rooted at the reads that reach the planned relations
(``journeyMap``, ``node``, ``workspace``, ``viewer``), leaning towards the fields that
lead to a relation (graphql_schema.relations) within the depth left, with aliases,
fields repeated (merged), named and inline fragments (on interfaces too), ``__typename``
and ``@include``/``@skip`` with literal and variable conditions. Every document it
returns is valid and within the API's limits: a refused one would be answered alike
by both executors whatever they do.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLOutputType,
    get_named_type,
    is_leaf_type,
    is_required_argument,
    parse,
    validate,
)
from hypothesis import assume
from hypothesis import strategies as st

from graphql_schema.limits import check_limits
from graphql_schema.relations import RELATIONS
from graphql_schema.schema import API_FIELD_COSTS, API_LIMITS
from tests.graphql.test_fuzz import SCHEMA, Case, DocumentGenerator, EnumLiteral, Pool

# Never drawn: fields the cost limit prices high (one makes a document all but refused),
# and values that may change between a case's two requests (stamped once a minute).
EXCLUDED_FIELDS = frozenset(API_FIELD_COSTS) | {"ApiToken.lastUsedAt", "IngestionToken.lastUsedAt"}
# Optional arguments are left out but for page sizes, orders and the filters Postgres can
# write (graphql_schema.json_fields); required ones are filled only here.
FILLED_ARGUMENTS = frozenset({"id", "first", "orderBy", "status", "scenario", "source"})
ROOT_DEPTHS = {"journeyMap": 6, "node": 6, "workspace": 8, "viewer": 10}


@dataclass(frozen=True)
class OneOf:
    """A choice among ``options``; shrinking prefers the first."""

    options: Sequence[Any]


@dataclass(frozen=True)
class Between:
    low: int
    high: int


Draw = Callable[[OneOf | Between], Any]


def hypothesis_draws(draw: Any) -> Draw:
    """Choices made by hypothesis (a ``st.composite`` draw), so that it can shrink them."""

    def choose(choice: OneOf | Between) -> Any:
        if isinstance(choice, OneOf):
            return draw(st.sampled_from(choice.options))
        return draw(st.integers(choice.low, choice.high))

    return choose


def random_draws(rng: random.Random) -> Draw:
    """Choices made by a seeded generator: a fixed corpus, fast to make."""

    def choose(choice: OneOf | Between) -> Any:
        if isinstance(choice, OneOf):
            return rng.choice(choice.options)
        return rng.randint(choice.low, choice.high)

    return choose


# A page size: mostly small, sometimes null (the default page).
PAGE_SIZES = OneOf([1, 2, 3, 0, None])
# Relation fields are drawn most, then fields on the way to one (the nearer, the more;
# plain ones more, as a resolver below a relation makes it unplannable), then leaves.
RELATION_WEIGHT, LEAF_WEIGHT, OTHER_WEIGHT = 10, 2, 1
LEADING = 3  # the least weight of a field a selection mostly starts with
MAX_FIELDS = 40
# Drawn rarely: on the way to a relation only through initiatives, which the world has
# none of, and many statements to resolve.
DETOURS = frozenset({"HealthScore.explanation"})


@dataclass(frozen=True)
class RootIds:
    """Global ids for each root field's ``id``, the caller's own first (shrinking prefers
    them); the rest are other tenants' objects, ids of another type and garbage."""

    journey_map: list[str]
    node: list[str]
    workspace: list[str]


def _usable(type_name: str, name: str, definition: Any) -> bool:
    if f"{type_name}.{name}" in EXCLUDED_FIELDS:
        return False
    required = {a for a, arg in definition.args.items() if is_required_argument(arg)}
    return required <= FILLED_ARGUMENTS


def _composite_types() -> dict[str, GraphQLObjectType | GraphQLInterfaceType]:
    return {
        name: type_
        for name, type_ in SCHEMA.type_map.items()
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
        and not name.startswith("__")
        and name not in ("Query", "Mutation", "Subscription")
    }


def _steps_to_a_relation() -> dict[str, int]:
    """For each type, the fewest fields to select from it to reach a relation field."""
    types = _composite_types()
    steps = {name for name, _ in RELATIONS}
    distance = dict.fromkeys(steps, 0)
    changed = True
    while changed:
        changed = False
        for name, type_ in types.items():
            reachable = [
                distance[get_named_type(f.type).name] + 1
                for field_name, f in type_.fields.items()
                if _usable(name, field_name, f)
                and f"{name}.{field_name}" not in DETOURS
                and get_named_type(f.type).name in distance
            ]
            if isinstance(type_, GraphQLInterfaceType):  # an inline fragment adds no depth
                reachable += [
                    distance[t.name] for t in SCHEMA.get_possible_types(type_) if t.name in distance
                ]
            if reachable and min(reachable) < distance.get(name, 1 << 30):
                distance[name] = min(reachable)
                changed = True
    return distance


STEPS_TO_A_RELATION = _steps_to_a_relation()


class PlannedReadGenerator(DocumentGenerator):
    """Draws through ``Draw`` (hypothesis or a seeded ``random.Random``), never through
    hypothesis strategies: DocumentGenerator's own ``draw`` is only reached through
    ``chance`` (overridden) and ``focus`` (``OneOf`` values, never hostile)."""

    def __init__(
        self, draw: Draw, pool: Pool, ids: RootIds, *, null_conditions: bool = False
    ) -> None:
        super().__init__(draw, pool, hostile=False, variables=True)
        self.ids = ids
        # Whether a defaulted condition variable may be sent as null (an error where it is
        # used): off, as the planned executor answers it differently (see
        # test_planned_differential's known divergences).
        self.null_conditions = null_conditions
        self.counter = count()
        self.fragments: list[str] = []
        self.fragments_on: dict[str, list[tuple[str, int]]] = {}  # type -> (name, depth)
        # One argument text per unaliased field, so that repeated fields merge.
        self.arguments_of: dict[tuple[str, str], str] = {}
        # Fields left to draw: beyond, a selection is a single leaf (small documents are
        # quick to parse, validate and run, twice per case).
        self.fields_left = MAX_FIELDS

    def chance(self, probability: float) -> bool:
        # As DocumentGenerator's, but false for the smallest draw: a shrunk document has
        # none of the extras.
        return bool(self.draw(OneOf(range(100))) >= 100 - probability * 100)

    def pick(self, options: Sequence[Any]) -> Any:
        return self.draw(OneOf(options))

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def argument(self, name: str, argument: GraphQLArgument) -> str:
        # An enum (an order, a filter): one of its values, drawn here as everything is.
        named = get_named_type(argument.type)
        if isinstance(named, GraphQLEnumType):
            self.focus[name] = OneOf([EnumLiteral(v) for v in named.values])  # type: ignore[assignment]
        return super().argument(name, argument)

    # Directives ---------------------------------------------------------------------

    def condition(self) -> str:
        """A literal ``if`` or a variable, declared non-null or defaulted (sent or not)."""
        if self.chance(0.5):
            return self.pick(["true", "false"])
        variable = self.fresh("b")
        kind = self.pick(["required", "defaulted", "defaulted, sent"])
        if kind == "required":
            self.variable_definitions.append(f"${variable}: Boolean!")
            self.variables[variable] = self.pick([True, False])
        else:
            default = self.pick([True, False])
            self.variable_definitions.append(f"${variable}: Boolean = {str(default).lower()}")
            if kind == "defaulted, sent":
                # null is allowed for a defaulted variable, and an error where it is used.
                sent = [True, False, None] if self.null_conditions else [True, False]
                self.variables[variable] = self.pick(sent)
        return f"${variable}"

    def directives(self) -> str:
        if not self.chance(0.15):
            return ""
        name = self.pick(["include", "skip"])
        return f" @{name}(if: {self.condition()})"

    # Fields -------------------------------------------------------------------------

    def weight(self, parent: str, name: str, definition: Any, depth: int) -> int:
        named = get_named_type(definition.type)
        if (parent, name) in RELATIONS:
            return RELATION_WEIGHT
        if f"{parent}.{name}" in DETOURS:
            return OTHER_WEIGHT
        if is_leaf_type(named):
            return LEAF_WEIGHT
        steps = STEPS_TO_A_RELATION.get(named.name, 1 << 30)
        if steps >= depth:
            return OTHER_WEIGHT
        strawberry_field = definition.extensions.get("strawberry-definition")
        plain = strawberry_field is not None and strawberry_field.base_resolver is None
        return max(OTHER_WEIGHT, 7 - 2 * steps + (2 if plain else 0))

    def pick_fields(self, type_: GraphQLObjectType | GraphQLInterfaceType, depth: int) -> list[str]:
        candidates = {
            name: self.weight(type_.name, name, f, depth)
            for name, f in sorted(type_.fields.items())
            if _usable(type_.name, name, f) and (depth > 0 or is_leaf_type(get_named_type(f.type)))
        }
        if self.fields_left <= 0:
            leaves = [n for n in candidates if is_leaf_type(get_named_type(type_.fields[n].type))]
            candidates = dict.fromkeys(leaves[:1], 1)
        chosen: list[str] = []
        leading = {n: w for n, w in candidates.items() if w >= LEADING}
        if leading and self.chance(0.75):  # mostly, somewhere a relation is
            chosen.append(self.pick([n for n, w in leading.items() for _ in range(w)]))
            del candidates[chosen[0]]
        for _ in range(self.pick([1, 2, 1, 2, 3]) - len(chosen)):  # a few: wide and deep is too big
            if not candidates:
                break
            weighted = [name for name, weight in candidates.items() for _ in range(weight)]
            name = self.pick(weighted)
            chosen.append(name)
            del candidates[name]
        self.fields_left -= len(chosen)
        return chosen

    def arguments_for(self, parent: str, name: str, definition: Any, aliased: bool) -> str:
        filled = {a: arg for a, arg in definition.args.items() if a in FILLED_ARGUMENTS}
        if aliased:
            return self.arguments(filled)
        key = (parent, name)
        if key not in self.arguments_of:
            self.arguments_of[key] = self.arguments(filled)
        return self.arguments_of[key]

    def field(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        name: str,
        depth: int,
        alias: str | None = None,
    ) -> str:
        definition = parent.fields[name]
        if alias is None and self.chance(0.12):
            alias = self.fresh("a")
        head = (alias + ": " if alias else "") + name
        head += self.arguments_for(parent.name, name, definition, alias is not None)
        copies = 2 if self.chance(0.1) else 1  # the same key twice: graphql-core merges them
        return " ".join(self.one_field(head, definition.type, depth) for _ in range(copies))

    def one_field(self, head: str, type_: GraphQLOutputType, depth: int) -> str:
        text = head + self.directives()
        if is_leaf_type(get_named_type(type_)):
            return text
        return f"{text} {self.selection_set(type_, depth - 1)}"

    # Selections ---------------------------------------------------------------------

    def selection_set(self, type_: GraphQLOutputType, depth: int) -> str:
        named = get_named_type(type_)
        assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
        selections = [self.field(named, name, depth) for name in self.pick_fields(named, depth)]
        if self.chance(0.1):
            selections.append("__typename")
        if isinstance(named, GraphQLInterfaceType):
            selections += self.implementations(named, depth)
        elif named.interfaces and self.chance(0.1):
            interface = self.pick([i.name for i in named.interfaces])
            selections.append(f"... on {interface}{self.directives()} {{ id }}")
        if self.chance(0.1):
            condition = self.pick(["", f" on {named.name}"])
            body = self.selection_set(named, depth)
            selections.append(f"...{condition}{self.directives()} {body}")
        if self.chance(0.15):
            selections.append(self.fragment_spread(named, depth))
        return "{ " + " ".join(selections or ["__typename"]) + " }"

    def implementations(self, interface: GraphQLInterfaceType, depth: int) -> list[str]:
        """Inline fragments, mostly on the types with relations (the ids asked for are
        mostly theirs), now and then on another."""
        possible = sorted(t.name for t in SCHEMA.get_possible_types(interface))
        near = [n for n in possible if STEPS_TO_A_RELATION.get(n) == 0]
        chosen = [n for n in near if self.chance(0.7)]
        if self.chance(0.2):
            chosen.append(self.pick([n for n in possible if n not in near]))
        fragments = []
        for name in chosen:
            implementation = SCHEMA.get_type(name)
            assert isinstance(implementation, GraphQLObjectType)
            body = self.selection_set(implementation, depth)
            fragments.append(f"... on {name}{self.directives()} {body}")
        return fragments

    def fragment_spread(self, type_: GraphQLObjectType | GraphQLInterfaceType, depth: int) -> str:
        """A named fragment on the type (or on an interface of it): one defined before
        (not deeper than here), or a new one."""
        on = [type_.name, *(i.name for i in getattr(type_, "interfaces", ()))]
        known = [name for t in on for name, d in self.fragments_on.get(t, []) if d <= depth]
        if known and self.chance(0.5):
            return f"...{self.pick(known)}{self.directives()}"
        condition = self.pick(on)
        condition_type = SCHEMA.get_type(condition)
        assert isinstance(condition_type, GraphQLObjectType | GraphQLInterfaceType)
        name = self.fresh("F")
        body = self.selection_set(condition_type, depth)
        self.fragments.append(f"fragment {name} on {condition} {body}")
        self.fragments_on.setdefault(condition, []).append((name, depth))
        return f"...{name}{self.directives()}"

    # Documents ----------------------------------------------------------------------

    def root(self, index: int) -> str:
        query = SCHEMA.query_type
        assert query is not None
        name = self.pick(["journeyMap", "node", "journeyMap", "node", "workspace", "viewer"])
        ids = {
            "journeyMap": self.ids.journey_map,
            "node": self.ids.node,
            "workspace": self.ids.workspace,
        }
        self.focus = {"first": PAGE_SIZES}  # type: ignore[dict-item]
        if name in ids:
            self.focus["id"] = OneOf(ids[name])  # type: ignore[assignment]
        alias = f"r{index}" if index else None  # several roots may ask for several ids
        return self.field(query, name, ROOT_DEPTHS[name], alias=alias)

    def read(self) -> Case:
        body = " ".join(self.root(i) for i in range(self.draw(Between(1, 3))))
        case = self.case("query", body)
        case.document = " ".join([case.document, *self.fragments])
        return case


def problems(case: Case) -> list[GraphQLError]:
    """Why the API would refuse the document before executing it, if it would."""
    try:
        document = parse(case.document, max_tokens=API_LIMITS.max_tokens)
    except GraphQLError as error:
        return [error]
    return validate(SCHEMA, document) or check_limits(
        SCHEMA, document, None, case.variables, API_LIMITS
    )


def planned_reads(
    pool: Pool, ids: RootIds, *, null_conditions: bool = False
) -> st.SearchStrategy[Case]:
    """Documents for ``@given``: hypothesis shrinks a failing one."""

    @st.composite
    def draw_read(draw: Any) -> Case:
        draws = hypothesis_draws(draw)
        case = PlannedReadGenerator(draws, pool, ids, null_conditions=null_conditions).read()
        assume(not problems(case))
        return case

    return draw_read()


def corpus(pool: Pool, ids: RootIds, seed: int, size: int) -> list[Case]:
    """``size`` documents, the same for the same seed and world; the refused are redrawn."""
    rng = random.Random(seed)
    cases: list[Case] = []
    while len(cases) < size:
        case = PlannedReadGenerator(random_draws(rng), pool, ids).read()
        if not problems(case):
            cases.append(case)
    return cases
