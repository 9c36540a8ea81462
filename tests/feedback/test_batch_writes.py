"""How a batch is written (one statement a batch, see backend/feedback/repository/batch.py): what
goes in comes out unchanged, links land on the right rows, concurrent senders of the same
items store each once, ids are time-ordered, and a CSV row reads as its JSON twin."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.errors import DomainError
from backend.feedback import service, wire
from backend.feedback.commands import FeedbackItem, SubmitFeedback, Unreadable
from backend.feedback.importer import InputFile
from backend.feedback.repository import new_ids
from backend.models import Feedback, Touchpoint
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant
from tests.health.worlds import build_world

CREATE = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Batch writes"}) { token } }"""
PATH = "/ingest/v1/feedback"


async def _token(gql: GraphQLClient, tenant: Tenant) -> str:
    body = await gql(CREATE, {"ws": tenant.ws_gid(0)}, token=tenant.token)
    return str(body["data"]["createIngestionToken"]["token"])


async def _post(client: httpx.AsyncClient, token: str, items: list[dict[str, Any]]) -> Any:
    answer = await client.post(PATH, json=items, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _stored(owner: AsyncEngine) -> dict[str, Any]:
    async with owner.connect() as conn:
        rows = (await conn.execute(select(Feedback))).all()
    return {row.external_id: row for row in rows}


async def test_values_come_back_exactly_as_sent(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    token = await _token(gql, tenant_a)
    at = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    texts = {
        "quotes": 'She said "fine", then \\ left; tab\there',
        "lines": "first line\nsecond line\r\nthird",
        "unicode": "Très bien 👍 — 很好",
        "separator-like": "a | b , c ; d \u241f e",
        "long": "x" * 20_000,
    }
    items = [
        {
            "source": "REVIEW",
            "externalId": f"t-{name}",
            "text": value,
            "tags": ["a b", "ünï", 'q"uote'],
            "customerRef": f"c-{name}",
            "occurredAt": "2024-03-01T05:29:59.123456+05:30",
            "url": "https://shop.example/p?a=1&b=2",
            "surveyId": "s-1",
            "eventName": "e.1",
            "channel": "WEB",
        }
        for name, value in texts.items()
    ]
    items.append(
        {"source": "SURVEY", "externalId": "measure-only", "measure": "NPS", "measureValue": 0}
    )
    assert (await _post(client, token, items))["accepted"] == len(items)
    stored = await _stored(inspector_engine)
    for name, value in texts.items():
        row = stored[f"t-{name}"]
        assert (row.text, row.tags, row.customer_ref) == (
            value,
            ["a b", "ünï", 'q"uote'],
            f"c-{name}",
        )
        assert (row.url, row.survey_id, row.event_name, row.channel) == (
            "https://shop.example/p?a=1&b=2",
            "s-1",
            "e.1",
            "WEB",
        )
        assert row.occurred_at == at
        assert (row.measure, row.measure_value) == (None, None)
    only = stored["measure-only"]
    assert (only.text, only.tags, only.measure, only.measure_value) == ("", [], "NPS", 0)
    assert (only.customer_ref, only.url, only.channel) == (None, None, None)
    # A batch of one with an empty text: the one case a joined column splits into nothing.
    single = [{"source": "SURVEY", "externalId": "alone", "measure": "CSAT", "measureValue": 3}]
    assert (await _post(client, token, single))["accepted"] == 1
    assert (await _stored(inspector_engine))["alone"].text == ""


async def test_the_separator_is_refused_as_input(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """The batch insert joins text columns with U+001F: no value may carry it."""
    token = await _token(gql, tenant_a)
    items = [
        {"source": "SURVEY", "externalId": "ok", "text": "fine"},
        {"source": "SURVEY", "externalId": "a\x1fb", "text": "fine"},
        {"source": "SURVEY", "externalId": "t", "text": "a\x1fb"},
        {"source": "SURVEY", "externalId": "g", "text": "fine", "tags": ["a\x1fb"]},
        {"source": "SURVEY", "externalId": "c", "text": "fine", "customerRef": "\x1f"},
    ]
    answer = await _post(client, token, items)
    assert (answer["accepted"], answer["rejected"]) == (1, 4)
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "externalId"),
        (2, "text"),
        (3, "tags[0]"),
        (4, "customerRef"),
    ]
    assert set(await _stored(inspector_engine)) == {"ok"}


async def test_each_row_gets_its_own_links_in_a_mixed_batch(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    database: Database,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    world = await build_world(
        database, tenant_a.workspace_ids[0], stages=2, touchpoints_per_stage=2
    )
    events = {f"step.{n}": touchpoint for n, touchpoint in enumerate(world.touchpoint_ids)}
    async with database.transaction(world.binding(), write=True) as session:
        for name, touchpoint in events.items():
            await session.execute(
                update(Touchpoint)
                .where(Touchpoint.id == touchpoint)
                .values(match_keys={"event_names": [name]})
            )
    token = await _token(gql, tenant_a)
    names = [*events, "unknown", None]
    items = []
    for n in range(60):
        item: dict[str, Any] = {"source": "ANALYTICS", "externalId": f"m{n}", "measure": "CSAT"}
        item["measureValue"] = 1 + n % 5
        if names[n % len(names)] is not None:
            item["eventName"] = names[n % len(names)]
        items.append(item)
    assert (await _post(client, token, items))["accepted"] == 60
    stored = await _stored(inspector_engine)
    stages = {t: world.stage_ids[i // 2] for i, t in enumerate(world.touchpoint_ids)}
    for n, item in enumerate(items):
        row = stored[f"m{n}"]
        touchpoint = events.get(item.get("eventName") or "")
        assert row.touchpoint_id == touchpoint, n
        assert row.stage_id == (stages[touchpoint] if touchpoint else None), n
        assert row.journey_map_id == (world.map_id if touchpoint else None), n
        assert row.measure_value == 1 + n % 5


async def test_concurrent_senders_of_the_same_items_store_each_once(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    token = await _token(gql, tenant_a)
    items = [
        {"source": "SURVEY", "externalId": f"c{n}", "measure": "NPS", "measureValue": n % 11}
        for n in range(200)
    ]
    answers = await asyncio.gather(*(_post(client, token, items) for _ in range(4)))
    assert sum(a["accepted"] for a in answers) == 200
    assert sum(a["duplicates"] for a in answers) == 600
    assert all(a["rejected"] == 0 for a in answers)
    assert set(await _stored(inspector_engine)) == {f"c{n}" for n in range(200)}


async def test_a_duplicate_is_what_was_kept_the_first_time(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """The service answers a duplicate with the stored row, ids and times included."""
    from backend.audit.actor import Actor
    from backend.audit.recorder import bind_actor
    from backend.authz.access import ingestion_access

    workspace = tenant_a.workspace_ids[0]
    access = ingestion_access(uuid.uuid4(), workspace)

    def item(external_id: str, value: int) -> FeedbackItem:
        return FeedbackItem(
            source="SURVEY",
            external_id=external_id,
            measure="NPS",
            measure_value=value,
        )

    async def submit(items: list[FeedbackItem]) -> service.BatchResult:
        async with database.transaction(access.binding(), write=True) as session:
            bind_actor(session, Actor.system())
            return await service.submit(session, access, SubmitFeedback(workspace, items))

    first = await submit([item("d1", 9), item("d2", 8)])
    again = await submit([item("d3", 7), item("d1", 1), item("d3", 6)])
    assert [r.status for r in again.items] == [
        service.Status.ACCEPTED,
        service.Status.DUPLICATE,
        service.Status.DUPLICATE,
    ]
    kept = first.items[0].feedback
    duplicate = again.items[1].feedback
    assert kept is not None
    assert duplicate is not None
    assert (duplicate.id, duplicate.measure_value, duplicate.received_at) == (
        kept.id,
        9,
        kept.received_at,
    )
    assert again.items[2].feedback is again.items[0].feedback  # the first in the batch wins
    stored = await _stored(inspector_engine)
    assert {k: (r.id, r.measure_value) for k, r in stored.items()} == {
        "d1": (kept.id, 9),
        "d2": (first.items[1].feedback_id, 8),
        "d3": (again.items[0].feedback_id, 7),
    }


def test_new_ids_are_uuid7_and_sort_by_time() -> None:
    now = datetime.now(UTC)
    earlier = [uuid.UUID(i) for i in new_ids(500, now)]
    later = [uuid.UUID(i) for i in new_ids(500, now + timedelta(milliseconds=2))]
    assert len(set(earlier + later)) == 1000
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in earlier + later)
    assert max(earlier) < min(later)
    assert int(earlier[0].hex[:12], 16) == int(now.timestamp() * 1000)


def _error(item: Any) -> tuple[str | None, str]:
    assert isinstance(item, Unreadable)
    error: DomainError = item.error
    return error.field, error.message


def test_a_csv_row_reads_as_its_json_twin(tmp_path: Path) -> None:
    """The import reads CSV cells into items itself (``wire.read_typed``): each row
    must come out as ``read_item`` makes the same row sent as JSON."""
    header = ["source", "externalId", "measure", "measureValue", "text", "tags", "occurredAt"]
    rows: list[tuple[list[str], dict[str, Any]]] = [
        (
            ["SURVEY", "a", "NPS", "9", "  spaced  ", " x | y ||z ", "2024-01-01T10:00:00+02:00"],
            {
                "source": "SURVEY",
                "externalId": "a",
                "measure": "NPS",
                "measureValue": 9,
                "text": "  spaced  ",
                "tags": ["x", "y", "z"],
                "occurredAt": "2024-01-01T10:00:00+02:00",
            },
        ),
        (
            ["REVIEW", "b", "", " +3 ", "", "", ""],
            {"source": "REVIEW", "externalId": "b", "measureValue": 3},
        ),
        (["OTHER", " ", "", "", "t", "", ""], {"source": "OTHER", "text": "t"}),  # blank id: absent
        (
            ["SURVEY", "c", "", "", "t", "", "yesterday"],
            {"source": "SURVEY", "externalId": "c", "text": "t", "occurredAt": "yesterday"},
        ),
        (
            ["SURVEY", "d", "", "", "t", "", "2024-01-01T10:00:00"],
            {
                "source": "SURVEY",
                "externalId": "d",
                "text": "t",
                "occurredAt": "2024-01-01T10:00:00",
            },
        ),
        (["", "e", "", "", "t", "", ""], {"externalId": "e", "text": "t"}),
    ]
    file = tmp_path / "twins.csv"
    lines = [",".join(header)] + [",".join(cells) for cells, _ in rows]
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = [row.item for row in InputFile.open(file).rows()]
    assert len(read) == len(rows)
    for got, (_, twin) in zip(read, rows, strict=True):
        expected = wire.read_item(json.loads(json.dumps(twin)))
        if isinstance(expected, Unreadable):
            assert _error(got) == _error(expected)
        else:
            assert got == expected
