"""Taking feedback in: validated item by item, idempotent, attached to its touchpoint.

Every door (GraphQL, HTTP ingestion, file imports) goes through ``submit``. An item
is accepted, a duplicate (its source and external id are already in the workspace,
or earlier in the same batch: the first one wins), or rejected with located errors.
Good items are kept unless the caller asks for all or nothing. Feedback that names no
touchpoint but carries a match key (event name, URL, survey id) attaches by itself to
the one touchpoint of a current-state map that lists the key; when several do, it
stays unattached rather than guess.

A batch is written with one statement, ``INSERT … ON CONFLICT DO NOTHING`` (on
Postgres ``INSERT … SELECT … FROM unnest(…)``, one value a column), so that what is
already stored, or was stored a moment ago by a concurrent request, comes back as a
duplicate instead of an error. Only when fewer rows went in than were sent are the
stored rows read, by the unique index; the ones carrying this batch's ids are its own.
The ``Feedback`` objects a caller may want (GraphQL answers with them) are only built
when asked for.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, TypeVar, cast
from uuid import UUID

import orjson
from sqlalchemy import Table, and_, bindparam, func, or_, select, text, true
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, paginate
from backend.db.scoping import require_bound
from backend.db.types import utcnow
from backend.errors import DomainError, ValidationFailed
from backend.feedback import placement
from backend.models import Feedback
from backend.outbox import emit as outbox
from backend.validation import (
    MAX_LIST_ITEMS,
    bounded_int,
    instant,
    optional_text,
    required_text,
    text_list,
)
from backend.vocabulary.feedback import MEASURE_RANGES, FeedbackSource, MeasureKind
from backend.vocabulary.journeys import Channel
from backend.vocabulary.roles import WorkspaceRole

MAX_BATCH = 1000
MAX_TAGS = MAX_LIST_ITEMS
E = TypeVar("E", bound=StrEnum)
MAX_TEXT = 20_000


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Unreadable:
    """An item the API layer could not even read (a malformed id): rejected as such."""

    error: DomainError


class _Kept:
    """A feedback row as written (or as found stored): its column values, and the
    ``Feedback`` object built from them only when a caller asks (GraphQL shows it;
    ingestion and imports only count). A new row's id is text until then."""

    __slots__ = ("_feedback", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self._feedback: Feedback | None = None

    @property
    def id(self) -> UUID:
        found = self.values["id"]
        if isinstance(found, str):
            found = self.values["id"] = UUID(found)
        return cast(UUID, found)

    @property
    def id_text(self) -> str:
        return str(self.values["id"])

    @property
    def feedback(self) -> Feedback:
        if self._feedback is None:
            self._feedback = Feedback(**{**self.values, "id": self.id})
        return self._feedback


@dataclass(slots=True)
class ItemResult:
    index: int
    status: Status
    errors: list[DomainError] = field(default_factory=list)
    kept: _Kept | None = field(default=None, repr=False)

    @property
    def feedback(self) -> Feedback | None:
        """What was accepted, or for a duplicate what was kept the first time."""
        return self.kept.feedback if self.kept is not None else None

    @property
    def feedback_id(self) -> UUID | None:
        return self.kept.id if self.kept is not None else None


@dataclass(frozen=True)
class BatchResult:
    items: list[ItemResult]

    def count(self, status: Status) -> int:
        return self._counts.get(status, 0)

    @cached_property
    def _counts(self) -> Counter[Status]:
        return Counter(item.status for item in self.items)


def _at(prefix: str, error: DomainError) -> DomainError:
    error.field = f"{prefix}.{error.field}" if error.field else prefix
    return error


def _members(kind: type[E]) -> tuple[dict[Any, E], str]:
    return {member.value: member for member in kind}, ", ".join(m.value for m in kind)


_SOURCES = _members(FeedbackSource)
_MEASURES = _members(MeasureKind)
_CHANNELS = _members(Channel)


def _member(kind: tuple[dict[Any, E], str], value: Any, field: str) -> E:
    """``value`` as one of an enum's members (a member itself, or its value)."""
    try:
        return kind[0][value]
    except (KeyError, TypeError):
        raise ValidationFailed(f"Must be one of {kind[1]}.", field=field) from None


def _optional(value: str | None, field: str, max_length: int) -> str:
    # Absent is the common case: the same answer optional_text gives, without the work.
    return optional_text(value, field=field, max_length=max_length) if value else ""


def _clean(item: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One item's values, checked; errors name the item's field (camelCase).

    The checks run in this order, so an item with several problems reports the same
    first one whatever the door.
    """
    measure = item.get("measure")
    if measure is not None:
        measure = _member(_MEASURES, measure, "measure")
    value = item.get("measure_value")
    if (measure is None) != (value is None):
        raise ValidationFailed(
            "A measure and its value go together.",
            field="measureValue" if value is None else "measure",
        )
    if measure is not None:
        low, high = MEASURE_RANGES[measure]
        bounded_int(value, field="measureValue", low=low, high=high)
    text_ = _optional(item.get("text"), "text", MAX_TEXT)
    if measure is None and not text_:
        raise ValidationFailed("Feedback needs a measure, a text, or both.", field="text")
    occurred = item.get("occurred_at")
    if occurred is None:
        occurred = now
    else:
        # In UTC: Postgres is sent the time as text, which must be one it can hold.
        occurred = instant(occurred, field="occurredAt")
        if occurred > now:
            raise ValidationFailed("Feedback cannot come from the future.", field="occurredAt")
    source = _member(_SOURCES, item["source"], "source")
    external_id = required_text(item["external_id"], field="externalId", max_length=200)
    channel = item.get("channel")
    tags = item.get("tags")
    return {
        "source": source,
        "external_id": external_id,
        "channel": _member(_CHANNELS, channel, "channel") if channel else None,
        "measure": measure,
        "measure_value": value,
        "text": text_,
        "tags": text_list(tags, field="tags", max_items=MAX_TAGS, max_length=100) if tags else [],
        "customer_ref": _optional(item.get("customer_ref"), "customerRef", 200) or None,
        "event_name": _optional(item.get("event_name"), "eventName", 500) or None,
        "url": _optional(item.get("url"), "url", 2000) or None,
        "survey_id": _optional(item.get("survey_id"), "surveyId", 500) or None,
        "occurred_at": occurred,
        "journey_map_id": item.get("journey_map_id"),
        "stage_id": item.get("stage_id"),
        "touchpoint_id": item.get("touchpoint_id"),
        "persona_id": item.get("persona_id"),
    }


# Postgres: the batch as one value per column, unnested into one INSERT: a handful of
# parameters whatever the batch size, one prepared statement for every batch.
#
# The driver encodes an array parameter element by element, at some 0.5 µs each (1.5 µs
# for a time): that was a third of the insert's time. So text columns travel as one
# string each, the values joined by U+001F (a control character no checked value may
# hold; '' stands for null where a value is never empty) and split again by
# string_to_array; times as ISO 8601 text; the item's links (map, stage, touchpoint,
# persona: few distinct ones in a batch) as one small array each, which rows point into.
# One row with an empty text splits into no element at all, hence the coalesce. What
# went in is counted, not returned: ids are made here, see _new_ids.
_PG_INSERT = text(
    """
    INSERT INTO feedback (
        workspace_id, received_at, id, source, external_id, channel, journey_map_id,
        stage_id, touchpoint_id, persona_id, measure, measure_value, text, tags,
        customer_ref, event_name, url, survey_id, occurred_at)
    SELECT CAST(:workspace_id AS uuid), CAST(:received_at AS timestamptz), r.id,
           r.source, r.external_id, r.channel,
           (CAST(:journey_map_ids AS uuid[]))[r.place],
           (CAST(:stage_ids AS uuid[]))[r.place],
           (CAST(:touchpoint_ids AS uuid[]))[r.place],
           (CAST(:persona_ids AS uuid[]))[r.place],
           r.measure, r.measure_value, coalesce(r.body, ''), CAST(r.tags AS jsonb),
           r.customer_ref, r.event_name, r.url, r.survey_id, r.occurred_at
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
        CAST(string_to_array(:occurred_at, E'\\x1f') AS timestamptz[])
    ) AS r(id, source, external_id, channel, place, measure, measure_value, body, tags,
           customer_ref, event_name, url, survey_id, occurred_at)
    ON CONFLICT (workspace_id, source, external_id) DO NOTHING
    """
)
_SEPARATOR = "\x1f"
_PG_JOINED = ("id", "source", "external_id", "text")  # never null
_PG_JOINED_OR_NULL = ("channel", "measure", "customer_ref", "event_name", "url", "survey_id")
_LINKS = ("journey_map_id", "stage_id", "touchpoint_id", "persona_id")
_TABLE = cast(Table, Feedback.__table__)
_Key = tuple[FeedbackSource, str]
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _new_ids(count: int, now: datetime) -> list[str]:
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


def _pg_parameters(
    workspace_id: UUID, now: datetime, values: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``_PG_INSERT``'s parameters for these rows."""
    join = _SEPARATOR.join
    places: dict[tuple[Any, ...], str] = {}
    for v in values:
        links = (v["journey_map_id"], v["stage_id"], v["touchpoint_id"], v["persona_id"])
        if links not in places:
            places[links] = str(len(places) + 1)  # Postgres arrays count from 1
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "received_at": now,
        "place": join(
            [
                places[(v["journey_map_id"], v["stage_id"], v["touchpoint_id"], v["persona_id"])]
                for v in values
            ]
        ),
        "measure_value": join(
            [str(v["measure_value"]) if v["measure_value"] is not None else "" for v in values]
        ),
        "tags": join([orjson.dumps(v["tags"]).decode() if v["tags"] else "[]" for v in values]),
        "occurred_at": join([v["occurred_at"].isoformat() for v in values]),
    }
    for n, name in enumerate(_LINKS):
        params[f"{name}s"] = [links[n] for links in places]
    for name in _PG_JOINED:
        params[name] = join([str(v[name]) for v in values])
    for name in _PG_JOINED_OR_NULL:
        params[name] = join([v[name] or "" for v in values])
    return params


