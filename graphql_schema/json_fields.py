"""What Postgres writes for each field a planned subtree may hold (``graphql_schema.json_plans``).

Each declaration writes what the ordinary resolver gives:
- leaves: node ids encoded as strawberry's ``GlobalID`` (base64 of ``Type:uuid``), enums
  by the member names the columns store, floats as Python's ``repr`` writes them
  (``100.0``, not ``100``; the model's values are scores 0-100 and shares 0-1, far
  inside where the two agree), date-times as ``datetime.isoformat`` does, a health
  score's confidence and trend by the model's own formulas;
- relations: the rows its loader reads, in the loader's order;
- listings (connections with arguments): the page its repository reads, by the same
  keys (``MAP_ORDERS``, ``FEEDBACK_ORDER``), with the same cursors, total and page info.

``tests/graphql/test_planned_differential.py`` and ``test_json_plans.py`` hold every
one to the ordinary engine's bytes on Postgres.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.orm import InstrumentedAttribute

from backend.audit.repository import WORKSPACE_EVENTS_ORDER
from backend.feedback.repository import FEEDBACK_ORDER
from backend.journeys.repository import MAP_ORDERS
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.journeys import MapOrder
from graphql_schema.relay import decode_global_id

Expression = Callable[[str], str]  # a table alias -> SQL


@dataclass(frozen=True)
class Leaf:
    """A field's value as two SQL expressions of a table alias: ``json`` for
    ``json_build_object`` (read back and encoded again by the API), and ``text``, the
    value's JSON text exactly as the response's encoder (orjson) writes it and never
    NULL, for a statement written as compact text that the API embeds as it is
    (``json_plans``). ``text`` is None where Postgres cannot write orjson's bytes."""

    json: Expression
    text: Expression | None

    def __call__(self, alias: str) -> str:
        return self.json(alias)


def _scalar(json: Expression) -> Leaf:
    # A json scalar's text is compact as it is: to_json escapes strings as orjson does
    # (\" \\ \b \f \n \r \t, \u00xx in lower case for the other controls, all else
    # as it is, non-ASCII included), and writes integers and booleans alike.
    return Leaf(json, lambda alias: f"coalesce(({json(alias)})::text, 'null')")


def _plain(column: str) -> Leaf:
    return _scalar(lambda alias: f"to_json({alias}.{column})")


def _written_document(column: str) -> Leaf:
    # A json column holding the text the API writes for it (backend.db.types.WrittenJSON):
    # compact as it is. (jsonb's text is spaced out and its numbers numeric's.)
    return Leaf(
        lambda alias: f"{alias}.{column}", lambda alias: f"coalesce({alias}.{column}::text, 'null')"
    )


# PostgreSQL's base64 ends each line of 76 characters it writes (57 bytes encoded) with a
# line break, the last one too; strawberry's never breaks a line.
_BASE64_LINE_BYTES = 57
_UUID_TEXT = 36


def _node_id(type_name: str) -> Leaf:
    # "Type:uuid" stays short of a full line for a type name of up to 19 bytes: nothing
    # to strip, and stripping (translate) was a tenth of a map read's statement.
    one_line = len(type_name.encode()) + 1 + _UUID_TEXT < _BASE64_LINE_BYTES
    return _scalar(
        lambda alias: _encoded_id(f"'{type_name}'", f"{alias}.id::text", one_line=one_line)
    )


def _encoded_id(type_sql: str, id_sql: str, *, one_line: bool = False) -> str:
    """strawberry's GlobalID: base64 of "Type:id", on one line."""
    encoded = f"encode(convert_to({type_sql} || ':' || {id_sql}, 'UTF8'), 'base64')"
    return f"to_json({encoded})" if one_line else f"to_json(translate({encoded}, E'\\n', ''))"


def _float_of(sql: str) -> str:
    # Python writes an integral float with ".0" (json.dumps(100.0) == "100.0"), where
    # Postgres writes 100 (and -0 for -0.0, which numeric loses); otherwise both
    # write the shortest exact digits, and switch to an exponent at the same places up
    # to 1e15. The API reads it back, so only the value must be exact.
    return (
        f"CASE WHEN ({sql}) IS NULL THEN 'null'::json"
        f" WHEN ({sql}) = 0 THEN (({sql})::text || '.0')::json"
        f" WHEN ({sql}) = trunc({sql}) AND abs({sql}) <= 1e15"
        f" THEN (trunc({sql})::numeric::text || '.0')::json ELSE to_json({sql}) END"
    )


