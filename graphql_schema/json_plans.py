"""Planned subtrees that Postgres writes as JSON in one statement, as PostGraphile does.

A planned subtree (``graphql_schema.engine``) is built in Python from each level's rows:
some 2,500 values for a map read, each a Python object made, coerced and then encoded.
When every field of the subtree is one of those declared below, the whole subtree is
instead one statement whose result is each object's JSON, read back with orjson (its
values then encoded like any other). Postgres builds a map's 58 KB in about 2 ms.

What keeps it exact:
- Each field's expression writes what the ordinary resolver would: node ids encoded as
  strawberry's ``GlobalID`` (base64 of ``Type:uuid``), enums by the member names the
  columns store, floats as Python's ``repr`` writes them (``100.0``, not ``100``; the
  model's values are scores 0-100 and shares 0-1, far inside where the two agree),
  date-times as ``datetime.isoformat`` does, a health score's confidence and trend by the
  model's own formulas. ``tests/graphql/test_planned_differential.py`` holds every
  generated document to the ordinary engine's bytes on Postgres.
- Each relation reads the rows its loader reads, in the loader's order.
- Tenant scoping stays: the objects a statement starts from are filtered by the
  caller's workspaces (as ``ScopedRows`` filters), and every row reached from one by the
  workspace of the row it is reached from, so by the caller's too; all of it on the
  request's shared read transaction, where row-level security filters it again.

Anything not declared here (a field, a type, more than 50 fields of one object) keeps the
Python plan, as does SQLite.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.relay import GlobalID

Expression = Callable[[str], str]  # a table alias -> SQL of a json value


def _plain(column: str) -> Expression:
    return lambda alias: f"to_json({alias}.{column})"


def _node_id(type_name: str) -> Expression:
    # PostgreSQL's base64 breaks lines every 76 characters; strawberry's never does.
    return lambda alias: (
        f"to_json(translate(encode(convert_to('{type_name}:' || {alias}.id::text, 'UTF8'),"
        " 'base64'), E'\\n', ''))"
    )


def _float_of(sql: str) -> str:
    # Python writes an integral float with ".0" (json.dumps(100.0) == "100.0"), where
    # Postgres writes 100; otherwise both write the shortest exact digits, and switch to
    # an exponent at the same places up to 1e15.
    return (
        f"CASE WHEN ({sql}) IS NULL THEN 'null'::json"
        f" WHEN ({sql}) = trunc({sql}) AND abs({sql}) <= 1e15"
        f" THEN (trunc({sql})::numeric::text || '.0')::json ELSE to_json({sql}) END"
    )


def _float(column: str) -> Expression:
    return lambda alias: _float_of(f"{alias}.{column}")


def _datetime(column: str) -> Expression:
    # datetime.isoformat of an aware UTC value: microseconds only when there are some.
    def expression(alias: str) -> str:
        value = f"{alias}.{column} AT TIME ZONE 'UTC'"
        return (
            f"to_json(to_char({value}, 'YYYY-MM-DD\"T\"HH24:MI:SS') ||"
            f" CASE WHEN date_trunc('second', {value}) = {value} THEN ''"
            f" ELSE to_char({value}, '.US') END || '+00:00')"
        )

    return expression


def _confidence(alias: str) -> str:
    # model.Score.confidence: max(0.0, 1.0 - (high - low) / 100.0), in float8 as Python.
    low, high = f"{alias}.low", f"{alias}.high"
    return _float_of(
        f"CASE WHEN {low} IS NULL OR {high} IS NULL THEN NULL"
        f" ELSE greatest(0.0::float8, 1.0::float8 - ({high} - {low}) / 100.0::float8) END"
    )


def _trend(alias: str) -> str:
    # model.Score.trend: score - previous, when both are known.
    return _float_of(f"{alias}.score - {alias}.previous_score")


@dataclass(frozen=True)
class Relation:
    child: str  # the GraphQL type of what it reaches
    many: bool
    condition: Callable[[str, str], str]  # (parent alias, child alias) -> SQL
    order: Callable[[str], str] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    leaves: dict[str, Expression]
    relations: dict[str, Relation] = field(default_factory=dict)


def _on_live_map(child: str) -> str:
    # MapRepository._on_live_map: a deleted map takes its stages and touchpoints along.
    return (
        f"EXISTS (SELECT 1 FROM journey_maps {child}m WHERE {child}m.workspace_id ="  # noqa: S608
        f" {child}.workspace_id AND {child}m.id = {child}.journey_map_id"
        f" AND {child}m.deleted_at IS NULL)"
    )


def _sentiment(alias: str) -> str:
    # FeedbackType.from_model: a sentiment counts only once scored.
    return _float_of(f"CASE WHEN {alias}.sentiment_status = 'SCORED' THEN {alias}.sentiment END")


def _health() -> Relation:
    # A subject's score has the subject's id for its own (HealthScoreBySubjectLoader).
    return Relation("HealthScore", many=False, condition=lambda p, c: f"{c}.id = {p}.id")


TABLES: dict[str, Table] = {
    "JourneyMap": Table(
        "journey_maps",
        {
            "id": _node_id("JourneyMap"),
            "title": _plain("title"),
            "description": _plain("description"),
            "status": _plain("status"),
            "scenario": _plain("scenario"),
            "version": _plain("version"),
            "createdAt": _datetime("created_at"),
            "updatedAt": _datetime("updated_at"),
        },
        {
            # StagesByMapLoader: the map's stages by position.
            "stages": Relation(
                "Stage",
                many=True,
                condition=lambda p, c: f"{c}.journey_map_id = {p}.id",
                order=lambda c: f"{c}.position",
            ),
            "health": _health(),
        },
    ),
    "Stage": Table(
        "stages",
        {
            "id": _node_id("Stage"),
            "name": _plain("name"),
            "description": _plain("description"),
            "position": _plain("position"),
        },
        {
            # TouchpointsByMapLoader, split by stage: the stage's own, by position.
            "touchpoints": Relation(
                "Touchpoint",
                many=True,
                condition=lambda p, c: (
                    f"{c}.journey_map_id = {p}.journey_map_id AND {c}.stage_id = {p}.id"
                ),
                order=lambda c: f"{c}.position",
            ),
            "health": _health(),
        },
    ),
    "Touchpoint": Table(
        "touchpoints",
        {
            "id": _node_id("Touchpoint"),
            "name": _plain("name"),
            "description": _plain("description"),
            "position": _plain("position"),
            "emotion": _plain("emotion"),
            "momentOfTruth": _plain("moment_of_truth"),
            "traffic": _plain("traffic"),
            "owningDepartment": _plain("owning_department"),
        },
        {
            # PainPointsByTouchpointLoader: oldest first.
            "painPoints": Relation(
                "PainPoint",
                many=True,
                condition=lambda p, c: f"{c}.touchpoint_id = {p}.id",
                order=lambda c: f"{c}.created_at, {c}.id",
            ),
            "health": _health(),
        },
    ),
    "PainPoint": Table(
        "pain_points",
        {
            "id": _node_id("PainPoint"),
            "title": _plain("title"),
            "description": _plain("description"),
            "severity": _plain("severity"),
            "status": _plain("status"),
            "createdAt": _datetime("created_at"),
        },
    ),
    "Feedback": Table(
        "feedback",
        {
            "id": _node_id("Feedback"),
            "source": _plain("source"),
            "externalId": _plain("external_id"),
            "channel": _plain("channel"),
            "measure": _plain("measure"),
            "measureValue": _plain("measure_value"),
            "text": _plain("text"),
            "sentiment": _sentiment,
            "sentimentStatus": _plain("sentiment_status"),
            "language": _plain("language"),
            "customerRef": _plain("customer_ref"),
            "eventName": _plain("event_name"),
            "url": _plain("url"),
            "surveyId": _plain("survey_id"),
            "occurredAt": _datetime("occurred_at"),
            "receivedAt": _datetime("received_at"),
            "placement": _plain("placement"),
        },
        {
            # Loaded.linked_each through the by-id loaders: None when unset, gone, or a
            # stage or touchpoint of a deleted map.
            "touchpoint": Relation(
                "Touchpoint",
                many=False,
                condition=lambda p, c: f"{c}.id = {p}.touchpoint_id AND {_on_live_map(c)}",
            ),
            "stage": Relation(
                "Stage",
                many=False,
                condition=lambda p, c: f"{c}.id = {p}.stage_id AND {_on_live_map(c)}",
            ),
            "journeyMap": Relation(
                "JourneyMap",
                many=False,
                condition=lambda p, c: f"{c}.id = {p}.journey_map_id AND {c}.deleted_at IS NULL",
            ),
        },
    ),
    "HealthScore": Table(
        "health_scores",
        {
            "state": _plain("state"),
            "score": _float("score"),
            "low": _float("low"),
            "high": _float("high"),
            "sampleSize": _plain("sample_size"),
            "confidence": _confidence,
            "trend": _trend,
            "previousScore": _float("previous_score"),
            "previousSampleSize": _plain("previous_sample_size"),
            "scoredParts": _plain("scored_parts"),
            "parts": _plain("parts"),
            "computedAt": _datetime("computed_at"),
        },
    ),
}


def _uuid(obj: Any) -> UUID:
    return UUID(obj.id)


def _global_id(obj: Any) -> UUID:
    return UUID(GlobalID.from_id(obj.id).node_id)


# Types whose strawberry objects name their row: how to read its id from one.
ROOTS: dict[str, Callable[[Any], UUID]] = {
    "JourneyMap": _uuid,
    "Stage": _uuid,
    "Touchpoint": _uuid,
    "Feedback": _global_id,
}
MAX_FIELDS = 50  # json_build_object takes at most 100 arguments


class PlannedField(Protocol):
    key: str
    name: str
    constant: Any

    @property
    def child(self) -> PlannedObject | None: ...


class PlannedObject(Protocol):
    type_name: str

    @property
    def fields(self) -> Sequence[PlannedField]: ...


class NotWritable(Exception):
    """Something in the selection has no expression here: keep the Python plan."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Writer:
    def __init__(self, scoped: bool) -> None:
        self.scoped = scoped
        self.aliases = (f"t{n}" for n in itertools.count())

    def scope(self, alias: str) -> str:
        return f" AND {alias}.workspace_id = ANY($2::uuid[])" if self.scoped else ""

    def object(self, plan: PlannedObject, alias: str) -> str:
        table = TABLES.get(plan.type_name)
        if table is None or len(plan.fields) > MAX_FIELDS:
            raise NotWritable(plan.type_name)
        pairs = []
        for f in plan.fields:
            if f.name == "__typename":
                value = f"to_json({_literal(plan.type_name)}::text)"
            elif f.name in table.leaves and f.child is None:
                value = table.leaves[f.name](alias)
            elif f.name in table.relations and f.child is not None:
                value = self.relation(table.relations[f.name], f.child, alias)
            else:
                raise NotWritable(f"{plan.type_name}.{f.name}")
            pairs.append(f"{_literal(f.key)}, {value}")
        return f"json_build_object({', '.join(pairs)})"

    def relation(self, relation: Relation, child: PlannedObject, parent: str) -> str:
        if child.type_name != relation.child:
            raise NotWritable(child.type_name)
        alias = next(self.aliases)
        table = TABLES[relation.child].name
        # What a relation reaches lies in its parent's workspace, which is the caller's:
        # one value, so the workspace-first keys take a single probe, where the list of
        # the caller's workspaces (200 at large) took one per workspace.
        where = f"{alias}.workspace_id = {parent}.workspace_id AND " + relation.condition(
            parent, alias
        )
        built = self.object(child, alias)
        # Tables, columns and aliases are this module's; response keys are GraphQL names,
        # quoted by _literal besides.
        if not relation.many:
            return f"(SELECT {built} FROM {table} {alias} WHERE {where})"  # noqa: S608
        order = f" ORDER BY {relation.order(alias)}" if relation.order else ""
        return (
            f"(SELECT coalesce(json_agg({built}{order}), '[]'::json)"  # noqa: S608
            f" FROM {table} {alias} WHERE {where})"
        )