async def _insert(
    session: AsyncSession, workspace_id: UUID, rows: Sequence[_Kept], now: datetime
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


async def _stored(
    session: AsyncSession, workspace_id: UUID, keys: Iterable[_Key]
) -> dict[_Key, _Kept]:
    """The stored rows with these sources and external ids, each looked up by the unique
    index (on Postgres a join with the keys, which holds whatever the planner believes of
    the table: an ``IN`` list or ``OR`` of them may be planned as a scan of the whole
    workspace, in particular with no statistics gathered)."""
    wanted = list(keys)
    columns = [getattr(Feedback, c.key) for c in _TABLE.columns]
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
        values = dict(row)
        found[(values["source"], values["external_id"])] = _Kept(values)
    return found


async def submit(
    session: AsyncSession,
    access: Access,
    workspace_id: UUID,
    items: Sequence[Mapping[str, Any] | Unreadable],
    *,
    all_or_nothing: bool = False,
    locate: Callable[[int], str] = lambda index: f"items[{index}]",
    in_turn: Callable[[], Awaitable[None]] | None = None,
    max_items: int = MAX_BATCH,
) -> BatchResult:
    """Take in a batch; ``locate`` names where item ``index`` is in the caller's input.

    ``in_turn`` is awaited once the batch's rows are written and before its audit and
    outbox events are appended, which lock the workspace's chain until the transaction
    ends: a caller with several batches in flight (the file import) waits there for the
    batch before to commit, so that they commit in order and never wait on each other
    the other way round.

    ``max_items`` is ``MAX_BATCH`` for what comes over the network (HTTP, GraphQL); the
    file import, the system reading a local file, sends bigger chunks.
    """
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspaceId")
    if not items:
        raise ValidationFailed("Send at least one item.", field="items")
    if len(items) > max_items:
        raise ValidationFailed(f"At most {max_items} items at once.", field="items")
    require_bound(session, workspace_id, "Feedback")
    placing = await placement.load(
        session,
        workspace_id,
        (item.get("persona_id") for item in items if not isinstance(item, Unreadable)),
    )
    now = utcnow()
    results: list[ItemResult] = []
    first: dict[_Key, _Kept] = {}  # the first item of each key in the batch
    rejected: list[DomainError] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, Unreadable):
                raise item.error
            values = _clean(item, now)
            placing.place(values)
        except DomainError as error:
            rejected.append(_at(locate(index), error))
            results.append(ItemResult(index, Status.REJECTED, [rejected[-1]]))
            continue
        key = (values["source"], values["external_id"])
        kept = first.get(key)
        if kept is not None:
            results.append(ItemResult(index, Status.DUPLICATE, [], kept))
            continue
        values.update(workspace_id=workspace_id, sentiment=None, received_at=now)
        first[key] = kept = _Kept(values)
        results.append(ItemResult(index, Status.ACCEPTED, [], kept))
    if all_or_nothing and rejected:
        raise rejected[0]  # the caller's payload lists the first; nothing is written
    fresh = list(first.values())
    for kept, new_id in zip(fresh, _new_ids(len(fresh), now), strict=True):
        kept.values["id"] = new_id
    if await _insert(session, workspace_id, fresh, now) < len(fresh):
        # Some were stored before (or by a concurrent batch just now): what was kept
        # then stays. The stored rows that carry an id of this batch are this batch's.
        stored = await _stored(session, workspace_id, first)
        replaced: dict[int, _Kept] = {}
        for key, kept in first.items():
            found = stored.get(key)
            if found is None:
                raise RuntimeError(f"feedback {key} was neither inserted nor found")
            if found.id != kept.id:
                replaced[id(kept)] = found
        for result in results:
            if result.kept is not None and id(result.kept) in replaced:
                result.status = Status.DUPLICATE
                result.kept = replaced[id(result.kept)]
    if in_turn is not None:
        await in_turn()
    accepted = [r.kept for r in results if r.status == Status.ACCEPTED and r.kept is not None]
    batch = BatchResult(results)
    single = len(items) == 1 and accepted
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="feedback.submit",
        # One item names itself; a batch is the workspace's.
        subject_type="Feedback" if single else "FeedbackBatch",
        subject_id=accepted[0].id if single else workspace_id,
        changes=changes_of(
            {},
            {
                "accepted": len(accepted),
                "duplicates": batch.count(Status.DUPLICATE),
                "rejected": len(rejected),
            },
        ),
    )
    if accepted:
        await outbox.emit(
            session,
            workspace_id,
            "feedback.received",
            {
                "feedback_ids": [k.id_text for k in accepted],
                "touchpoint_ids": sorted(
                    str(t) for t in {k.values["touchpoint_id"] for k in accepted} if t
                ),
            },
        )
    return batch


async def feedback_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    touchpoint_id: UUID | None,
    source: FeedbackSource | None,
    first: int | None,
    after: str | None,
) -> Page[Feedback]:
    statement = select(Feedback).where(Feedback.workspace_id == workspace_id)
    if touchpoint_id is not None:
        statement = statement.where(Feedback.touchpoint_id == touchpoint_id)
    if source is not None:
        statement = statement.where(Feedback.source == source)
    return await paginate(
        session,
        statement,
        keys=[Feedback.received_at, Feedback.id],
        first=first,
        after=after,
        descending=True,
    )