# From 2**53 up, doubles are integers more than 1 apart, and a short decimal may lie
# exactly halfway between two of them (1e23). orjson writes it, as Python does
# (round-half-even reads it back exactly); Postgres' Ryu leaves such bounds out and
# writes 9.999999999999999e+22. Below 2**53 no bound is that short: both agree.
_EXACT_INTEGERS = 9007199254740992
_LARGEST = int(sys.float_info.max)  # a decimal rounded up past it is no float8


def float_text(sql: str) -> str:
    """The JSON text orjson writes for the float8 ``sql`` ('null' for NULL).

    Both write the shortest digits that read back exactly (float8out with
    extra_float_digits > 0, as every connection has it), so mostly only the layout
    differs. Postgres writes plain decimals for exponents -4 to 14 and "1.5e-07" /
    "1e+16" outside them; orjson plain decimals for -5 to 15, always with a fraction
    ("100.0", "-0.0"), and "1.5e-7" / "1e+16" outside them. From 2**53 up the digits
    are found again (``_shortest_integer``). NaN and the infinities (no column holds
    them) stay to_json's, as the json way writes them."""
    t = f"({sql})::text"
    mantissa, exponent = f"split_part({t}, 'e', 1)", f"split_part({t}, 'e', 2)::int"
    sign = f"CASE WHEN left({t}, 1) = '-' THEN '-' ELSE '' END"
    digits = f"replace(ltrim({mantissa}, '-'), '.', '')"
    return (
        f"CASE WHEN ({sql}) IS NULL THEN 'null'"
        # Scores and shares: plain decimals both ways, Postgres' text written once.
        f" WHEN abs({sql}) >= 0.0001::float8 AND abs({sql}) < 1e15::float8"
        f" THEN CASE WHEN ({sql}) = trunc({sql}) THEN {t} || '.0' ELSE {t} END"
        f" WHEN strpos({t}, 'e') = 0 THEN CASE WHEN strpos({t}, '.') > 0 THEN {t}"
        f" WHEN {t} IN ('NaN', 'Infinity', '-Infinity') THEN to_json({sql})::text"
        f" ELSE {t} || '.0' END"
        f" WHEN abs({sql}) >= {_EXACT_INTEGERS} THEN {_shortest_integer(sql, t, exponent)}"
        f" WHEN {exponent} = -5 THEN {sign} || '0.0000' || {digits}"
        f" WHEN {exponent} = 15 THEN {sign} || rpad(left({digits}, 16), 16, '0') || '.'"
        f" || coalesce(nullif(substr({digits}, 17), ''), '0')"
        f" ELSE {mantissa} || 'e' || CASE WHEN {exponent} > 0 THEN '+' ELSE '' END"
        f" || {exponent}::text END"
    )


def _shortest_integer(sql: str, t: str, exponent: str) -> str:
    # The fewest significant digits of Postgres' decimal that read back as the value
    # (numeric to float8 rounds correctly), laid out as orjson lays an integer out.
    rounded = f"round(({t})::numeric, k - 1 - {exponent})"
    best = (
        f"SELECT {rounded} AS r FROM generate_series(1, 17) AS k"  # noqa: S608
        f" WHERE CASE WHEN abs({rounded}) <= {_LARGEST} THEN {rounded}::float8 = ({sql}) END"
        " ORDER BY k LIMIT 1"
    )
    return (
        "(SELECT CASE WHEN length(s) = 16 THEN g || s || '.0'"  # noqa: S608
        " ELSE g || left(d, 1) || CASE WHEN length(d) > 1 THEN '.' || substr(d, 2) ELSE '' END"
        " || 'e+' || (length(s) - 1)::text END"
        " FROM (SELECT ltrim(r::text, '-') AS s, rtrim(ltrim(r::text, '-'), '0') AS d,"
        f" CASE WHEN r < 0 THEN '-' ELSE '' END AS g FROM ({best}) AS b) AS f)"
    )


def _float_leaf(value: Expression) -> Leaf:
    return Leaf(lambda alias: _float_of(value(alias)), lambda alias: float_text(value(alias)))


def _float(column: str) -> Leaf:
    return _float_leaf(lambda alias: f"{alias}.{column}")


def isoformat(sql: str) -> str:
    """Text of ``datetime.isoformat`` of an aware UTC value: microseconds when there are."""
    value = f"{sql} AT TIME ZONE 'UTC'"
    return (
        f"(to_char({value}, 'YYYY-MM-DD\"T\"HH24:MI:SS') ||"
        f" CASE WHEN date_trunc('second', {value}) = {value} THEN ''"
        f" ELSE to_char({value}, '.US') END || '+00:00')"
    )


