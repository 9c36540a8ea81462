"""Cached map reads: a journey map's response, kept until the map or its scores change.

Reading a whole map resolves thousands of fields, and the answer stays the same
until the map's version moves (any change to it or anything inside it) or a health
pass rewrites its workspace's scores. So a document whose every field is settled by
those two numbers is answered from memory after one small transaction: the caller's
token checked, their grants read and the map's stamp read and checked against those
grants (``read_as_caller``); a caller who cannot see the map gets no stamp and goes
the ordinary way (to a null). Concurrent misses of one read wait for the first.
Fields that depend on anything else (the clock, personas, users, feedback,
explanations) make a document uncacheable; a test checks the allowlist below against
the schema, so a new argument or a renamed field cannot slip past it.

The cache is per process and bounded in bytes; it holds encoded JSON, which the
response embeds as is (``orjson.Fragment``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    parse,
)

from backend.journeys.repository import read_stamp
from graphql_schema.authentication import KnownTokens, read_as_caller
from graphql_schema.context import Context
from graphql_schema.relay import decode_global_id

ROOT_FIELD = "journeyMap"
ROOT_TYPE = "JourneyMap"

_HEALTH = "HealthScore"
# GraphQL type -> {field: the type of its selection, or None for a leaf}. Only
# fields that take no arguments and change only with the map's version or its
# workspace's health generation.
CACHEABLE: dict[str, dict[str, str | None]] = {
    "JourneyMap": {
        **dict.fromkeys(
            ("id", "title", "description", "objectives", "status", "scenario", "departments")
        ),
        **dict.fromkeys(("version", "createdAt", "updatedAt")),
        "stages": "Stage",
        "health": _HEALTH,
    },
    "Stage": {
        **dict.fromkeys(("id", "name", "description", "position", "customerGoals", "questions")),
        "touchpoints": "Touchpoint",
        "health": _HEALTH,
    },
    "Touchpoint": {
        **dict.fromkeys(("id", "name", "description", "position", "channel", "device")),
        **dict.fromkeys(("customerActions", "customerGoals", "questions", "emotion")),
        **dict.fromkeys(("momentOfTruth", "owningDepartment")),
        "matchKeys": "MatchKeys",
        "painPoints": "PainPoint",
        "opportunities": "Opportunity",
        "personaEmotions": "PersonaEmotion",
        "health": _HEALTH,
    },
    "MatchKeys": dict.fromkeys(("eventNames", "urlPatterns", "surveyIds")),
    "PainPoint": dict.fromkeys(("id", "title", "description", "severity", "status", "createdAt")),
    "Opportunity": dict.fromkeys(
        ("id", "title", "description", "status", "painPointId", "createdAt")
    ),
    "PersonaEmotion": dict.fromkeys(("current", "target")),
    _HEALTH: {
        **dict.fromkeys(("score", "sampleSize", "confidence", "trend", "previousScore")),
        **dict.fromkeys(("previousSampleSize", "computedAt")),
        "components": "HealthComponent",
    },
    "HealthComponent": dict.fromkeys(("name", "value", "weight", "sampleSize", "priorShare")),
}
_PLAIN_DIRECTIVES = frozenset({"include", "skip"})  # decided by variables, which are keyed
MAX_DOCUMENT_LENGTH = 16_000


@dataclass(frozen=True)
class Plan:
    """Where a cacheable document takes its map's id from: a literal or a variable."""

    literal: str | None = None
    variable: str | None = None

    def map_id(self, variables: dict[str, Any] | None) -> UUID | None:
        value = self.literal if self.variable is None else (variables or {}).get(self.variable)
        decoded = decode_global_id(value) if isinstance(value, str) else None
        return decoded[1] if decoded is not None and decoded[0] == ROOT_TYPE else None


@lru_cache(maxsize=512)
def plan_for(query: str, operation_name: str | None) -> Plan | None:
    """The plan of a document that only reads what a map's stamp settles, else None."""
    if len(query) > MAX_DOCUMENT_LENGTH:
        return None
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return None
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    roots = [s for s in operation.selection_set.selections if not _is_typename(s)]
    if len(roots) != 1 or not isinstance(roots[0], FieldNode) or operation.directives:
        return None
    root = roots[0]
    if root.name.value != ROOT_FIELD or root.directives or root.selection_set is None:
        return None
    arguments = root.arguments or ()
    if len(arguments) != 1 or arguments[0].name.value != "id":
        return None
    if not _settled_by_stamp(root.selection_set, ROOT_TYPE, fragments, frozenset()):
        return None
    value = arguments[0].value
    if isinstance(value, StringValueNode):
        return Plan(literal=value.value)
    if isinstance(value, VariableNode):
        return Plan(variable=value.name.value)
    return None


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == name]
    return operations[0] if len(operations) == 1 else None


