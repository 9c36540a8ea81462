"""Writing a batch of feedback rows in one statement, and finding the stored rows of
the ones that were there already.

A batch is written with one statement, ``INSERT … ON CONFLICT DO NOTHING`` (on
Postgres ``INSERT … SELECT … FROM unnest(…)``, one value a column), so that what is
already stored, or was stored a moment ago by a concurrent request, comes back as a
duplicate instead of an error. Only when fewer rows went in than were sent are the
stored rows read, by the unique index.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import orjson
from sqlalchemy import Select, Table, and_, bindparam, func, or_, select, text, true
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.feedback.results import FeedbackRow, Kept
from backend.models import Feedback
from backend.vocabulary.feedback import FeedbackSource

# A feedback item's identity in its workspace: the unique index.
Key = tuple[FeedbackSource, str]

# Postgres: the batch as one value per column, unnested into one INSERT: a handful of
# parameters whatever the batch size, one prepared statement for every batch.
#
# The driver encodes an array parameter element by element, at some 0.5 µs each (1.5 µs
# for a time): that was a third of the insert's time. So text columns travel as one
# string each, the values joined by U+001F (a control character no checked value may
# hold; '' stands for null where a value is never empty) and split again by
# string_to_array; times and JSON lists as text; the item's links (map, stage,
# touchpoint, persona, survey definition: few distinct ones in a batch) as one small
# array each, which rows point into.
# One row with an empty text splits into no element at all, hence the coalesce. What
# went in is counted, not returned: ids are made here, see new_ids.
_PG_INSERT = text(
    """
    INSERT INTO feedback (
        workspace_id, received_at, id, source, external_id, channel, journey_map_id,
        stage_id, touchpoint_id, persona_id, survey_definition_id, measure, measure_value,
        text, tags, customer_ref, event_name, url, survey_id, occurred_at,
        sentiment_status, language, placement, placement_candidates)
    SELECT CAST(:workspace_id AS uuid), CAST(:received_at AS timestamptz), r.id,
           r.source, r.external_id, r.channel,
           (CAST(:journey_map_ids AS uuid[]))[r.place],
           (CAST(:stage_ids AS uuid[]))[r.place],
           (CAST(:touchpoint_ids AS uuid[]))[r.place],
           (CAST(:persona_ids AS uuid[]))[r.place],
           (CAST(:survey_definition_ids AS uuid[]))[r.place],
           r.measure, r.measure_value, coalesce(r.body, ''), CAST(r.tags AS jsonb),
           r.customer_ref, r.event_name, r.url, r.survey_id, r.occurred_at,
           r.sentiment_status, r.language, r.placement, CAST(r.candidates AS jsonb)
    FROM unnest(
        CAST(string_to_array(:id, E'\\x1f') AS uuid[]),
        string_to_array(:source, E'\\x1f'),
        string_to_array(:external_id, E'\\x1f'),
        string_to_array(:channel, E'\\x1f', ''),
        CAST(string_to_array(:place, E'\\x1f') AS int[]),
        string_to_array(:measure, E'\\x1f', ''),
        CAST(string_to_array(:measure_value, E'\\x1f', '') AS smallint[]),
        string_to_array(:text, E'\\x1f'),
        string_to_array(:tags, E'\\x1f'),
        string_to_array(:customer_ref, E'\\x1f', ''),
        string_to_array(:event_name, E'\\x1f', ''),
        string_to_array(:url, E'\\x1f', ''),
        string_to_array(:survey_id, E'\\x1f', ''),
        CAST(string_to_array(:occurred_at, E'\\x1f') AS timestamptz[]),
        string_to_array(:sentiment_status, E'\\x1f'),
        string_to_array(:language, E'\\x1f', ''),
        string_to_array(:placement, E'\\x1f'),
        string_to_array(:placement_candidates, E'\\x1f')
    ) AS r(id, source, external_id, channel, place, measure, measure_value, body, tags,
           customer_ref, event_name, url, survey_id, occurred_at, sentiment_status,
           language, placement, candidates)
    ON CONFLICT (workspace_id, source, external_id) DO NOTHING
    """
)
_SEPARATOR = "\x1f"
_PG_JOINED = ("id", "source", "external_id", "text", "sentiment_status", "placement")  # never null
_PG_JOINED_OR_NULL = (
    "channel",
    "measure",
    "customer_ref",
    "event_name",
    "url",
    "survey_id",
    "language",
)
_LINKS = ("journey_map_id", "stage_id", "touchpoint_id", "persona_id", "survey_definition_id")
_TABLE = cast(Table, Feedback.__table__)
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_Links = tuple[UUID | None, UUID | None, UUID | None, UUID | None, UUID | None]


def new_ids(count: int, now: datetime) -> list[str]:
    """``count`` new ids (text), time-ordered: UUIDv7 (RFC 9562), the time in milliseconds
    and then 74 random bits. A batch's ids sort together, so its rows land at the end
    of the primary key index rather than on as many random pages of it (what random ids
    do once the table outgrows memory). Made as text from one draw of random bytes: a
    fraction of what ``uuid4()`` costs apiece."""
    millis = f"{int(now.timestamp() * 1000):012x}"
    head = f"{millis[:8]}-{millis[8:]}-7"
    bits = os.urandom(10 * count).hex()  # 20 hex digits an id, 19 of them used
    return [
        f"{head}{bits[i : i + 3]}-{_VARIANT[bits[i + 3]]}{bits[i + 4 : i + 7]}-"
        f"{bits[i + 7 : i + 19]}"
        for i in range(0, 20 * count, 20)
    ]


def _links(v: FeedbackRow) -> _Links:
    return (
        v["journey_map_id"],
        v["stage_id"],
        v["touchpoint_id"],
        v["persona_id"],
        v["survey_definition_id"],
    )


def _pg_parameters(
    workspace_id: UUID, now: datetime, values: Sequence[FeedbackRow]
) -> dict[str, Any]:
    """``_PG_INSERT``'s parameters for these rows."""
    join = _SEPARATOR.join
    places: dict[_Links, str] = {}
    for v in values:
        links = _links(v)
        if links not in places:
            places[links] = str(len(places) + 1)  # Postgres arrays count from 1
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "received_at": now,
        "place": join([places[_links(v)] for v in values]),
        "measure_value": join(
            [str(v["measure_value"]) if v["measure_value"] is not None else "" for v in values]
        ),
        "tags": join([orjson.dumps(v["tags"]).decode() if v["tags"] else "[]" for v in values]),
        "placement_candidates": join(
            [
                orjson.dumps(v["placement_candidates"]).decode()
                if v["placement_candidates"]
                else "[]"
                for v in values
            ]
        ),
        "occurred_at": join([v["occurred_at"].isoformat() for v in values]),
    }
    for n, name in enumerate(_LINKS):
        params[f"{name}s"] = [links[n] for links in places]
    for name in _PG_JOINED:
        params[name] = join([str(v[name]) for v in values])  # type: ignore[literal-required]
    for name in _PG_JOINED_OR_NULL:
        params[name] = join([v[name] or "" for v in values])  # type: ignore[literal-required]
    return params