def _datetime(column: str) -> Leaf:
    return _scalar(lambda alias: f"to_json({isoformat(f'{alias}.{column}')})")


def _confidence_of(alias: str) -> str:
    # model.Score.confidence: max(0.0, 1.0 - (high - low) / 100.0), in float8 as Python.
    low, high = f"{alias}.low", f"{alias}.high"
    return (
        f"CASE WHEN {low} IS NULL OR {high} IS NULL THEN NULL"
        f" ELSE greatest(0.0::float8, 1.0::float8 - ({high} - {low}) / 100.0::float8) END"
    )


_confidence = _float_leaf(_confidence_of)
# model.Score.trend: score - previous, when both are known.
_trend = _float_leaf(lambda alias: f"{alias}.score - {alias}.previous_score")


class Reader(Protocol):
    """Who reads, as the statement's placeholders (each passed once, when used)."""

    def user(self) -> str: ...  # their user id

    def administered(self) -> str: ...  # the workspaces where they are ADMIN

    def workspaces(self) -> str | None: ...  # theirs; None where the ORM would not scope


@dataclass(frozen=True)
class Relation:
    """What a field's loader reads for an object: rows of the object's workspace, or
    (``visible``) rows of no workspace, as far as the reader may see them."""

    child: str  # the GraphQL type of what it reaches
    many: bool
    condition: Callable[[str, str], str]  # (parent alias, child alias) -> SQL
    order: Callable[[str], str] | None = None
    visible: Callable[[str, Reader], str] | None = None  # (child alias, reader) -> SQL


class NotWritable(Exception):
    """Something in the selection has no expression here: keep the Python plan."""


Parameter = Callable[[Any, str], str]  # (a value, its SQL type) -> its placeholder
Condition = Callable[[str], str]  # a table alias -> SQL


@dataclass(frozen=True)
class Listing:
    """A connection field and its arguments, paged as its resolver pages it.

    ``where`` turns the arguments into the rows' conditions, the parent's workspace
    first (NotWritable for an argument it does not know); ``order`` into the page's keys
    and whether they descend. ``first`` and ``after`` are the writer's."""

    node: str  # the GraphQL type of its nodes
    # (SQL of the parent's workspace, the arguments, how to pass a value) -> the condition
    where: Callable[[str, dict[str, Any], Parameter], Condition]
    order: Callable[[dict[str, Any]], tuple[Sequence[InstrumentedAttribute[Any]], bool]]
    admins_only: bool = False  # null for anyone below the workspace's ADMIN
    # Written as compact text (json_plans._Text) when the operation holds this listing:
    # measured to pay for the feedback list's 100 items and the audit trail's 100 events,
    # not for the dashboard's 20 maps.
    compact: bool = False
    # (SQL of the parent's workspace, the arguments) -> SQL of the rows' number where
    # it is kept rather than counted; None to count the rows
    total: Callable[[str, dict[str, Any]], str | None] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    leaves: dict[str, Leaf]
    relations: dict[str, Relation] = field(default_factory=dict)
    listings: dict[str, Listing] = field(default_factory=dict)
    scope: str = "workspace_id"  # the column naming the row's workspace
    inline: dict[str, str] = field(default_factory=dict)  # objects of the same row, by type


def _on_live_map(child: str) -> str:
    # MapRepository._on_live_map: a deleted map takes its stages and touchpoints along.
    return (
        f"EXISTS (SELECT 1 FROM journey_maps {child}m WHERE {child}m.workspace_id ="  # noqa: S608
        f" {child}.workspace_id AND {child}m.id = {child}.journey_map_id"
        f" AND {child}m.deleted_at IS NULL)"
    )


# FeedbackType.from_model: a sentiment counts only once scored.
_sentiment = _float_leaf(
    lambda alias: f"CASE WHEN {alias}.sentiment_status = 'SCORED' THEN {alias}.sentiment END"
)


def _health() -> Relation:
    # A subject's score has the subject's id for its own (HealthScoreBySubjectLoader).
    return Relation("HealthScore", many=False, condition=lambda p, c: f"{c}.id = {p}.id")


def _token_id_of(alias: str) -> str:
    # AuditActor.token_id: an ApiToken's id, or an IngestionToken's for such an actor.
    kind = (
        f"CASE WHEN {alias}.actor_type = 'INGESTION_TOKEN' THEN 'IngestionToken'"
        " ELSE 'ApiToken' END"
    )
    return (
        f"CASE WHEN {alias}.actor_token_id IS NULL THEN NULL"
        f" ELSE {_encoded_id(kind, f'{alias}.actor_token_id::text')} END"
    )