def _is_typename(selection: SelectionNode) -> bool:
    return isinstance(selection, FieldNode) and selection.name.value == "__typename"


def _settled_by_stamp(
    selection_set: SelectionSetNode,
    type_name: str,
    fragments: dict[str, FragmentDefinitionNode],
    expanding: frozenset[str],
) -> bool:
    fields = CACHEABLE[type_name]
    for selection in selection_set.selections:
        if any(d.name.value not in _PLAIN_DIRECTIVES for d in selection.directives or ()):
            return False
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name == "__typename":
                continue
            if name not in fields or selection.arguments:  # None or empty when absent
                return False
            child = fields[name]
            if child is None:
                if selection.selection_set is not None:
                    return False
            elif selection.selection_set is None or not _settled_by_stamp(
                selection.selection_set, child, fragments, expanding
            ):
                return False
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is not None and condition.name.value != type_name:
                return False
            if not _settled_by_stamp(selection.selection_set, type_name, fragments, expanding):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in expanding:
                return False
            if fragment.type_condition.name.value != type_name:
                return False
            if not _settled_by_stamp(
                fragment.selection_set, type_name, fragments, expanding | {name}
            ):
                return False
        else:
            return False
    return True


MAX_MAPS_REMEMBERED = 100_000
Key = tuple[str, str | None, bytes]  # (document, operation name, variables)
Stamp = tuple[UUID, int, int]  # (map, version, health generation)


@dataclass(frozen=True)
class Lookup:
    """A cacheable request: its key, the map's stamp now, and the body if still current."""

    key: Key
    stamp: Stamp
    body: bytes | None


class MapReadCache:
    """Encoded map reads by document and variables, each valid for one stamp."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, tuple[Stamp, bytes]] = OrderedDict()
        self._bytes = 0
        # Reads under way, by key and stamp: a request that misses while the same
        # read is under way waits for its answer instead of reading the map again.
        self._in_flight: dict[tuple[Key, Stamp], asyncio.Future[bytes | None]] = {}
        self._tokens = KnownTokens()
        # Each map's workspace (it never moves): a known caller's read binds only it.
        self._workspaces: dict[UUID, UUID] = {}
        self.hits = 0
        self.misses = 0

    async def look_up(
        self,
        context: Context,
        query: str | None,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> Lookup | None:
        """None unless the request is a cacheable map read by a caller who can see the map."""
        if self.max_bytes <= 0 or not query:
            return None
        plan = plan_for(query, operation_name)
        map_id = plan.map_id(variables) if plan is not None else None
        if map_id is None:
            return None
        found = await read_as_caller(
            context,
            self._tokens,
            lambda connection, access: read_stamp(connection, map_id, access.workspace_roles),
            within=self._workspaces.get(map_id),
        )
        if found is None:
            return None
        if len(self._workspaces) >= MAX_MAPS_REMEMBERED:
            self._workspaces.clear()
        self._workspaces[map_id] = found.workspace_id
        stamp = (map_id, found.version, found.health_generation)
        try:
            encoded = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: the ordinary way refuses it
            return None
        key = (query, operation_name, encoded)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == stamp:
            self._entries.move_to_end(key)
            self.hits += 1
            return Lookup(key, stamp, entry[1])
        self.misses += 1
        return Lookup(key, stamp, None)

    async def from_read_in_flight(self, lookup: Lookup) -> bytes | None:
        """The answer of a read of the same map, document and stamp already under way;
        None if there is none (the caller reads and must then ``store``) or it failed."""
        at = (lookup.key, lookup.stamp)
        future = self._in_flight.get(at)
        if future is None:
            self._in_flight[at] = asyncio.get_running_loop().create_future()
            return None
        # shield: a waiter that gives up must not cancel the others' answer.
        return await asyncio.shield(future)

    def store(self, lookup: Lookup, body: bytes | None) -> None:
        """Keep a response read at (or after) the lookup's stamp, evicting the oldest to
        fit, and hand it to requests waiting on it; None: the read failed, they read."""
        future = self._in_flight.pop((lookup.key, lookup.stamp), None)
        if future is not None and not future.done():
            future.set_result(body)
        if body is None or len(body) > self.max_bytes // 4:
            return
        old = self._entries.pop(lookup.key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._entries[lookup.key] = (lookup.stamp, body)
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= len(evicted)

    def __len__(self) -> int:
        return len(self._entries)