async def insert_new(
    session: AsyncSession, workspace_id: UUID, rows: Sequence[Kept], now: datetime
) -> int:
    """Write the rows whose source and external id are not stored yet, under the ids
    they carry; how many went in."""
    if not rows:
        return 0
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        params = _pg_parameters(workspace_id, now, [row.values for row in rows])
        return int((await connection.execute(_PG_INSERT, params)).rowcount)
    statement = sqlite.insert(_TABLE).on_conflict_do_nothing(
        index_elements=["workspace_id", "source", "external_id"]
    )
    written = [{**row.values, "id": row.id} for row in rows]
    return int((await connection.execute(statement, written)).rowcount)


async def stored(session: AsyncSession, workspace_id: UUID, keys: Iterable[Key]) -> dict[Key, Kept]:
    """The stored rows with these sources and external ids, each looked up by the unique
    index (on Postgres a join with the keys, which holds whatever the planner believes of
    the table: an ``IN`` list or ``OR`` of them may be planned as a scan of the whole
    workspace, in particular with no statistics gathered)."""
    wanted = list(keys)
    columns = [getattr(Feedback, c.key) for c in _TABLE.columns]
    statement: Select[Any]
    if session.get_bind().dialect.name == "postgresql":
        join = _SEPARATOR.join
        sent = (
            func.unnest(
                func.string_to_array(
                    bindparam("sources", join(str(s) for s, _ in wanted)), _SEPARATOR
                ),
                func.string_to_array(
                    bindparam("external_ids", join(e for _, e in wanted)), _SEPARATOR
                ),
            )
            .table_valued("source", "external_id")
            .render_derived(name="sent")
        )
        # LATERAL … LIMIT 1: one lookup a key, which the planner cannot turn into a join
        # over the workspace's rows however few it believes there are.
        one = (
            select(*columns)
            .where(
                Feedback.workspace_id == workspace_id,
                Feedback.source == sent.c.source,
                Feedback.external_id == sent.c.external_id,
            )
            .limit(1)
            .lateral("stored")
        )
        statement = select(one).select_from(sent).join(one, true())
    else:
        by_source: dict[FeedbackSource, list[str]] = {}
        for source, external_id in wanted:
            by_source.setdefault(source, []).append(external_id)
        statement = select(*columns).where(
            Feedback.workspace_id == workspace_id,
            or_(
                *(
                    and_(Feedback.source == source, Feedback.external_id.in_(external_ids))
                    for source, external_ids in by_source.items()
                )
            ),
        )
    found = {}
    for row in (await session.execute(statement)).mappings():
        values = cast(FeedbackRow, dict(row))
        found[(values["source"], values["external_id"])] = Kept(values)
    return found