def _audit_action_of(alias: str) -> str:
    # AuditEventType: AuditAction.of the stored text, by its name (the text upper-cased,
    # "_" for "."); UNKNOWN for any other text.
    known = ", ".join(f"'{a.value}'" for a in AuditAction if a is not AuditAction.UNKNOWN)
    return (
        f"to_json(CASE WHEN {alias}.action IN ({known})"
        f" THEN upper(replace({alias}.action, '.', '_')) ELSE 'UNKNOWN' END)"
    )


def _visible_user(user: str, reader: Reader) -> str:
    # TenancyRepository.visible_users_by_ids: the caller, and members of the workspaces
    # the caller reaches. Users are no workspace's rows (no row-level security): this
    # condition is all that keeps another tenant's people out.
    workspaces = reader.workspaces()
    member = f"{user}m"
    bound = "" if workspaces is None else f" AND {member}.workspace_id = ANY({workspaces})"
    return (
        f"({user}.id = {reader.user()} OR EXISTS (SELECT 1"  # noqa: S608
        f" FROM workspace_memberships {member} WHERE {member}.user_id = {user}.id{bound}))"
    )


def _only(arguments: dict[str, Any], known: set[str]) -> None:
    unknown = [k for k, v in arguments.items() if v is not None and k not in known | _PAGING]
    if unknown:
        raise NotWritable(", ".join(unknown))


_PAGING = {"first", "after"}  # forward pages: json_plans leaves backward ones to resolvers


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))  # an enum member or the name it stands for


def _where(workspace: str, tests: list[tuple[str, str]], *also: str) -> Condition:
    """A page's rows: the parent's workspace, then each (column, placeholder) equal."""
    return lambda c: " AND ".join(
        [f"{c}.workspace_id = {workspace}", *(f"{c}.{a}" for a in also)]
        + [f"{c}.{column} = {placeholder}" for column, placeholder in tests]
    )


def _maps_where(workspace: str, arguments: dict[str, Any], parameter: Parameter) -> Condition:
    # MapRepository.page: live maps of the workspace, by status and scenario (personaId
    # and search keep the resolver).
    _only(arguments, {"status", "scenario", "orderBy"})
    tests = [
        (c, parameter(_text(arguments[a]), "text")) for c, a in _MAP_FILTERS if arguments.get(a)
    ]
    return _where(workspace, tests, "deleted_at IS NULL")


_MAP_FILTERS = (("status", "status"), ("scenario", "scenario"))


def _maps_order(arguments: dict[str, Any]) -> tuple[Sequence[InstrumentedAttribute[Any]], bool]:
    return MAP_ORDERS[MapOrder(_text(arguments.get("orderBy") or MapOrder.TITLE))]


def _feedback_where(workspace: str, arguments: dict[str, Any], parameter: Parameter) -> Condition:
    # FeedbackRepository.page: the workspace's items, by touchpoint and source.
    _only(arguments, {"touchpointId", "source"})
    tests: list[tuple[str, str]] = []
    if arguments.get("touchpointId") is not None:
        decoded = decode_global_id(arguments["touchpointId"])
        if decoded is None or decoded[0] != "Touchpoint":
            raise NotWritable("touchpointId")  # the resolver's empty page
        tests.append(("touchpoint_id", parameter(decoded[1], "uuid")))
    if arguments.get("source") is not None:
        tests.append(("source", parameter(_text(arguments["source"]), "text")))
    return _where(workspace, tests)


def _feedback_total(workspace: str, arguments: dict[str, Any]) -> str | None:
    # All of a workspace's items: the sum of the parts the triggers add (migration
    # 0029), read under the same row-level security as the rows. A filtered page
    # counts its rows.
    if any(arguments.get(a) is not None for a in ("touchpointId", "source")):
        return None
    return (
        "(SELECT coalesce(sum(c.items), 0)::bigint FROM feedback_count_parts c"  # noqa: S608
        f" WHERE c.workspace_id = {workspace})"
    )


def _feedback_order(_: dict[str, Any]) -> tuple[Sequence[InstrumentedAttribute[Any]], bool]:
    return FEEDBACK_ORDER, True


def _events_where(workspace: str, arguments: dict[str, Any], _: Parameter) -> Condition:
    # AuditRepository.workspace_events, unfiltered (a filter keeps the resolver).
    _only(arguments, set())
    return _where(workspace, [])