def statement(plan: PlannedObject, *, scoped: bool) -> str:
    """The statement writing each object of ``plan``'s type, by id ($1, a uuid array, in
    order; $2 the caller's workspaces when ``scoped``): one row per id, its JSON text, or
    NULL where no row is visible. Raises ``NotWritable`` for what it cannot write."""
    if plan.type_name not in ROOTS:
        raise NotWritable(plan.type_name)
    writer = _Writer(scoped)
    alias = next(writer.aliases)
    table = TABLES[plan.type_name].name
    built = writer.object(plan, alias)
    return (
        f"SELECT (SELECT {built}::text FROM {table} {alias}"  # noqa: S608
        f" WHERE {alias}.id = k.id{writer.scope(alias)})"
        " FROM unnest($1::uuid[]) WITH ORDINALITY AS k(id, n) ORDER BY k.n"
    )


async def written(
    connection: AsyncConnection, sql: str, ids: Iterable[UUID], workspaces: Iterable[UUID] | None
) -> list[str | None]:
    """Each object's JSON text, in the order of ``ids``."""
    parameters: tuple[Any, ...] = (list(ids),)
    if workspaces is not None:
        parameters += (list(workspaces),)
    result = await connection.exec_driver_sql(sql, parameters)
    return [row[0] for row in result]
