"""A map's snapshot written by Postgres: one statement instead of six reads and Python.

The document is the one ``snapshots.snapshot_in_python`` builds (the same keys, values
and order of lists), made from the same tables' columns, so what one writes the other
would have written (tests/journeys/test_snapshot_sql.py holds them together). An edit
of a medium map spent half its time reading the map into the ORM to write this.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, Enum, Integer, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.base import Base
from backend.db.scoping import require_bound
from backend.db.types import UTCDateTime
from backend.models import (
    JourneyMap,
    JourneyMapPersona,
    JourneyMapRevision,
    Opportunity,
    PainPoint,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)

# A map's own fields, as a snapshot and a restore know them.
MAP_FIELDS = ("title", "description", "objectives", "status", "scenario", "departments")

# Column types whose to_json is the value Python's snapshot stores (UUIDs as text,
# enums by value: their names and values are alike). Timestamps are formatted apart.
_AS_IS = (Uuid, String, Text, Integer, Boolean, JSON, Enum)


def _value(alias: str, column: Any) -> str:
    name = f'{alias}."{column.name}"'
    if isinstance(column.type, UTCDateTime):
        # datetime.isoformat(timespec="microseconds") of the UTC value.
        return f"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    if isinstance(column.type, _AS_IS):
        return name
    raise TypeError(f"a snapshot cannot write {column.type!r} ({column.table.name}.{column.name})")


def _object(model: type[Base], alias: str, skip: tuple[str, ...], **nested: str) -> str:
    """json_build_object of a row's columns (but workspace_id and ``skip``) and ``nested``."""
    pairs = [
        f"'{column.name}', {_value(alias, column)}"
        for column in model.__table__.columns
        if column.name not in ("workspace_id", *skip)
    ]
    pairs += [f"'{key}', {sql}" for key, sql in nested.items()]
    return f"json_build_object({', '.join(pairs)})"


def _list(element: str, source: str, order: str) -> str:
    # Every name here comes from the models, every value is a bound parameter.
    return f"coalesce((SELECT json_agg({element} ORDER BY {order}) FROM {source}), '[]'::json)"  # noqa: S608


def _below_touchpoint(model: type[Base], alias: str, skip: tuple[str, ...], order: str) -> str:
    return _list(
        _object(model, alias, skip),
        f"{model.__tablename__} {alias} WHERE {alias}.workspace_id = t.workspace_id"
        f" AND {alias}.touchpoint_id = t.id",
        order,
    )


def _document() -> str:
    touchpoint = _object(
        Touchpoint,
        "t",
        ("journey_map_id", "stage_id", "position"),
        pain_points=_below_touchpoint(PainPoint, "pp", ("touchpoint_id",), "pp.created_at, pp.id"),
        opportunities=_below_touchpoint(Opportunity, "o", ("touchpoint_id",), "o.created_at, o.id"),
        # Python sorts them by the persona's id as text: the order of uuids in Postgres.
        emotions=_below_touchpoint(TouchpointEmotion, "e", ("touchpoint_id", "id"), "e.persona_id"),
    )
    stage = _object(
        Stage,
        "s",
        ("journey_map_id", "position"),
        touchpoints=_list(
            touchpoint,
            "touchpoints t WHERE t.workspace_id = s.workspace_id"
            " AND t.journey_map_id = s.journey_map_id AND t.stage_id = s.id",
            "t.position",
        ),
    )
    personas = _list(
        "p.persona_id",
        f"{JourneyMapPersona.__tablename__} p WHERE p.workspace_id = m.workspace_id"
        " AND p.journey_map_id = m.id",
        "p.position",
    )
    stages = _list(
        stage,
        "stages s WHERE s.workspace_id = m.workspace_id AND s.journey_map_id = m.id",
        "s.position",
    )
    fields = ", ".join(
        f"'{name}', {_value('m', JourneyMap.__table__.c[name])}" for name in MAP_FIELDS
    )
    # Built as json, stored as jsonb: one conversion of the whole document is cheaper
    # than jsonb at every level (about 3.6 against 5.9 ms for a medium map).
    return (
        f"(SELECT json_build_object({fields}, 'personas', {personas}, 'stages', {stages})::jsonb"  # noqa: S608
        " FROM journey_maps m WHERE m.workspace_id = :workspace_id AND m.id = :map_id)"
    )


DOCUMENT = _document()
_READ = text(f"SELECT {DOCUMENT}").columns(document=JSONB)
_INSERT = text(
    f"INSERT INTO {JourneyMapRevision.__tablename__}"  # noqa: S608
    " (workspace_id, id, journey_map_id, version, action, snapshot, created_at, created_by)"
    f" VALUES (:workspace_id, :id, :map_id, :version, :action, {DOCUMENT},"
    " :created_at, :created_by)"
)


async def read(session: AsyncSession, workspace_id: UUID, map_id: UUID) -> dict[str, Any]:
    """The map's document as it is now in this transaction."""
    found = await session.scalar(_READ, {"workspace_id": workspace_id, "map_id": map_id})
    if found is None:
        raise LookupError(f"no journey map {map_id}")
    return dict(found)


async def insert_revision(
    session: AsyncSession,
    *,
    revision_id: UUID,
    workspace_id: UUID,
    map_id: UUID,
    version: int,
    action: str,
    created_at: datetime,
    created_by: UUID | None,
) -> None:
    """Store the map's document as it is now as its revision ``version``."""
    # A Core write: the check the ORM's before_flush makes for the writes it knows.
    require_bound(session, workspace_id, "JourneyMapRevision")
    await session.execute(
        _INSERT,
        {
            "id": revision_id,
            "workspace_id": workspace_id,
            "map_id": map_id,
            "version": version,
            "action": action,
            "created_at": created_at,
            "created_by": created_by,
        },
    )