def _events_order(_: dict[str, Any]) -> tuple[Sequence[InstrumentedAttribute[Any]], bool]:
    return WORKSPACE_EVENTS_ORDER, True


TABLES: dict[str, Table] = {
    "Workspace": Table(
        "workspaces",
        {"id": _node_id("Workspace"), "name": _plain("name"), "createdAt": _datetime("created_at")},
        {"health": _health()},
        {
            "journeyMaps": Listing("JourneyMap", _maps_where, _maps_order),
            "feedback": Listing(
                "Feedback", _feedback_where, _feedback_order, compact=True, total=_feedback_total
            ),
            "auditEvents": Listing(
                "AuditEvent", _events_where, _events_order, admins_only=True, compact=True
            ),
        },
        scope="id",
    ),
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
    "AuditEvent": Table(
        "audit_events",
        {
            "sequence": _plain("sequence"),
            "occurredAt": _datetime("occurred_at"),
            "action": _scalar(_audit_action_of),
            "subjectType": _plain("subject_type"),
            "subjectId": _scalar(lambda a: _encoded_id(f"{a}.subject_type", f"{a}.subject_id")),
            "changes": _written_document("changes"),
            "requestId": _plain("request_id"),
            "ip": _plain("ip"),
            "userAgent": _plain("user_agent"),
            "prevHash": _plain("prev_hash"),
            "hash": _plain("hash"),
        },
        inline={"actor": "AuditActor"},
    ),
    # An event's actor: the event's own row.
    "AuditActor": Table(
        "audit_events",
        {"type": _plain("actor_type"), "tokenId": _scalar(_token_id_of)},
        {
            "user": Relation(
                "User",
                many=False,
                condition=lambda p, c: f"{c}.id = {p}.actor_user_id",
                visible=_visible_user,
            )
        },
    ),
    "User": Table(
        "users",
        {"id": _node_id("User"), "email": _plain("email"), "name": _plain("name")},
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


# Types whose strawberry objects name their row: how to read its id from one.
ROOTS: dict[str, Callable[[Any], UUID]] = {
    "Workspace": _uuid,
    "JourneyMap": _uuid,
    "Stage": _uuid,
    "Touchpoint": _uuid,
    "Feedback": _uuid,
}


@dataclass(frozen=True)
class Lookup:
    """A root field reading one object by its global id, as its resolver does: null for
    an id of another type, and for a row the caller may not see (``live`` says what
    else hides one there)."""

    type_name: str
    live: Condition | None = None
    # Written as compact text (json_plans._Text) when the operation looks it up: measured
    # to pay for a map read (stages, touchpoints, their health), not for the workspace's
    # dashboard, which a listing below it decides (Listing.compact).
    compact: bool = False

    def id_of(self, arguments: dict[str, Any]) -> UUID | None:
        value = arguments.get("id")
        decoded = decode_global_id(value) if isinstance(value, str) else None
        return decoded[1] if decoded is not None and decoded[0] == self.type_name else None


# Query's fields by id: TenancyQueries.workspace (WorkspaceByIdLoader: the caller's
# workspaces) and Query.journeyMap (JourneyMapByIdLoader: live maps of them).
LOOKUPS: dict[str, Lookup] = {
    "workspace": Lookup("Workspace"),
    "journeyMap": Lookup(
        "JourneyMap", live=lambda alias: f"{alias}.deleted_at IS NULL", compact=True
    ),
}


def key_text(alias: str, key: InstrumentedAttribute[Any]) -> str:
    """The text a cursor holds for ``key`` (``pagination._encode``: isoformat or str)."""
    column = f"{alias}.{key.expression.name}"
    kind = key.type.python_type
    if kind is datetime:
        return isoformat(column)
    if kind in (UUID, str, int):
        return f"{column}::text"
    raise NotWritable(f"a cursor by a {kind.__name__}")  # floats: Python's str differs


def cursor(alias: str, keys: Sequence[InstrumentedAttribute[Any]]) -> str:
    """``pagination._encode``: urlsafe base64, unpadded, of a JSON list of texts, which
    to_json escapes as json.dumps(ensure_ascii=False) does."""
    items = " || ', ' || ".join(f"to_json({key_text(alias, k)})::text" for k in keys)
    raw = f"convert_to('[' || {items} || ']', 'UTF8')"
    return f"rtrim(translate(encode({raw}, 'base64'), E'+/\\n', '-_'), '=')"


SQL_TYPES = {datetime: "timestamptz", UUID: "uuid", str: "text", int: "bigint"}
